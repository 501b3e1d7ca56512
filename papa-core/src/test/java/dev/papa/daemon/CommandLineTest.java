package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's main, run as its own JVM ({@code java -cp <test classpath> dev.papa.Main}, the same
 * main as the runnable jar): --single-session, exit-if-idle, startup failures, unix control socket, SIGTERM.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CommandLineTest {
    @TempDir Path tmp;
    final List<Process> daemons = new ArrayList<>();
    final List<Long> pids = new ArrayList<>();
    final List<ProtocolClient> clients = new ArrayList<>();

    @AfterEach
    void cleanup() {
        clients.forEach(ProtocolClient::close);
        pids.forEach(DaemonTestBase::kill);
        for (Process p : daemons) {
            p.destroyForcibly();
            try { p.waitFor(10, TimeUnit.SECONDS); } catch (InterruptedException ignored) { }
        }
    }

    Process main(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                "dev.papa.Main"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd)
                .redirectOutput(tmp.resolve("stdout-" + daemons.size()).toFile())
                .redirectError(tmp.resolve("stderr-" + daemons.size()).toFile())
                .start();
        daemons.add(p);
        return p;
    }

    String stderr(Process p) throws IOException {
        return Files.readString(tmp.resolve("stderr-" + daemons.indexOf(p)));
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Connects as soon as the daemon listens; that connection is the first session. */
    ProtocolClient connectWhenUp(Process p, int port) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        while (true) {
            try {
                ProtocolClient c = ProtocolClient.tcp(port);
                clients.add(c);
                return c;
            } catch (IOException e) {
                if (!p.isAlive()) fail("daemon exited with " + p.exitValue() + ": " + stderr(p));
                if (System.currentTimeMillis() > deadline) fail("daemon never listened on " + port);
                Thread.sleep(50);
            }
        }
    }

    ProtocolClient connectUnixWhenUp(Process p, Path path) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        while (true) {
            try {
                ProtocolClient c = ProtocolClient.unix(path);
                clients.add(c);
                return c;
            } catch (IOException e) {
                if (!p.isAlive()) fail("daemon exited with " + p.exitValue() + ": " + stderr(p));
                if (System.currentTimeMillis() > deadline) fail("daemon never listened on " + path);
                Thread.sleep(50);
            }
        }
    }

    static void quit(ProtocolClient c) throws IOException {
        c.writeLine("quit");
        assertEquals("ok\n", c.readString(3));
        c.expectEof();
    }

    static boolean refused(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    long makeSleep(ProtocolClient c, String name) throws IOException {
        String reply = c.send("make process " + name + " /bin/sleep 60");
        assertTrue(reply.endsWith("\n> "), reply);
        long pid = DaemonTestBase.parseProcess(reply.substring(0, reply.length() - 3)).pid();
        pids.add(pid);
        return pid;
    }

    @Test
    void singleSessionServesUntilTheLastSessionCloses() throws Exception {
        int port = freePort();
        Process d = main("--single-session", "-p", String.valueOf(port));
        ProtocolClient a = connectWhenUp(d, port);
        long sleeper = makeSleep(a, "sl");
        assertEquals("\n> ", a.send("set v 1"));
        ProtocolClient b = ProtocolClient.tcp(port);
        clients.add(b);
        assertEquals("1\n> ", b.send("get v"));
        quit(b);
        assertEquals("1\n> ", a.send("get v"));
        assertTrue(d.isAlive(), "one session is still open");
        quit(a);
        assertTrue(d.waitFor(20, TimeUnit.SECONDS), "daemon exits after the last session");
        assertEquals(0, d.exitValue(), stderr(d));
        assertTrue(ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false),
                "started processes keep running");
        assertTrue(refused(port));
    }

    @Test
    void exitIfIdleExitsOnceNoOtherSessionIsOpen() throws Exception {
        int port = freePort();
        Process d = main("-p", String.valueOf(port));
        ProtocolClient a = connectWhenUp(d, port);
        ProtocolClient b = ProtocolClient.tcp(port);
        clients.add(b);
        assertEquals("\n> ", a.send("set v 1"));
        assertEquals("not idle\n> ", a.send("exit-if-idle"));
        assertEquals("\n> ", a.send("set v"));
        a.writeLine("exit-if-idle");
        assertEquals("Exiting papa!\n> ", a.readString("Exiting papa!\n> ".length()));
        a.expectEof();
        // another session is open: the daemon goes on serving it
        assertEquals("\n> ", b.send("list values"));
        assertTrue(d.isAlive());
        quit(b);
        assertTrue(d.waitFor(20, TimeUnit.SECONDS), "daemon exits when the last session closes");
        assertEquals(0, d.exitValue(), stderr(d));
    }

    @Test
    void withoutSingleSessionTheDaemonOutlivesItsSessions() throws Exception {
        int port = freePort();
        Process d = main("-p", String.valueOf(port), "-d", "--log-file", tmp.resolve("papa.log").toString());
        ProtocolClient a = connectWhenUp(d, port);
        assertEquals("\n> ", a.send("set v 1"));
        quit(a);
        ProtocolClient b = ProtocolClient.tcp(port);
        clients.add(b);
        assertEquals("1\n> ", b.send("get v"));
        quit(b);
        assertTrue(d.isAlive());
        assertTrue(Files.exists(tmp.resolve("papa.log")), "log file written");
        d.destroy(); // SIGTERM ends it cleanly
        assertTrue(d.waitFor(20, TimeUnit.SECONDS));
    }

    @Test
    void startupFailurePortInUse() throws Exception {
        try (ServerSocket held = new ServerSocket()) {
            held.bind(new InetSocketAddress("127.0.0.1", 0));
            Process d = main("-p", String.valueOf(held.getLocalPort()));
            assertTrue(d.waitFor(30, TimeUnit.SECONDS), "daemon gives up");
            assertNotEquals(0, d.exitValue());
            String err = stderr(d);
            assertEquals(1, err.strip().lines().count(), "one line on stderr: [" + err + "]");
        }
    }

    @Test
    void logFileIsNeverFollowedThroughALinkNorASpecialFile() throws Exception {
        Path target = Files.writeString(tmp.resolve("target"), "");
        Path link = Files.createSymbolicLink(tmp.resolve("papa.log"), target);
        Process d = main("-p", "0", "--log-file", link.toString());
        assertTrue(d.waitFor(30, TimeUnit.SECONDS), "daemon gives up");
        assertEquals(1, d.exitValue());
        assertEquals("papa: cannot open log file " + link + ": " + link + " is a symbolic link", stderr(d).strip());
        assertEquals("", Files.readString(target));
        Path fifo = tmp.resolve("fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> DaemonMain.openLog(fifo));
        assertEquals(fifo + " is not a regular file", e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> DaemonMain.openLog(tmp));
        assertTrue(e.getMessage().contains("Is a directory") || e.getMessage().contains("not a regular file"), e.getMessage());
        Path log = Files.writeString(tmp.resolve("real.log"), "old\n");
        try (java.io.OutputStream out = DaemonMain.openLog(log)) {
            out.write("new\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        assertEquals("old\nnew\n", Files.readString(log));
    }

    @Test
    void startupFailureBadUnixPath() throws Exception {
        Process d = main("-u", tmp.resolve("no/such/dir/papa.sock").toString());
        assertTrue(d.waitFor(30, TimeUnit.SECONDS), "daemon gives up");
        assertNotEquals(0, d.exitValue());
        String err = stderr(d);
        assertEquals(1, err.strip().lines().count(), "one line on stderr: [" + err + "]");
    }

    @Test
    void unixControlSocketAndSigterm() throws Exception {
        Path control = tmp.resolve("papa.sock");
        Process d = main("-u", control.toString());
        ProtocolClient a = connectUnixWhenUp(d, control);
        long sleeper = makeSleep(a, "sl");
        assertEquals("\n> ", a.send("set v 1"));
        quit(a);
        ProtocolClient b = ProtocolClient.unix(control);
        clients.add(b);
        assertEquals("1\n> ", b.send("get v"));
        b.close();
        d.destroy(); // SIGTERM
        assertTrue(d.waitFor(20, TimeUnit.SECONDS), "SIGTERM ends the daemon");
        assertFalse(Files.exists(control), "control socket file removed");
        assertTrue(ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false),
                "started processes keep running");
    }
}
