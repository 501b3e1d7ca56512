package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The keeper's promise (PROTOCOL.md Part 2, "The keeper"), against the packaged jar: the daemon
 * JVM is killed with SIGKILL again and again while a ticker writes a line every 5 ms, a watcher
 * follows it and reconnects, a client connects every 5 ms and an HTTP server on a papa socket
 * (logging every request to its stderr) is polled; a process exits while no JVM runs. Kills:
 * {@code -Dpapa.keeper.kills=N} (default 5; the figure is 20).
 */
class KeeperKillIT {
    static final int KILLS = Integer.getInteger("papa.keeper.kills", 5);
    /** The keeper pauses before restarting a daemon that served less than a second (keeper.c, QUICK_MS). */
    static final long SERVE_BEFORE_KILL_MS = 1100;

    @TempDir
    Path dir;

    @Test
    void killingTheDaemonJvmLosesNothingItHosts() throws Exception {
        Path ticker = Files.writeString(dir.resolve("ticker.py"), String.join("\n",
                "import itertools, sys, time",
                "for i in itertools.count():",
                "    sys.stdout.write('%d\\n' % i)",
                "    sys.stdout.flush()",
                "    time.sleep(0.005)", ""));
        Path http = Files.writeString(dir.resolve("web_server.py"), String.join("\n",
                "import http.server, socket, sys",
                "class H(http.server.BaseHTTPRequestHandler):",
                "    def do_GET(self):",
                "        self.send_response(200)",
                "        self.send_header('Content-Length', '3')",
                "        self.end_headers()",
                "        self.wfile.write(b'ok\\n')",
                "s = http.server.HTTPServer(('127.0.0.1', 0), H, bind_and_activate=False)",
                "s.socket.close()",
                "s.socket = socket.socket(fileno=int(sys.argv[1]))",
                "s.serve_forever()", ""));
        Path go = dir.resolve("go");
        Path quitter = Files.writeString(dir.resolve("quitter.sh"), "while [ ! -e " + go + " ]; do sleep 0.01; done; exit 7\n");
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(CHECK_JOURNAL), List.of("--keeper"))) {
            int keeper = d.pid();
            String values;
            String sockets;
            String processes;
            try (ProtocolClient c = d.connect()) {
                c.ok("set a 1");
                c.ok("set b two words");
                c.ok("make socket web port=0");
                sockets = c.ok("list sockets");
                c.ok("make process ticker /usr/bin/python3 -u " + ticker);
                c.ok("make process http stdout=0 /usr/bin/python3 " + http + " $(socket.web.fileno)");
                c.ok("make process quitter /bin/sh " + quitter);
                values = c.ok("list values");
                processes = c.ok("list processes");
            }
            int port = Integer.parseInt(find(" port=(\\d+)", sockets).get(0));
            int tickerPid = d.hosted(Integer.parseInt(find("ticker pid=(\\d+) ", processes).get(0)));
            int httpPid = d.hosted(Integer.parseInt(find("http pid=(\\d+) ", processes).get(0)));
            int quitterPid = d.hosted(Integer.parseInt(find("quitter pid=(\\d+) ", processes).get(0)));
            for (int pid : List.of(tickerPid, httpPid, quitterPid)) {
                assertEquals(keeper, JarDaemon.parentOf(pid), "process " + pid + " is the keeper's child");
            }
            int keeperFds = awaitFdsSettled(keeper, -1);

            UpgradeUnderLoadIT.Load load = new UpgradeUnderLoadIT.Load(d.port, port);
            load.start();
            List<Long> downMillis = new ArrayList<>();
            try {
                for (int i = 0; i < KILLS; i++) {
                    Thread.sleep(SERVE_BEFORE_KILL_MS); // let the daemon serve long enough that its death is not a "quick" one
                    int jvm = daemonJvm(keeper);
                    int sessions = load.watcher.sessions.get();
                    long killed = System.nanoTime();
                    dev.papa.posix.Processes.kill(jvm, 9);
                    if (i == 0) Files.createFile(go); // the quitter exits while no JVM runs
                    awaitServing(d, jvm, keeper);
                    downMillis.add((System.nanoTime() - killed) / 1_000_000);
                    load.awaitNewSession(sessions); // lines arrive again after this kill
                }
                load.awaitHttp();
            } finally {
                load.stop();
            }
            load.rethrow();
            assertJournalChecked(d, KILLS + 1); // every JVM so far found its journal equal to its tables after every write

            try (ProtocolClient c = d.connect()) {
                assertEquals(values, c.ok("list values"));
                assertEquals(sockets, c.ok("list sockets"));
                String now = c.ok("list processes");
                assertTrue(now.contains("quitter pid=" + quitterPid + " running=False"), now + "\n" + d.logText());
                assertEquals(processes.replaceAll("running=\\w+", ""), now.replaceAll("running=\\w+", ""));
                assertEquals(2, now.split("running=True", -1).length - 1, "ticker and http still running: " + now);
                // its exit, reported once: a watcher gets the closed item, then the process is gone
                c.writeLine("watch processes quitter");
                assertEquals("Watching 1", c.readLine());
                List<ProtocolClient.Item> items = c.watchToEnd();
                assertEquals(1, items.stream().filter(it -> it.status() != null).count(), items.toString());
                assertEquals(7, items.get(items.size() - 1).status());
                assertTrue(c.ok("list processes").indexOf("quitter") < 0);
            }
            // and not again after one more death
            int sessionsBefore = load.watcher.sessions.get();
            int jvm = daemonJvm(keeper);
            dev.papa.posix.Processes.kill(jvm, 9);
            awaitServing(d, jvm, keeper);
            try (ProtocolClient c = d.connect()) {
                assertEquals("", c.ok("list processes quitter"), "the exit was reported once: the process stays gone");
                String facts = c.ok("list daemon");
                assertTrue(facts.contains("\nkeeper=" + keeper + "\n"), facts);
                assertTrue(facts.contains("\ndaemon=" + daemonJvm(keeper) + "\n"), facts);
                assertTrue(facts.contains("\nrestarts=" + (KILLS + 1) + "\n"), facts);
                assertTrue(facts.contains("\nlast_restart=signal 9\n"), facts);
                assertTrue(facts.contains("\nprocesses=2\n"), facts);
            }
            for (int pid : List.of(tickerPid, httpPid)) {
                assertTrue(Files.exists(Path.of("/proc/" + pid)), "process " + pid + " alive");
                assertEquals(keeper, JarDaemon.parentOf(pid));
            }
            assertEquals(keeperFds - 3, awaitFdsSettled(keeper, keeperFds - 3),
                    "the keeper holds what it held, less the quitter's pidfd and pipes");
            assertJournalChecked(d, KILLS + 2);

            UpgradeUnderLoadIT.Watcher w = load.watcher;
            int highest = (int) w.highest.get();
            int lost;
            synchronized (w.seen) {
                lost = highest + 1 - w.seen.cardinality();
            }
            assertEquals(0, load.refused.get(), "refused control connections");
            // a connection the killed JVM had accepted but not yet greeted dies with it (sessions
            // are closed by a restart, PROTOCOL.md "The keeper"): at most one such per kill
            assertTrue(load.cut.get() <= KILLS, load.cut.get() + " connections closed before their greeting in " + KILLS + " kills");
            assertEquals(0, load.httpFailed.get(), "HTTP requests that failed");
            assertTrue(load.httpOk.get() >= 20, "HTTP requests answered: " + load.httpOk.get());
            List<Long> sorted = new ArrayList<>(downMillis);
            sorted.sort(null);
            System.out.printf("keeper kill loop: %d kills, kill to serving again p50 %d ms max %d ms; %d lines (0..%d), %d lost "
                            + "(read by a killed JVM, not acknowledged), %d redelivered, %d watcher sessions, %d control "
                            + "connections, %d HTTP requests%n", KILLS, sorted.get(sorted.size() / 2), sorted.get(sorted.size() - 1),
                    highest + 1, highest, lost, w.redelivered.get(), w.sessions.get(), load.connections.get(), load.httpOk.get());
            assertTrue(sessionsBefore >= KILLS, "the watcher reconnected after every kill");
        }
    }

    /**
     * A daemon that cannot start any more (its jar replaced by a broken one) is restarted with
     * a growing pause, never given up on; once a good jar is back, the next start takes
     * everything back.
     */
    @Test
    void aBrokenJarIsRetriedWithGrowingPausesUntilAGoodOneIsBack() throws Exception {
        Path jar = Files.copy(JarDaemon.jar(), dir.resolve("papa.jar"));
        Path good = dir.resolve("papa.good");
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of(CHECK_JOURNAL), List.of("--keeper"))) {
            int keeper = d.pid();
            String sleeper;
            try (ProtocolClient c = d.connect()) {
                c.ok("set a 1");
                sleeper = c.ok("make process sleeper /bin/sleep 1000");
            }
            d.hosted(Integer.parseInt(find(" pid=(\\d+) ", sleeper).get(0)));
            Thread.sleep(SERVE_BEFORE_KILL_MS); // a death that is not quick: the first restart comes at once
            Files.move(jar, good);
            Files.writeString(jar, "not a jar");
            int jvm = daemonJvm(keeper);
            dev.papa.posix.Processes.kill(jvm, 9);
            java.util.regex.Pattern failed = java.util.regex.Pattern.compile("died of exit status 1 after \\d+ ms; restart (\\d+) in (\\d+) ms");
            long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
            List<Long> pauses = new ArrayList<>();
            while (pauses.size() < 5) {
                assertTrue(System.currentTimeMillis() < deadline, "restarts of the broken jar: " + d.logText());
                pauses.clear();
                java.util.regex.Matcher m = failed.matcher(d.logText());
                while (m.find()) pauses.add(Long.parseLong(m.group(2)));
                Thread.sleep(20); // polling the keeper's log
            }
            assertEquals(List.of(0L, 250L, 500L, 1000L, 2000L), pauses.subList(0, 5), d.logText());
            assertTrue(d.process.isAlive(), "the keeper does not give up");
            Files.move(good, jar, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            awaitServing(d, jvm, keeper);
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get a"));
                assertEquals(sleeper, c.ok("list processes sleeper"), "the same process, still running");
                assertTrue(c.ok("list daemon").contains("\nlast_restart=exit 1\n"));
            }
            assertJournalChecked(d, 2); // the first JVM and the one of the good jar; the broken ones never got that far
        }
    }

    /**
     * A real OutOfMemoryError: a 64 MiB heap, an output budget far over it (allowed, with a
     * warning) and a process writing 70 MB that nobody watches. The JVM exits on the error
     * (-XX:+ExitOnOutOfMemoryError, status 3) and the keeper brings the daemon back with its state.
     */
    @Test
    void aDaemonKilledByOutOfMemoryComesBack() throws Exception {
        Path flood = Files.writeString(dir.resolve("flood.sh"), "head -c 70000000 /dev/zero\nexec sleep 1000\n");
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of("-Xmx64m", "-XX:+ExitOnOutOfMemoryError"),
                List.of("--keeper", "--output-budget", "1g"))) {
            int keeper = d.pid();
            int jvm = daemonJvm(keeper);
            String flooder;
            try (ProtocolClient c = d.connect()) {
                c.ok("set a 1");
                flooder = c.ok("make process flood bufsize=1g /bin/sh " + flood);
            }
            d.hosted(Integer.parseInt(find(" pid=(\\d+) ", flooder).get(0)));
            long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
            while (!d.logText().contains("died of exit status 3")) {
                assertTrue(System.currentTimeMillis() < deadline, "no death of OutOfMemoryError: " + d.logText());
                Thread.sleep(20); // polling the keeper's log
            }
            awaitServing(d, jvm, keeper);
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get a"));
                String now = c.ok("list processes flood");
                assertEquals(flooder.replaceAll(" running=\\w+", ""), now.replaceAll(" running=\\w+", ""), "the same process");
                assertTrue(c.ok("list daemon").contains("\nrestarts="), "list daemon answers");
            }
            assertTrue(d.logText().contains("OutOfMemoryError") || Files.readString(d.output).contains("OutOfMemoryError"),
                    "the JVM said why it ended");
        }
    }

    /** Every JVM of the keeper checks its journaled state against its tables after each write. */
    static final String CHECK_JOURNAL = "-D" + dev.papa.daemon.state.JournalCheck.PROPERTY + "=true";

    /**
     * Each of the {@code jvms} JVMs had the check on (the option reached the ones the keeper
     * restarted) and none found its journal differing from its tables.
     */
    static void assertJournalChecked(JarDaemon d, int jvms) throws Exception {
        String log = d.logText();
        assertEquals(jvms, log.split(java.util.regex.Pattern.quote(dev.papa.daemon.state.JournalCheck.ON), -1).length - 1,
                "JVMs that checked their journal:\n" + log);
        assertJournalNeverDiffered(d);
    }

    /** No JVM of the keeper found its journal differing from its tables, nor failed to hand its state over. */
    static void assertJournalNeverDiffered(JarDaemon d) throws Exception {
        String log = d.logText();
        assertTrue(log.contains(dev.papa.daemon.state.JournalCheck.ON), "the check was on:\n" + log);
        assertTrue(!log.contains(dev.papa.daemon.state.JournalCheck.DIFFERS), log);
        assertTrue(!log.contains("cannot hand the state to the keeper"), log);
    }

    private static List<String> find(String regex, String text) {
        List<String> found = new ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(regex).matcher(text);
        while (m.find()) found.add(m.group(1));
        return found;
    }

    /** The keeper's child that is a JVM (the daemon). */
    static int daemonJvm(int keeper) throws Exception {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            for (ProcessHandle h : ProcessHandle.of(keeper).orElseThrow().children().toList()) {
                if (h.info().command().orElse("").endsWith("java")) return (int) h.pid();
            }
            Thread.sleep(5);
        }
        throw new AssertionError("the keeper runs no daemon JVM");
    }

    /** Until a new daemon JVM (not {@code old}) answers a request. */
    static void awaitServing(JarDaemon d, int old, int keeper) throws Exception {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        while (true) {
            try (ProtocolClient c = d.connect()) {
                c.ok("list values");
                if (daemonJvm(keeper) != old) return;
            } catch (java.io.IOException | AssertionError notYet) {
                if (System.currentTimeMillis() > deadline) throw notYet;
            }
            Thread.sleep(5);
        }
    }

    /** The keeper's descriptor count once it stays the same for 300 ms (and equals {@code want}, unless -1). */
    private static int awaitFdsSettled(int keeper, int want) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        int last = -1;
        long since = System.currentTimeMillis();
        while (System.currentTimeMillis() < deadline) {
            int n;
            try (var s = Files.list(Path.of("/proc/" + keeper + "/fd"))) {
                n = (int) s.count();
            }
            if (n != last) {
                last = n;
                since = System.currentTimeMillis();
            } else if (System.currentTimeMillis() - since >= 300 && (want < 0 || n == want)) {
                return n;
            }
            Thread.sleep(10);
        }
        return last;
    }
}
