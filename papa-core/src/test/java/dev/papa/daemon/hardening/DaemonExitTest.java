package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, item 4: at exit (SIGTERM) the daemon unlinks its control socket only; the files of
 * the unix sockets it made stay, so the children serving on them stay reachable by path.
 */
@Timeout(60)
class DaemonExitTest {
    @TempDir Path tmp;

    @Test
    void sigtermKeepsTheFilesOfMadeUnixSockets() throws Exception {
        Path control = tmp.resolve("control.sock");
        Path served = tmp.resolve("served.sock");
        Path log = tmp.resolve("daemon.log");
        Process d = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", DaemonJvm.classpath(),
                "dev.papa.Main", "-u", control.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            assertEquals(control.toString(), dev.papa.daemon.ListeningLine.where(d, log, java.time.Duration.ofSeconds(30)));
            Path server = Files.writeString(tmp.resolve("server.py"), String.join("\n",
                    "import socket, sys",
                    "s = socket.socket(fileno=int(sys.argv[1]))",
                    "c, _ = s.accept()",
                    "c.sendall(b'served after papa left')",
                    "c.close()", ""));
            long child;
            try (Conn c = Conn.unix(control)) {
                c.expectGreeting();
                String line = c.result("make socket s path=" + served);
                assertTrue(line.startsWith("s family=unix type=stream backlog=5 path=" + served), line);
                String p = c.result("make process srv /usr/bin/python3 " + server + " $(socket.s.fileno)");
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("srv pid=(\\d+) running=True .*").matcher(p);
                assertTrue(m.matches(), p);
                child = Long.parseLong(m.group(1));
            }
            try {
                assertTrue(Files.exists(served));
                assertEquals(0, new ProcessBuilder("kill", "-TERM", Long.toString(d.pid())).start().waitFor());
                assertTrue(d.waitFor(20, TimeUnit.SECONDS), "daemon did not exit: " + Files.readString(log));
                assertFalse(Files.exists(control), "the control socket is unlinked");
                assertTrue(Files.exists(served), "the made socket's file stays");
                // and leads to the socket the child still serves on
                try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
                    ch.connect(java.net.UnixDomainSocketAddress.of(served));
                    assertEquals("served after papa left", new String(
                            java.nio.channels.Channels.newInputStream(ch).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
                }
            } finally {
                ProcessHandle.of(child).ifPresent(ProcessHandle::destroyForcibly);
            }
        } finally {
            d.destroyForcibly();
        }
    }
}
