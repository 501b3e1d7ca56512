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
        return main(List.of(), List.of(), args);
    }

    /** {@code prefix... java jvmOptions... -cp ... dev.papa.Main args...} */
    Process main(List<String> prefix, List<String> jvmOptions, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
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

    Path stderrPath(Process p) {
        return tmp.resolve("stderr-" + daemons.indexOf(p));
    }

    /** The port a daemon started with {@code -p 0} reported on stderr. */
    int portOf(Process p) throws Exception {
        return ListeningLine.port(p, stderrPath(p), java.time.Duration.ofSeconds(30));
    }

    /** Connects once the daemon said it listens; that connection is the first session. */
    ProtocolClient connect(int port) throws IOException {
        ProtocolClient c = ProtocolClient.tcp(port);
        clients.add(c);
        return c;
    }

    ProtocolClient connectUnixWhenUp(Process p, Path path) throws Exception {
        assertEquals(path.toString(), ListeningLine.where(p, stderrPath(p), java.time.Duration.ofSeconds(30)));
        ProtocolClient c = ProtocolClient.unix(path);
        clients.add(c);
        return c;
    }

    /** The daemon's last line on stderr, once it has exited. */
    String lastLine(Process p) throws IOException {
        List<String> lines = stderr(p).strip().lines().toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
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
        Process d = main("--single-session", "-p", "0");
        int port = portOf(d);
        ProtocolClient a = connect(port);
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
        assertEquals("papa: stopped: the last session closed (--single-session)", lastLine(d));
        assertTrue(ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false),
                "started processes keep running");
        assertTrue(refused(port));
    }

    @Test
    void exitIfIdleExitsOnceNoOtherSessionIsOpen() throws Exception {
        Process d = main("-p", "0");
        int port = portOf(d);
        ProtocolClient a = connect(port);
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
        assertEquals("papa: stopped: exit-if-idle", lastLine(d));
    }

    @Test
    void withoutSingleSessionTheDaemonOutlivesItsSessions() throws Exception {
        Path portFile = tmp.resolve("papa.port");
        Process d = main("-p", "0", "--port-file", portFile.toString(), "-d", "--log-file", tmp.resolve("papa.log").toString());
        int port = portOf(d);
        assertEquals(port + "\n", Files.readString(portFile), "--port-file holds the same port, written before the line");
        ProtocolClient a = connect(port);
        assertEquals("\n> ", a.send("set v 1"));
        quit(a);
        ProtocolClient b = ProtocolClient.tcp(port);
        clients.add(b);
        assertEquals("1\n> ", b.send("get v"));
        quit(b);
        assertTrue(d.isAlive());
        String log = Files.readString(tmp.resolve("papa.log"));
        assertTrue(log.contains(" INFO lifecycle: listening on 127.0.0.1:" + port + "\n"), log);
        d.destroy(); // SIGTERM ends it cleanly
        assertTrue(d.waitFor(20, TimeUnit.SECONDS));
        assertEquals(128 + 15, d.exitValue(), stderr(d));
        assertEquals("papa: stopped: SIGTERM", lastLine(d));
        assertTrue(Files.readString(tmp.resolve("papa.log")).contains(" INFO lifecycle: stopped: SIGTERM\n"));
        assertFalse(Files.exists(portFile), "the port file is removed at exit");
        assertTrue(refused(port));
    }

    @Test
    void startupFailurePortInUse() throws Exception {
        try (ServerSocket held = new ServerSocket()) {
            held.bind(new InetSocketAddress("127.0.0.1", 0));
            Process d = main("-p", String.valueOf(held.getLocalPort()));
            assertTrue(d.waitFor(30, TimeUnit.SECONDS), "daemon gives up");
            assertEquals(1, d.exitValue());
            assertEquals("papa: cannot listen on 127.0.0.1:" + held.getLocalPort() + ": Address already in use\n", stderr(d));
        }
    }

    @Test
    void logFileIsNeverFollowedThroughALinkNorASpecialFile() throws Exception {
        Path target = Files.writeString(tmp.resolve("target"), "");
        Path link = Files.createSymbolicLink(tmp.resolve("papa.log"), target);
        Process d = main("-p", "0", "--log-file", link.toString());
        assertTrue(d.waitFor(30, TimeUnit.SECONDS), "daemon gives up");
        assertEquals(1, d.exitValue());
        assertEquals("papa: cannot open log file " + link + ": " + link + " is a symbolic link, or a directory on its way is one",
                stderr(d).strip());
        assertEquals("", Files.readString(target));
        // a directory on the way that is a link (a user's, swapped in): refused too, nothing made behind it
        Path real = Files.createDirectory(tmp.resolve("real"));
        Path linked = Files.createSymbolicLink(tmp.resolve("linked"), real);
        Process viaDir = main("-p", "0", "--log-file", linked.resolve("papa.log").toString());
        assertTrue(viaDir.waitFor(30, TimeUnit.SECONDS), "daemon gives up");
        assertEquals(1, viaDir.exitValue());
        assertEquals("papa: cannot open log file " + linked.resolve("papa.log") + ": " + linked.resolve("papa.log")
                + " is a symbolic link, or a directory on its way is one", stderr(viaDir).strip());
        assertFalse(Files.exists(real.resolve("papa.log")), "nothing was made behind the link");
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
        Path path = tmp.resolve("no/such/dir/papa.sock");
        Process d = main("-u", path.toString());
        assertTrue(d.waitFor(30, TimeUnit.SECONDS), "daemon gives up");
        assertEquals(1, d.exitValue());
        assertEquals("papa: cannot listen on " + path + ": No such file or directory\n", stderr(d));
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
        assertEquals(128 + 15, d.exitValue(), stderr(d));
        assertEquals("papa: stopped: SIGTERM", lastLine(d));
        assertFalse(Files.exists(control), "control socket file removed");
        assertTrue(ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false),
                "started processes keep running");
    }

    @Test
    void sigintStopsServingClosesHostedSocketsAndLeavesProcessesRunning() throws Exception {
        // A build started in the background by a shell without job control inherits SIGINT
        // ignored, and the JVM keeps an ignored SIGINT ignored: give the daemon the default.
        Process d = main(List.of("env", "--default-signal=INT"), List.of(), "-p", "0");
        int port = portOf(d);
        assertNotEquals(0, port, "-p 0 reports the port the kernel chose");
        assertEquals(1, stderr(d).lines().filter(l -> l.startsWith("papa: listening on ")).count(), stderr(d));
        ProtocolClient a = connect(port);
        int hosted = SocketsTest.portOf(a.ok("make socket web"));
        long sleeper = makeSleep(a, "sl");
        assertTrue(pidHoldsSocket(d.pid(), hosted), "the daemon holds the hosted socket while it runs");
        signal("INT", d.pid());
        assertTrue(d.waitFor(20, TimeUnit.SECONDS), "SIGINT ends the daemon");
        assertEquals(128 + 2, d.exitValue(), stderr(d));
        assertEquals("papa: stopped: SIGINT", lastLine(d));
        assertTrue(refused(port), "control port closed");
        assertTrue(refused(hosted), "hosted socket closed with the daemon");
        assertTrue(ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false),
                "started processes keep running");
    }

    @Test
    void raisesItsOpenFilesSoftLimitToTheHardLimit() throws Exception {
        // -XX:-MaxFDLimit: the JVM itself leaves the limit alone, so what is raised is the daemon's doing
        Process d = main(List.of("prlimit", "--nofile=256:2048"), List.of("-XX:-MaxFDLimit"), "-p", "0");
        connect(portOf(d));
        String limits = Files.readString(Path.of("/proc", Long.toString(d.pid()), "limits"));
        assertTrue(limits.lines().anyMatch(l -> l.matches("Max open files\\s+2048\\s+2048\\s+files\\s*")), limits);
    }

    @Test
    void portFileNeedsTcp() throws Exception {
        Process d = main("-u", tmp.resolve("p.sock").toString(), "--port-file", tmp.resolve("p.port").toString());
        assertTrue(d.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, d.exitValue());
        assertTrue(stderr(d).startsWith("papa: --port-file needs a TCP port, not --unix-socket\n"), stderr(d));
    }

    @Test
    void badBudgetSessionLimitsLookupTimeoutAndPipeSizeStopTheStart() throws Exception {
        String[][] cases = {
            {"--output-budget", "512k", "papa: invalid output budget \"512k\" (at least 1m; suffix k, m or g)\n"},
            {"--output-budget=lots", null, "papa: invalid output budget \"lots\" (at least 1m; suffix k, m or g)\n"},
            // was taken silently as no budget at all
            {"--output-budget", "99999999999999999999g", "papa: invalid output budget \"99999999999999999999g\" (more than this machine's memory, "
                    + DaemonMain.physicalMemory() + " bytes)\n"},
            {"--output-budget", "100000g", "papa: invalid output budget \"100000g\" (more than this machine's memory, "
                    + DaemonMain.physicalMemory() + " bytes)\n"},
            {"--max-sessions", "0", "papa: --max-sessions needs a positive number, not \"0\"\n"},
            {"--max-sessions-per-user", "x", "papa: --max-sessions-per-user needs a positive number, not \"x\"\n"},
            {"--lookup-timeout", "0.05", "papa: invalid --lookup-timeout \"0.05\" (seconds, 0.1 to 300)\n"},
            {"--lookup-timeout", "301", "papa: invalid --lookup-timeout \"301\" (seconds, 0.1 to 300)\n"},
            {"--lookup-timeout=1e3", null, "papa: invalid --lookup-timeout \"1e3\" (seconds, 0.1 to 300)\n"},
            {"--lookup-timeout", "soon", "papa: invalid --lookup-timeout \"soon\" (seconds, 0.1 to 300)\n"},
            {"--pipe-size", "2k", "papa: invalid --pipe-size \"2k\" (0, or 4k to 1g)\n"},
            {"--pipe-size=2g", null, "papa: invalid --pipe-size \"2g\" (0, or 4k to 1g)\n"},
        };
        for (String[] c : cases) {
            Process d = c[1] == null ? main("-p", "0", c[0]) : main("-p", "0", c[0], c[1]);
            assertTrue(d.waitFor(30, TimeUnit.SECONDS));
            assertEquals(2, d.exitValue());
            assertTrue(stderr(d).startsWith(c[2]), stderr(d));
        }
    }

    static void signal(String name, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue());
    }

    /** True when one of pid's descriptors is a TCP socket listening on 127.0.0.1:port (/proc/net/tcp). */
    static boolean pidHoldsSocket(long pid, int port) throws IOException {
        String hexPort = String.format(":%04X ", port);
        java.util.Set<String> inodes = new java.util.HashSet<>();
        for (String line : Files.readAllLines(Path.of("/proc/net/tcp"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 9 && (f[1] + " ").endsWith(hexPort) && f[3].equals("0A")) inodes.add(f[9]);
        }
        try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return fds.map(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString();
                } catch (IOException gone) {
                    return "";
                }
            }).anyMatch(t -> t.startsWith("socket:[") && inodes.contains(t.substring(8, t.length() - 1)));
        }
    }
}
