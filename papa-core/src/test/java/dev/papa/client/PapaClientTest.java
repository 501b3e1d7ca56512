package dev.papa.client;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class PapaClientTest {
    TestDaemon daemon;
    Papa papa;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemon.start();
        papa = daemon.connect();
    }

    @AfterEach
    void stop() {
        if (papa != null) {
            papa.close();
        }
        daemon.close();
    }

    // ---------------------------------------------------------------- values

    @Test
    void values() throws Exception {
        assertNull(papa.get("aack"));
        assertEquals(Map.of(), papa.listValues());
        papa.set("aack", "bar");
        papa.set("aack2", "barry");
        papa.set("bar", "aack");
        assertEquals("bar", papa.get("aack"));
        assertEquals(List.of("aack", "aack2", "bar"), List.copyOf(papa.listValues().keySet()));
        assertEquals(Map.of("aack", "bar", "aack2", "barry"), papa.listValues("aack*"));
        assertEquals(Map.of("aack2", "barry", "bar", "aack"), papa.listValues("aack2", "b*"));
        papa.set("aack", null);
        assertNull(papa.get("aack"));
        papa.removeValues("aack*");
        assertEquals(Map.of("bar", "aack"), papa.listValues());
        PapaException e = assertThrows(PapaException.class, () -> papa.removeValues("*"));
        assertTrue(e.isDaemonError());
        assertEquals("You cannot remove all variables", e.daemonMessage());
        papa.removeValues("nope"); // a missing name is not an error (as with the reference)
        // the session survives errors
        assertEquals("aack", papa.get("bar"));
    }

    @Test
    void escapingRoundTripsThroughSetAndGet() throws Exception {
        String[] values = {"hello world", "two  spaces", " leading", "a\\ b", "back\\slash", "x=y=z", "\"quoted\"",
                "caf\u00e9 \u2603 \uD83D\uDE00 \u65e5\u672c", "tab\tinside", "ends with quote\""};
        for (int i = 0; i < values.length; i++) {
            papa.set("v" + i, values[i]);
            assertEquals(values[i], papa.get("v" + i), "value " + i);
        }
        assertEquals(values[1], papa.listValues("v1").get("v1"));
        // A newline cannot travel on a line protocol: it arrives as a space.
        papa.set("nl", "line1\nline2");
        assertEquals("line1 line2", papa.get("nl"));
        // Unicode names.
        papa.set("n\u00e4me\u2603", "v");
        assertEquals("v", papa.get("n\u00e4me\u2603"));
        // What the protocol cannot carry is refused, not mangled.
        assertThrows(IllegalArgumentException.class, () -> papa.set("t", "ends in backslash\\"));
        assertThrows(IllegalArgumentException.class, () -> papa.set("t", "ends in space "));
        assertNull(papa.get("t"));
    }

    // ---------------------------------------------------------------- sockets

    @Test
    void sockets() throws Exception {
        assertEquals(Map.of(), papa.listSockets());
        SocketInfo web = papa.makeSocket("web");
        assertEquals("inet", web.family());
        assertEquals("stream", web.type());
        assertEquals(5, web.backlog());
        assertEquals("127.0.0.1", web.host());
        assertNotNull(web.port());
        assertTrue(web.port() > 0);
        assertNotNull(web.fileno());
        // same options: the same socket
        assertEquals(web, papa.makeSocket("web"));
        PapaException e = assertThrows(PapaException.class,
                () -> papa.makeSocket("web", new SocketOptions().family(SocketOptions.Family.INET6)));
        assertTrue(e.daemonMessage().startsWith("Socket for web has already been created"), e.daemonMessage());

        Path path = daemon.dir.resolve("a sock.sock");
        SocketInfo uds = papa.makeSocket("uds", new SocketOptions().path(path).umask(7).backlog(16));
        assertEquals("unix", uds.family());
        assertEquals(path.toString(), uds.path());
        assertEquals(7, uds.umask());
        assertEquals(16, uds.backlog());
        assertTrue(Files.exists(path));

        SocketInfo dg = papa.makeSocket("dg", new SocketOptions().type(SocketOptions.Type.DGRAM).port(0));
        assertEquals("dgram", dg.type());

        SocketInfo rp = papa.makeSocket("rp", new SocketOptions().reusePort(true));
        assertTrue(rp.reusePort());
        assertNull(rp.fileno());

        assertEquals(List.of("dg", "rp", "uds", "web"), List.copyOf(papa.listSockets().keySet()));
        assertEquals(List.of("uds", "web"), List.copyOf(papa.listSockets("web", "u*").keySet()));
        assertEquals(uds, papa.listSockets("uds").get("uds"));

        papa.removeSockets("uds", "web");
        assertFalse(Files.exists(path));
        assertEquals(List.of("dg", "rp"), List.copyOf(papa.listSockets().keySet()));
        e = assertThrows(PapaException.class, () -> papa.removeSockets("web"));
        assertEquals("web not found", e.daemonMessage());

        e = assertThrows(PapaException.class, () -> papa.makeSocket("rel", new SocketOptions().path("rel.sock")));
        assertEquals("Absolute path required for Unix sockets", e.daemonMessage());
    }

    // ---------------------------------------------------------------- processes

    @Test
    void processes() throws Exception {
        assertEquals(Map.of(), papa.listProcesses());
        ProcessInfo p = papa.makeProcess("sleeper", TestDaemon.opts(), "sleep", "30");
        daemon.track(p.pid());
        assertEquals("sleeper", p.name());
        assertTrue(p.pid() > 0);
        assertTrue(p.running());
        assertEquals("sleep 30", p.args());
        long now = System.currentTimeMillis() * 1000;
        assertTrue(Math.abs(now - p.startedMicros()) < 60_000_000L, "started " + p.started());
        assertTrue(ProcessHandle.of(p.pid()).isPresent());

        // same command again: the same process
        assertEquals(p.pid(), papa.makeProcess("sleeper", TestDaemon.opts(), "sleep", "30").pid());
        PapaException e = assertThrows(PapaException.class,
                () -> papa.makeProcess("sleeper", TestDaemon.opts(), "sleep", "31"));
        assertTrue(e.daemonMessage().startsWith("Process for sleeper has already been created"));

        ProcessInfo q = papa.makeProcess("as-root", TestDaemon.opts().uid(0).gid(0).workingDir("/tmp")
                .rlimit("nofile", 256).bufsize("64k"), "sleep", "30");
        daemon.track(q.pid());
        assertEquals(0, q.uid());
        assertEquals(0, q.gid());
        // what the child got, from /proc (bufsize is checked by its effect, in bufsizeReachesTheDaemon)
        awaitExec(q.pid(), "sleep");
        assertEquals("0\t0\t0\t0", ProcInfo.status(q.pid(), "Uid"));
        assertEquals("0\t0\t0\t0", ProcInfo.status(q.pid(), "Gid"));
        assertEquals("/tmp", ProcInfo.link(q.pid(), "cwd"));
        assertTrue(Files.readAllLines(Path.of("/proc/" + q.pid() + "/limits")).stream()
                .anyMatch(l -> l.matches("Max open files\\s+256\\s+256\\s+files\\s*")), "rlimit.nofile=256 in the child");

        Map<String, ProcessInfo> all = papa.listProcesses();
        assertEquals(List.of("as-root", "sleeper"), List.copyOf(all.keySet()));
        assertEquals(p.pid(), all.get("sleeper").pid());
        assertEquals(List.of("sleeper"), List.copyOf(papa.listProcesses("sl*").keySet()));

        e = assertThrows(PapaException.class, () -> papa.makeProcess("bad", TestDaemon.opts(), "/no/such/binary"));
        assertTrue(e.daemonMessage().startsWith("Bad command"), e.daemonMessage());
        e = assertThrows(PapaException.class,
                () -> papa.makeProcess("bad", TestDaemon.opts().workingDir("/no/such/dir"), "sleep", "1"));
        assertTrue(e.daemonMessage().startsWith("Bad working_dir"), e.daemonMessage());
        assertFalse(papa.listProcesses().containsKey("bad"));

        // Removing stops keeping the output; the entry goes once the process exits. It is not killed.
        papa.removeProcesses("sleeper");
        e = assertThrows(PapaException.class, () -> papa.removeProcesses("nope"));
        assertEquals("nope not found", e.daemonMessage());
        assertTrue(ProcessHandle.of(p.pid()).map(ProcessHandle::isAlive).orElse(false), "removing does not kill");
    }

    @Test
    void socketActivationOptionsAndReconnect() throws Exception {
        SocketInfo web = papa.makeSocket("web", new SocketOptions());
        papa.makeSocket("admin", new SocketOptions());
        ProcessOptions opts = TestDaemon.opts().sockets("web", "admin").stdinSocket("web");
        ProcessInfo p = papa.makeProcess("act", opts, "sh", "-c", "echo $LISTEN_FDS $LISTEN_FDNAMES; sleep 30");
        daemon.track(p.pid());
        assertEquals(List.of("web", "admin"), p.sockets());
        assertEquals("web", p.stdinSocket());
        // what the child got: the environment it printed, web at fd 3 and as its stdin, admin at fd 4
        StringBuilder printed = new StringBuilder();
        try (Watcher w = papa.watchProcesses("act")) {
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!printed.toString().endsWith("\n") && System.nanoTime() < deadline) {
                Optional<WatchBatch> b = w.read(Duration.ofSeconds(1));
                if (b.isEmpty()) continue;
                for (OutputChunk c : b.get().out()) printed.append(new String(c.data(), StandardCharsets.UTF_8));
                w.acknowledge();
            }
        }
        assertEquals("2 web:admin\n", printed.toString());
        String fd0 = Files.readSymbolicLink(Path.of("/proc/" + p.pid() + "/fd/0")).toString();
        assertTrue(fd0.startsWith("socket:["), fd0);
        assertEquals(fd0, Files.readSymbolicLink(Path.of("/proc/" + p.pid() + "/fd/3")).toString(), "stdin is socket web");
        assertNotEquals(fd0, Files.readSymbolicLink(Path.of("/proc/" + p.pid() + "/fd/4")).toString(), "admin is another socket");
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", web.port())) {
            assertTrue(s.isConnected(), "web listens on the port its SocketInfo says");
        }
        // the manager restarts: a new connection finds the process as it was, and the same request is the same process
        papa.close();
        papa = daemon.connect();
        ProcessInfo listed = papa.listProcesses("act").get("act");
        assertEquals(p.pid(), listed.pid());
        assertEquals(List.of("web", "admin"), listed.sockets());
        assertEquals(p.attributes(), listed.attributes());
        assertEquals(p.pid(), papa.makeProcess("act", opts, "sh", "-c", "echo $LISTEN_FDS $LISTEN_FDNAMES; sleep 30").pid());
        // a process without them
        ProcessInfo plain = papa.makeProcess("plain", TestDaemon.opts(), "sleep", "30");
        daemon.track(plain.pid());
        assertEquals(List.of(), plain.sockets());
        assertNull(plain.stdinSocket());
        assertThrows(IllegalArgumentException.class, () -> new ProcessOptions().sockets("a,b"));
        PapaException e = assertThrows(PapaException.class,
                () -> papa.makeProcess("bad", TestDaemon.opts().sockets("web", "nope"), "sleep", "1"));
        assertEquals("Socket nope not found", e.daemonMessage());
    }

    @Test
    void overflowOptionsAndListingRecords() throws Exception {
        ProcessInfo b = papa.makeProcess("blocky", TestDaemon.opts().overflow(Overflow.BLOCK).bufsize("4k"), "seq", "1", "100000");
        daemon.track(b.pid());
        assertEquals(Overflow.BLOCK, b.overflow());
        assertNull(b.dropped());
        long deadline = System.currentTimeMillis() + 10_000;
        while (!papa.listProcesses("blocky").get("blocky").blocked()) {
            assertTrue(System.currentTimeMillis() < deadline, "blocky never listed blocked=True");
            Thread.sleep(20);
        }
        assertTrue(papa.listProcesses("blocky").get("blocky").running());

        ProcessInfo d = papa.makeProcess("droppy", TestDaemon.opts().overflow(Overflow.DROP).bufsize("1k"), "seq", "1", "100000");
        daemon.track(d.pid());
        assertEquals(Overflow.DROP, d.overflow());
        assertFalse(d.blocked());
        deadline = System.currentTimeMillis() + 10_000;
        while (papa.listProcesses("droppy").get("droppy").running()) {
            assertTrue(System.currentTimeMillis() < deadline, "droppy never exited");
            Thread.sleep(20);
        }
        assertTrue(papa.listProcesses("droppy").get("droppy").dropped() > 0);

        ProcessInfo plain = papa.makeProcess("plain", TestDaemon.opts(), "sleep", "30");
        daemon.track(plain.pid());
        assertNull(plain.overflow());
        assertNull(plain.dropped());
        assertFalse(plain.blocked());
    }

    /** Runs a process to its end under a watcher; returns stdout and the exit status. */
    private static String[] runAndCollect(Papa papa, String name, ProcessOptions opts, String... command) throws Exception {
        try (Watcher w = papa.makeProcessAndWatch(name, opts, command[0],
                java.util.Arrays.copyOfRange(command, 1, command.length))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Optional<WatchBatch> b;
            while ((b = w.read()).isPresent()) {
                for (OutputChunk c : b.get().out()) {
                    out.write(c.data());
                }
                for (OutputChunk c : b.get().err()) {
                    err.write(c.data());
                }
            }
            return new String[]{out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
                    String.valueOf(w.exitCodes().get(name))};
        }
    }

    @Test
    void escapingRoundTripsThroughProcessArgsAndEnv() throws Exception {
        String script = "for a in \"$@\"; do printf '[%s]' \"$a\"; done; printf '{%s}{%s}{%s}' \"$X\" \"$Y\" \"$Z\"";
        String[] r = runAndCollect(papa, "args", TestDaemon.opts().env("X", "C:\\dir\\").env("Y", "two  spaces ")
                        .env("Z", "").workingDir(daemon.dir.toString()),
                "sh", "-c", script, "sh", "a b", "  lead", "x\\y", "=eq=", "caf\u00e9 \u2603", "multi\nline");
        assertEquals("[a b][  lead][x\\y][=eq=][caf\u00e9 \u2603][multi line]{C:\\dir\\}{two  spaces }{}", r[0]);
        assertEquals("0", r[2]);
    }

    @Test
    void socketSubstitution() throws Exception {
        SocketInfo s = papa.makeSocket("web");
        String[] r = runAndCollect(papa, "sub", TestDaemon.opts(), "sh", "-c", "echo $0", "$(socket.web.port)");
        assertEquals(s.port() + "\n", r[0]);
        PapaException e = assertThrows(PapaException.class,
                () -> papa.makeProcess("x", TestDaemon.opts(), "echo", "$(socket.nope.port)"));
        assertEquals("Socket nope not found", e.daemonMessage());
    }

    // ---------------------------------------------------------------- watching

    @Test
    void watchBatchesAckAndHandBack() throws Exception {
        Connection original = papa.currentConnection();
        ProcessInfo p = papa.makeProcess("w", TestDaemon.opts(), "sh", "-c", "echo out1; echo err1 >&2; exit 3");
        Watcher w = papa.watchProcesses("w");
        assertNull(papa.currentConnection(), "the watcher took the connection");
        assertEquals(1, w.watchedCount());
        // The papa opens a new connection for further commands while the watcher runs.
        papa.set("during", "watch");
        Connection second = papa.currentConnection();
        assertNotNull(second);
        assertNotSame(original, second);

        StringBuilder out = new StringBuilder();
        StringBuilder err = new StringBuilder();
        int batches = 0;
        Optional<WatchBatch> b;
        while ((b = w.read()).isPresent()) {
            batches++;
            assertTrue(w.acknowledgementOwed());
            b.get().out().forEach(c -> out.append(c.text()));
            b.get().err().forEach(c -> err.append(c.text()));
            for (WatchItem item : b.get().items()) {
                assertEquals("w", item.name());
                assertTrue(Math.abs(item.timestamp().toEpochMilli() - System.currentTimeMillis()) < 60_000);
                assertEquals(item.timestampMicros() / 1000, item.timestamp().toEpochMilli());
            }
            if (!b.get().exits().isEmpty()) {
                assertEquals(Map.of("w", 3), b.get().exitCodes());
                assertFalse(w.isActive(), "every watched process has exited");
            }
        }
        assertTrue(batches >= 1);
        assertEquals("out1\n", out.toString());
        assertEquals("err1\n", err.toString());
        assertEquals(Map.of("w", 3), w.exitCodes());
        assertFalse(w.isOpen());
        assertEquals("Nothing left to watch", w.endMessage());
        // the acknowledged exit removed the process
        assertFalse(papa.listProcesses().containsKey("w"));
        assertSame(second, papa.currentConnection());
        w.close();
        // once the papa's current connection is gone, it takes the one the watcher handed back
        assertEquals("ok", papa.execute("quit"));
        papa.set("again", "1");
        assertSame(original, papa.currentConnection(), "the handed back connection is reused");
        assertTrue(p.pid() > 0);
    }

    private static void assertNotSame(Object a, Object b) {
        org.junit.jupiter.api.Assertions.assertNotSame(a, b);
    }

    @Test
    void unacknowledgedOutputIsDeliveredAgainAndCloseSendsQ() throws Exception {
        ProcessInfo p = papa.makeProcess("talker", TestDaemon.opts(), "sh", "-c", "echo one; exec sleep 30");
        daemon.track(p.pid());
        Watcher w = papa.watchProcesses("talker");
        WatchBatch b = w.read().orElseThrow();
        assertEquals("one\n", b.out().get(0).text());
        w.abandon(); // gone without acknowledging

        try (Papa other = daemon.connect()) {
            Connection first = other.currentConnection();
            Watcher w2 = other.watchProcesses("talker");
            WatchBatch again = w2.read().orElseThrow();
            assertEquals(b.out().get(0), again.out().get(0), "the same item again");
            assertTrue(w2.acknowledgementOwed());
            w2.close(); // sends q: acknowledges and stops
            assertFalse(w2.isOpen());
            assertEquals("Stopped watching", w2.endMessage());
            assertEquals(1, other.listProcesses("talker").size());
            assertSame(first, other.currentConnection(), "connection handed back after q");
            // acknowledged: a new watcher gets nothing now
            try (Watcher w3 = other.watchProcesses("talker")) {
                assertEquals(Optional.empty(), w3.read(Duration.ofMillis(300)));
                assertTrue(w3.isOpen());
                assertFalse(w3.ready());
                assertTrue(w3.isActive());
            }
        }
    }

    @Test
    void twoWatchersBothReceiveTheQueue() throws Exception {
        ProcessInfo p = papa.makeProcess("both", TestDaemon.opts(), "sh", "-c", "echo hi; exec sleep 30");
        daemon.track(p.pid());
        try (Papa other = daemon.connect();
             Watcher a = papa.watchProcesses("both");
             Watcher b = other.watchProcesses("both")) {
            assertEquals("hi\n", a.read().orElseThrow().out().get(0).text());
            assertEquals("hi\n", b.read().orElseThrow().out().get(0).text());
            a.acknowledge();
            b.acknowledge();
            assertEquals(Optional.empty(), a.read(Duration.ofMillis(200)));
        }
    }

    @Test
    void readWithTimeoutAndReady() throws Exception {
        ProcessInfo p = papa.makeProcess("slow", TestDaemon.opts(), "sh", "-c", "sleep 0.5; echo late");
        daemon.track(p.pid());
        try (Watcher w = papa.watchProcesses("slow")) {
            assertFalse(w.ready());
            assertEquals(Optional.empty(), w.read(Duration.ofMillis(50)));
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!w.ready()) {
                assertTrue(System.nanoTime() < deadline);
                Thread.sleep(20);
            }
            StringBuilder out = new StringBuilder();
            Optional<WatchBatch> b;
            while ((b = w.read(Duration.ofSeconds(10))).isPresent()) {
                b.get().out().forEach(c -> out.append(c.text()));
            }
            assertEquals("late\n", out.toString());
            assertEquals(0, w.exitCodes().get("slow"));
        }
    }

    @Test
    void makeProcessAndWatchSeesEverything() throws Exception {
        String[] r = runAndCollect(papa, "seq", TestDaemon.opts().stderr(ProcessOptions.Stderr.STDOUT),
                "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line$i; echo e$i >&2; i=$((i+1)); done; kill -TERM $$");
        StringBuilder expect = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            expect.append("line").append(i).append('\n').append('e').append(i).append('\n');
        }
        assertEquals(expect.toString(), r[0]);
        assertEquals("", r[1]);
        assertEquals("-15", r[2]);
    }

    @Test
    void oneWatcherManyProcessesAndCloseWhileWaiting() throws Exception {
        papa.makeProcess("job.a", TestDaemon.opts(), "sh", "-c", "echo a; exit 1");
        papa.makeProcess("job.b", TestDaemon.opts(), "sh", "-c", "sleep 0.2; echo b; exit 2");
        ProcessInfo idle = papa.makeProcess("idle", TestDaemon.opts(), "sleep", "30");
        daemon.track(idle.pid());
        try (Watcher w = papa.watchProcesses("job.*")) {
            assertEquals(2, w.watchedCount());
            StringBuilder out = new StringBuilder();
            Optional<WatchBatch> b;
            while ((b = w.read()).isPresent()) {
                b.get().out().forEach(c -> out.append(c.name()).append('=').append(c.text()));
            }
            assertEquals(Map.of("job.a", 1, "job.b", 2), w.exitCodes());
            assertFalse(w.isActive());
            assertTrue(out.toString().contains("job.a=a\n") && out.toString().contains("job.b=b\n"), out.toString());
        }
        // Closing a watcher that owes nothing closes its connection; nothing is lost or handed back.
        Watcher w = papa.watchProcesses("idle");
        assertEquals(Optional.empty(), w.read(Duration.ofMillis(100)));
        w.close();
        assertFalse(w.isOpen());
        assertNull(w.endMessage());
        assertEquals(Optional.empty(), w.read());
        papa.set("still", "works");
        assertEquals(List.of("idle"), List.copyOf(papa.listProcesses().keySet()));
    }

    @Test
    void watchErrors() throws Exception {
        PapaException e = assertThrows(PapaException.class, () -> papa.watchProcesses("nothing*"));
        assertEquals("Nothing to watch", e.daemonMessage());
        e = assertThrows(PapaException.class, () -> papa.watchProcesses("nope"));
        assertEquals("nope not found", e.daemonMessage());
        assertEquals(Map.of(), papa.listValues());
    }

    // ---------------------------------------------------------------- misc

    @Test
    void helpExecuteAndExitIfIdle() throws Exception {
        assertTrue(papa.help().contains("list"));
        assertFalse(papa.help("l", "p").isEmpty());
        papa.set("x", "1");
        assertEquals("x 1", papa.execute("l", "v"));
        assertThrows(IllegalArgumentException.class, () -> papa.execute("watch", "processes"));
        assertFalse(papa.exitIfIdle());
        papa.removeValues("x");
        assertTrue(papa.exitIfIdle());
        assertNull(papa.currentConnection());
    }

    @Test
    void quitClosesTheSession() throws Exception {
        assertEquals("ok", papa.execute("quit"));
        assertNull(papa.currentConnection());
        assertEquals(Map.of(), papa.listValues()); // a new session
    }

    @Test
    void connectionErrors() throws Exception {
        int port = daemon.port();
        daemon.stopDaemon();
        PapaException e = assertThrows(PapaException.class,
                () -> Papa.builder().port(port).autoStart(false).connect());
        assertEquals(PapaException.Kind.CONNECTION, e.kind());
        assertFalse(e.isDaemonError());
        assertNull(e.daemonMessage());
        e = assertThrows(PapaException.class, () -> Papa.builder()
                .path(daemon.dir.resolve("none.sock")).autoStart(false).connect());
        assertEquals(PapaException.Kind.CONNECTION, e.kind());
    }

    @Test
    void unixSocketConnection() throws Exception {
        Path sock = daemon.dir.resolve("papa.sock");
        try (var d = dev.papa.daemon.Daemon.start(new dev.papa.daemon.DaemonConfig().port(0).unixSocket(sock));
             Papa p = Papa.builder().path(sock).autoStart(false).connect()) {
            p.set("over", "unix");
            assertEquals("unix", p.get("over"));
            assertTrue(p.endpoint().isUnix());
        }
    }

    @Test
    void defaults() {
        Endpoint before = Papa.defaultEndpoint();
        try {
            Papa.setDefaultPort(12345);
            assertEquals(Endpoint.tcp(12345), Papa.defaultEndpoint());
            Papa.setDefaultPath(Path.of("/tmp/x.sock"));
            assertEquals(Path.of("/tmp/x.sock"), Papa.defaultEndpoint().path());
            assertNotEquals(before, Papa.defaultEndpoint());
        } finally {
            if (before.isUnix()) {
                Papa.setDefaultPath(before.path());
            } else {
                Papa.setDefaultPort(before.port());
            }
        }
    }

    /** Waits until {@code pid} has exec'd {@code comm} (its /proc entries are the child's own from then on). */
    static void awaitExec(long pid, String comm) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!Files.readString(Path.of("/proc/" + pid + "/comm")).strip().equals(comm)) {
            assertTrue(System.nanoTime() < deadline, "pid " + pid + " never exec'd " + comm);
            Thread.sleep(5); // poll interval
        }
    }

    /** bufsize reaches the daemon: 0 means nothing is captured, so the child's stdout and stderr are /dev/null. */
    @Test
    void bufsizeReachesTheDaemon() throws Exception {
        ProcessInfo none = papa.makeProcess("none", TestDaemon.opts().bufsize("0"), "sleep", "30");
        ProcessInfo some = papa.makeProcess("some", TestDaemon.opts().bufsize("1k"), "sleep", "30");
        daemon.track(none.pid());
        daemon.track(some.pid());
        awaitExec(none.pid(), "sleep");
        awaitExec(some.pid(), "sleep");
        assertEquals("/dev/null", ProcInfo.link(none.pid(), "fd/1"));
        assertEquals("/dev/null", ProcInfo.link(none.pid(), "fd/2"));
        assertTrue(ProcInfo.link(some.pid(), "fd/1").startsWith("pipe:"), ProcInfo.link(some.pid(), "fd/1"));
        assertTrue(ProcInfo.link(some.pid(), "fd/2").startsWith("pipe:"), ProcInfo.link(some.pid(), "fd/2"));
    }
}
