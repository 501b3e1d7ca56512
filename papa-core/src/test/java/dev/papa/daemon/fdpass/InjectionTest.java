package dev.papa.daemon.fdpass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.hardening.DaemonJvm;
import dev.papa.posix.Fd;
import dev.papa.posix.Sockets;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Client text reaches replies and the log escaped, one way everywhere (issue 21, item 6): an
 * adopted socket's path (from getsockname: any bytes but NUL) forged a SEVERE line in the log
 * file and extra lines in {@code list sockets}; process arguments reached {@code list processes}
 * raw (ESC, CR, U+2028, NEL).
 */
@Timeout(60)
class InjectionTest {
    @TempDir Path tmp;

    @Test
    void anAdoptedSocketsPathAndAProcesssArgumentsCannotForgeLines() throws Exception {
        Path control = tmp.resolve("papa.sock");
        Path log = tmp.resolve("papa.log");
        String forged = "2026-12-05T00:00:00Z SEVERE Daemon: event loop died";
        Path evil = tmp.resolve("x\n" + forged);
        try (DaemonJvm d = DaemonJvm.startUnix(List.of(), control, "-d", "--log-file", log.toString());
             FdClient c = FdClient.connect(control);
             Fd sock = Sockets.bindUnix(Sockets.Type.STREAM, evil.toString(), 5, 077)) {
            FdClient.Reply adopted = c.send("make socket evil adopt=1", sock.get());
            assertTrue(adopted.text().endsWith("\n> ") && adopted.fds().isEmpty(), adopted.text());
            String line = adopted.text().substring(0, adopted.text().length() - 3);
            String escapedPath = tmp + "/x\\x0a" + forged;
            assertTrue(line.startsWith("evil family=unix type=stream backlog=5 path=" + escapedPath + " fileno="), line);
            assertEquals(line, c.ok("list sockets"), "one line");
            String args = "a\u001b]0;title\u0007b\rc\u2028d\u0085e";
            String p = c.ok("make process p /bin/sh -c sleep\\ 30 " + args);
            long pid = Long.parseLong(p.replaceAll("^p pid=(\\d+) .*", "$1"));
            try {
                assertTrue(p.endsWith(" args=/bin/sh -c sleep 30 a\\x1b]0;title\\x07b\\x0dc\\u2028d\\x85e"), p);
                assertEquals(p, c.ok("list processes"));
            } finally {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            // the log: every record one line; nothing a client sent starts a line
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!Files.readString(log).contains("created process p ") && System.nanoTime() < deadline) Thread.sleep(20);
            String text = Files.readString(log);
            assertTrue(text.contains("adopted socket evil family=unix type=stream backlog=5 path=" + escapedPath), text);
            assertTrue(text.lines().noneMatch(l -> l.startsWith(forged) || l.startsWith("c") || l.startsWith("d")), text);
            assertTrue(text.chars().noneMatch(ch -> ch == 0x1b || ch == '\r' || ch == 0x2028 || ch == 0x85), "no raw control characters");
        }
    }
}
