package dev.papa.daemon.hardening;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.FileOutputStream;
import java.io.IOException;
import java.net.BindException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Nothing slow on the loop thread (issue 11): the daemon runs in a private mount namespace
 * where its resolver or its user database hangs on the test's command, and everyone but the
 * requesting session keeps being served. The host's files are never touched: the bind mounts
 * exist only in the daemon's namespace and vanish with it.
 */
class OffLoopTest {
    private static final Pattern PID = Pattern.compile(" pid=(\\d+) ");
    /** Printed by the watched process: a counter, one line every 20 ms. */
    private static final String TICKER = "import time,itertools; [print(n, flush=True) or time.sleep(0.02) for n in itertools.count()]";

    private final List<Long> pids = new ArrayList<>();
    private final List<Path> files = new ArrayList<>();

    @AfterEach
    void cleanUp() throws IOException {
        for (long pid : pids) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        for (Path p : files) Files.deleteIfExists(p);
    }

    private static boolean root() throws Exception {
        return HungResolver.possible();
    }

    /** A daemon JVM in a new, private mount namespace (unshare execs java: same pid). */
    private static DaemonJvm privateDaemon(List<String> shellSetup) throws Exception {
        List<String> prefix = new ArrayList<>(List.of("unshare", "-m", "--propagation", "private", "--"));
        prefix.addAll(shellSetup);
        return DaemonJvm.start(prefix);
    }

    @Test
    void hungResolverStallsOnlyTheSessionThatAsked() throws Exception {
        assumeTrue(root(), "needs root for a mount namespace");
        try (HungResolver resolver = HungResolver.start(8)) {
            // One attempt, a long timeout: the lookup hangs far longer than the checks below take
            // (and the daemon waits for the resolver to give up: its own timeout is longer).
            try (DaemonJvm d = DaemonJvm.start(resolver.prefix(), "--lookup-timeout", "60");
                 Conn asker = Conn.open(d.port);
                 Conn other = Conn.open(d.port);
                 Conn watcher = Conn.open(d.port)) {
                // pipelined: the set must be answered after the make socket, whatever happens
                asker.send("make socket s host=hung.papa-test.invalid port=0\nset after 1\n");
                resolver.awaitQuery(); // handshake: the lookup is in flight
                servedMeanwhile(other, watcher);
                assertEquals(0, asker.available(), "answered before the resolver gave up");
                // The lookup fails when the resolver times out; then, in order, the pipelined set.
                assertEquals("Error: Unknown host hung.papa-test.invalid\n> ", asker.readUntilPrompt());
                assertEquals("\n> ", asker.readUntilPrompt());
                assertEquals("1", asker.result("get after"));
            }
        }
    }

    @Test
    void hungUserDatabaseStallsOnlyTheSessionThatAsked() throws Exception {
        assumeTrue(root(), "needs root for a mount namespace");
        Path dir = Files.createTempDirectory("papa-nss");
        Path fifo = dir.resolve("group");
        files.add(fifo);
        files.add(dir);
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start().waitFor());
        try (DaemonJvm d = privateDaemon(List.of());
             Conn asker = Conn.open(d.port);
             Conn other = Conn.open(d.port);
             Conn watcher = Conn.open(d.port)) {
            // From now on a group lookup in the daemon waits in open() until the fifo gets a writer.
            Process mount = new ProcessBuilder("nsenter", "-t", Long.toString(d.pid()), "-m",
                    "mount", "--bind", fifo.toString(), "/etc/group").inheritIO().start();
            assertEquals(0, mount.waitFor());
            asker.send("make process n gid=0 /bin/sleep 30\nset after 1\n");
            awaitThreadInOpen(d.pid(), "papa-lookup");
            servedMeanwhile(other, watcher);
            assertEquals(0, asker.available(), () -> "answered while the group database hung: " + readAvailable(asker));
            new FileOutputStream(fifo.toFile()).close(); // release the lookup (glibc refuses a fifo, or reads nothing)
            String made = asker.readUntilPrompt();
            // gid 0 is found by a later NSS module (systemd synthesizes root), or by none on hosts without it
            assertTrue(made.startsWith("n pid=") || made.equals("Error: No such group: '0'\n> "), made);
            if (made.startsWith("n pid=")) pids.add(pidOf(made));
            assertEquals("\n> ", asker.readUntilPrompt(), "the pipelined set, after the make");
        }
    }

    /**
     * The requester leaves while its {@code make process} waits for a lookup (queued behind its
     * user's hung one): it is not carried out, and it does not wait for the lane. What had
     * reached its spawn is made even so (the process exists): {@link #fiftySpawnsInFlightWhileAWatcherIsServed}.
     */
    @Test
    void lookupOfASessionThatLeftIsNotCarriedOut() throws Exception {
        assumeTrue(root(), "needs root for a mount namespace");
        Path dir = Files.createTempDirectory("papa-left");
        Path sock = dir.resolve("papa.sock");
        files.add(sock);
        files.add(dir);
        try (HungResolver resolver = HungResolver.start(3);
             DaemonJvm d = DaemonJvm.startUnix(resolver.prefix(), sock, "--lookup-timeout", "60");
             Conn asker = unixConn(sock);
             Conn other = unixConn(sock)) {
            asker.send("make socket s host=hung.papa-test.invalid\n");
            resolver.awaitQuery(); // root's lookup runs: root's next one waits for it
            try (Conn leaver = unixConn(sock)) {
                leaver.send("make process leftover uid=0 /bin/sleep 30\n");
            } // gone before any answer (a unix peer's close is seen at once; TCP's only at the next write)
            // The hung lookup ends (the resolver gives up); root's turn comes again, and a make
            // from a session that stays is answered...
            assertEquals("Error: Unknown host hung.papa-test.invalid\n> ", asker.readUntilPrompt());
            String later = other.result("make process later uid=0 /bin/sleep 30");
            assertTrue(later.startsWith("later pid="), later);
            pids.add(pidOf(later + " "));
            // ... and the leaver's request, which came before it, was not carried out.
            assertEquals("", other.result("list processes leftover"));
        }
    }

    private static Conn unixConn(Path sock) throws IOException {
        Conn c = Conn.unix(sock);
        c.expectGreeting();
        return c;
    }

    /** Polls until the daemon's thread {@code name} waits in open() of a fifo (wchan, or the syscall number). */
    private static void awaitThreadInOpen(long pid, String name) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
                for (Path t : (Iterable<Path>) tasks::iterator) {
                    try {
                        if (!Files.readString(t.resolve("comm")).strip().equals(name)) continue;
                        if (Files.readString(t.resolve("wchan")).contains("wait_for_partner")
                                || Files.readString(t.resolve("syscall")).startsWith("257 ")) return;
                    } catch (IOException gone) {
                        // the thread ended meanwhile
                    }
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no thread " + name + " of " + pid + " is blocked in open()");
    }

    /**
     * While one session waits for a hung lookup: another session's requests (a spawn among
     * them) are answered, and a watcher keeps receiving a process's lines, none lost.
     */
    private void servedMeanwhile(Conn other, Conn watcher) throws Exception {
        assertEquals("\n> ", other.cmd("set x 1"));
        assertEquals("1", other.result("get x"));
        String sock = other.result("make socket lit host=127.0.0.1 port=0");
        assertTrue(sock.startsWith("lit family=inet"), sock);
        watcher.send("make process ticker watch=1 env.HOME=/ /usr/bin/python3 -S -c " + TICKER.replace(" ", "\\ ") + "\n");
        String line = watcher.readLine();
        assertTrue(line.startsWith("ticker pid="), line);
        pids.add(pidOf(line + " "));
        long expected = 0;
        while (expected < 10) { // ten lines, in order, each acknowledged
            for (Conn.Item item : watcher.readBatch()) {
                for (String l : new String(item.data(), StandardCharsets.UTF_8).split("\n")) {
                    assertEquals(Long.toString(expected), l, "lines in order, none lost");
                    expected++;
                }
            }
            watcher.send("\n");
        }
    }

    /**
     * Pipelined requests that go off the loop and requests that do not are answered in the
     * order they were sent, in one write.
     */
    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of()); Conn c = Conn.open(d.port)) {
            c.send("make process p1 /bin/sleep 30\nlist processes\nmake socket s1 host=localhost\nget nothing\n"
                    + "make process p1 /bin/sleep 30\nmake process p1 /bin/sleep 31\nset v 2\nget v\n"
                    + "make process p2 /no/such/program\nlist processes\n");
            String made = c.readUntilPrompt();
            assertTrue(made.startsWith("p1 pid="), made);
            pids.add(pidOf(made));
            assertEquals(made, c.readUntilPrompt(), "list shows the process made just before");
            assertTrue(c.readUntilPrompt().startsWith("s1 family=inet type=stream backlog=5 host=localhost port="));
            assertEquals("\n> ", c.readUntilPrompt());
            assertEquals(made, c.readUntilPrompt(), "the same process again");
            assertEquals("Error: Process for p1 has already been created - " + made, c.readUntilPrompt());
            assertEquals("\n> ", c.readUntilPrompt());
            assertEquals("2\n> ", c.readUntilPrompt());
            assertTrue(c.readUntilPrompt().startsWith("Error: Bad command - "));
            assertEquals(made, c.readUntilPrompt(), "nothing left of the failed spawn");
        }
    }

    /** Many sessions make the same name at once: one process, every session gets it; other options are refused. */
    @Test
    void oneNameMadeBySessionsAtOnceIsOneProcess() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of())) {
            List<Conn> conns = new ArrayList<>();
            try {
                for (int i = 0; i < 20; i++) conns.add(Conn.open(d.port));
                for (int i = 0; i < conns.size(); i++) {
                    String args = i % 5 == 4 ? "/bin/sleep 31" : "/bin/sleep 30";
                    conns.get(i).send("make process same " + args + "\n");
                }
                Set<Long> samePids = new HashSet<>();
                String made = null;
                List<String> refusals = new ArrayList<>();
                List<Integer> refusedAt = new ArrayList<>();
                for (int i = 0; i < conns.size(); i++) {
                    String r = conns.get(i).readUntilPrompt();
                    if (r.startsWith("Error: ")) {
                        refusals.add(r);
                        refusedAt.add(i);
                    } else {
                        samePids.add(pidOf(r));
                        made = r;
                    }
                }
                assertEquals(1, samePids.size(), "one process: " + samePids);
                pids.addAll(samePids);
                // whichever request won, the other command is refused with the process's line
                assertTrue(refusedAt.equals(List.of(4, 9, 14, 19)) || refusedAt.size() == 16, "refused: " + refusedAt);
                for (String r : refusals) assertEquals("Error: Process for same has already been created - " + made, r);
                assertEquals(made.substring(0, made.length() - 2).strip(), conns.get(0).result("list processes"));
            } finally {
                for (Conn c : conns) c.close();
            }
        }
    }

    /** 50 spawns in flight at once while a watcher's lines keep arriving, none lost. */
    @Test
    void fiftySpawnsInFlightWhileAWatcherIsServed() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of()); Conn watcher = Conn.open(d.port)) {
            watcher.send("make process ticker watch=1 env.HOME=/ /usr/bin/python3 -S -c " + TICKER.replace(" ", "\\ ") + "\n");
            String line = watcher.readLine();
            pids.add(pidOf(line + " "));
            List<Conn> conns = new ArrayList<>();
            try {
                for (int i = 0; i < 50; i++) conns.add(Conn.open(d.port));
                for (int i = 0; i < 50; i++) conns.get(i).send("make process f" + i + " /bin/sleep 30\n");
                long expected = 0;
                int batchesBeforeLastReply = 0;
                Set<Long> spawned = new HashSet<>();
                int answered = 0;
                while (answered < 50) {
                    for (Conn.Item item : watcher.readBatch()) {
                        for (String l : new String(item.data(), StandardCharsets.UTF_8).split("\n")) {
                            assertEquals(Long.toString(expected++), l, "lines in order, none lost");
                        }
                    }
                    watcher.send("\n");
                    batchesBeforeLastReply++;
                    for (int i = 0; i < 50; i++) {
                        Conn c = conns.get(i);
                        if (c == null || c.available() == 0) continue;
                        String r = c.readUntilPrompt();
                        assertTrue(r.startsWith("f" + i + " pid="), r);
                        spawned.add(pidOf(r));
                        conns.set(i, null);
                        c.close();
                        answered++;
                    }
                }
                pids.addAll(spawned);
                assertEquals(50, spawned.size(), "50 distinct processes");
                assertTrue(batchesBeforeLastReply > 0);
            } finally {
                for (Conn c : conns) if (c != null) c.close();
            }
        }
    }

    private static String readAvailable(Conn c) {
        try {
            return new String(c.readN(c.available()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static long pidOf(String line) {
        Matcher m = PID.matcher(line);
        assertTrue(m.find(), line);
        return Long.parseLong(m.group(1));
    }
}
