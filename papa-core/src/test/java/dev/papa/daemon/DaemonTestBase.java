package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Starts an in-process daemon on a free port for each test, and afterwards kills every process the
 * test started (by pid), closes every client and closes the daemon.
 */
abstract class DaemonTestBase {
    /** {@code NAME pid=PID running=True|False started=SECONDS [uid=UID] [gid=GID] [Part 2 key=value...] args=...}. */
    static final Pattern PROCESS_LINE = Pattern.compile(
            "(\\S+) pid=(\\d+) running=(True|False) started=(\\d+\\.\\d+)(?: uid=(\\d+))?(?: gid=(\\d+))?"
                    + "(?: (?!args=)[a-z_]+=\\S*)* args=(.*)");

    record Proc(String name, long pid, boolean running, String started, String uid, String gid, String args, String line) { }

    protected Daemon daemon;
    protected int port;
    @TempDir protected Path tmp;
    private final List<ProtocolClient> clients = new ArrayList<>();
    protected final Set<Long> pids = ConcurrentHashMap.newKeySet();

    protected DaemonConfig config() {
        return new DaemonConfig().port(0).singleSession(false);
    }

    /** Set when {@link #ownJvm()}: the daemon's process, not this one. */
    protected dev.papa.daemon.hardening.DaemonJvm daemonJvm;

    /**
     * Whether the daemon runs in a JVM of its own (command-line defaults, {@link #config()} unused):
     * for tests that count the daemon's descriptors or children, which the shared test JVM's other
     * threads (a daemon of an earlier test winding down, the JIT) would change.
     */
    protected boolean ownJvm() {
        return false;
    }

    @BeforeEach
    void startDaemon() throws Exception {
        if (ownJvm()) {
            daemonJvm = dev.papa.daemon.hardening.DaemonJvm.start(List.of());
            port = daemonJvm.port;
        } else {
            daemon = Daemon.start(config());
            port = daemon.port();
        }
        assertTrue(port > 0, "daemon port");
    }

    /** Descriptors the daemon's own JVM has open (needs {@link #ownJvm()}). */
    protected long daemonFds() throws IOException {
        return daemonJvm.openFds();
    }

    /** Whether the daemon's own JVM has at most {@code n} descriptors open, for {@link #await}. */
    protected boolean daemonFdsAtMost(long n) {
        try {
            return daemonFds() <= n;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterEach
    void stopEverything() throws Exception {
        for (ProtocolClient c : clients) c.close();
        for (long pid : pids) kill(pid);
        // let the daemon reap what was killed before it stops, so no test leaves zombies behind
        long deadline = System.currentTimeMillis() + 5_000;
        for (long pid : pids) {
            while (procState(pid) != null && System.currentTimeMillis() < deadline) Thread.sleep(10);
        }
        if (daemon != null) daemon.close();
        if (daemonJvm != null) daemonJvm.close();
    }

    static void kill(long pid) {
        ProcessHandle.of(pid).ifPresent(ph -> {
            ph.descendants().forEach(ProcessHandle::destroyForcibly);
            ph.destroyForcibly();
        });
    }

    protected ProtocolClient connect() throws IOException {
        ProtocolClient c = ProtocolClient.tcp(port);
        clients.add(c);
        return c;
    }

    protected <T extends ProtocolClient> T track(T c) {
        clients.add(c);
        return c;
    }

    static Proc parseProcess(String line) {
        Matcher m = PROCESS_LINE.matcher(line);
        if (!m.matches()) fail("not a process line: [" + line + "]");
        return new Proc(m.group(1), Long.parseLong(m.group(2)), m.group(3).equals("True"), m.group(4),
                m.group(5), m.group(6), m.group(7), line);
    }

    /** Sends {@code make process REST}; it must succeed; the pid is killed after the test. */
    protected Proc make(ProtocolClient c, String rest) throws IOException {
        String reply = c.send("make process " + rest);
        if (!reply.endsWith("\n> ") || reply.indexOf('\n') != reply.length() - 3) {
            fail("make process " + rest + " -> [" + reply + "]");
        }
        Proc p = parseProcess(reply.substring(0, reply.length() - 3));
        pids.add(p.pid());
        return p;
    }

    /** Writes an executable script into the test's temp dir. */
    protected Path script(String name, String body) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, body, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    /** Polls until the condition holds, failing after {@code ms}. */
    static void await(String what, long ms, BooleanSupplier cond) {
        long deadline = System.currentTimeMillis() + ms;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) fail("timed out waiting for: " + what);
            try { Thread.sleep(20); } catch (InterruptedException e) { throw new AssertionError(e); }
        }
    }

    interface IoSupplier { boolean get() throws IOException; }

    static void awaitIo(String what, long ms, IoSupplier cond) throws IOException {
        long deadline = System.currentTimeMillis() + ms;
        while (!cond.get()) {
            if (System.currentTimeMillis() > deadline) fail("timed out waiting for: " + what);
            try { Thread.sleep(20); } catch (InterruptedException e) { throw new AssertionError(e); }
        }
    }

    /** Pids of this JVM's children (the in-process daemon's processes) that are zombies now. */
    static Set<Long> zombieChildren() {
        return zombieChildren(ProcessHandle.current());
    }

    /** Pids of {@code parent}'s children that are zombies now. */
    static Set<Long> zombieChildren(ProcessHandle parent) {
        return parent.children().map(ProcessHandle::pid)
                .filter(pid -> "Z".equals(procState(pid))).collect(java.util.stream.Collectors.toSet());
    }

    /** The state letter from /proc/PID/stat, or null when the pid is gone. */
    static String procState(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).split(" ")[0];
        } catch (IOException e) {
            return null;
        }
    }

    /** Field {@code index} (1-based as in proc(5)) of /proc/PID/stat. */
    static String statField(long pid, int index) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] rest = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return rest[index - 3];
    }

    /** Waits until the pid no longer exists at all (exited and reaped: no zombie). */
    static void awaitReaped(long pid) {
        await("pid " + pid + " exited and reaped (state now " + procState(pid) + ")", 10_000,
                () -> procState(pid) == null);
    }

    /** Waits until the process has exec'd the given program (so /proc shows its final state). */
    static void awaitExec(long pid, String comm) {
        await("pid " + pid + " running " + comm, 10_000, () -> {
            try {
                // comm changes early in execve, the argument area only later: wait for both
                return Files.readString(Path.of("/proc/" + pid + "/comm")).trim().equals(comm)
                        && !Files.readString(Path.of("/proc/" + pid + "/cmdline")).isEmpty();
            } catch (IOException e) {
                return false;
            }
        });
    }

    protected String listProcesses(ProtocolClient c) throws IOException { return c.send("list processes"); }

    /** Escapes spaces the way clients do ({@code a b} becomes {@code a\\ b}). */
    static String esc(String arg) { return arg.replace(" ", "\\ "); }

    /** Watches the pattern, expecting {@code n} processes, and acknowledges until nothing is left. */
    protected List<ProtocolClient.Item> watchAll(ProtocolClient c, String pattern, int n) throws IOException {
        c.writeLine("watch processes " + pattern);
        assertEquals("Watching " + n, c.readLine());
        return c.watchToEnd();
    }

    /** Makes a process and watches it to its end; returns every item. */
    protected List<ProtocolClient.Item> run(ProtocolClient c, String rest) throws IOException {
        Proc p = make(c, rest);
        List<ProtocolClient.Item> items = watchAll(c, p.name(), 1);
        ProtocolClient.Item last = items.get(items.size() - 1);
        assertEquals("closed", last.kind(), "the closed item comes last: " + items);
        return items;
    }

    /** Polls list processes until the named process is listed with running=False. */
    protected Proc awaitExited(ProtocolClient c, String name) throws IOException {
        Proc[] found = new Proc[1];
        awaitIo(name + " running=False", 10_000, () -> {
            String r = c.ok("list processes " + name);
            found[0] = parseProcess(r);
            return !found[0].running();
        });
        return found[0];
    }

    // ---------------------------------------------------------------- handshakes with a child

    /**
     * A fifo in the test's directory: a child blocks on {@code read x < FIFO} until {@link #release}.
     * Use one fifo per wait: a child that opens the same fifo again while the test's write end is
     * still open reads end-of-file and does not wait.
     */
    protected Path fifo(String name) throws Exception {
        Path f = tmp.resolve(name);
        Process p = new ProcessBuilder("mkfifo", f.toString()).inheritIO().start();
        assertTrue(p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) && p.exitValue() == 0, "mkfifo " + f);
        return f;
    }

    /** Lets the child waiting on {@code fifo} go on; fails if it does not open the fifo within 20 s. */
    protected static void release(Path fifo) throws Exception {
        Thread writer = new Thread(() -> {
            try {
                Files.writeString(fifo, "\n"); // open() blocks until the child opens its end
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, "release " + fifo.getFileName());
        writer.setDaemon(true);
        writer.start();
        writer.join(20_000);
        if (writer.isAlive()) {
            try (var unblock = Files.newInputStream(fifo)) { // open the read end ourselves: the writer finishes
                unblock.readAllBytes();
            }
            fail("the child never read " + fifo);
        }
    }

    /**
     * Waits until the daemon has captured {@code tail} as the last stdout of process {@code name}:
     * a watch on a fresh connection, closed without acknowledging (nothing is removed), polled.
     * A child that writes, then waits for {@link #release}, so has each write read as its own
     * chunk, however loaded the machine.
     */
    protected void awaitCapturedTail(String name, String tail) throws Exception {
        long deadline = System.currentTimeMillis() + 20_000;
        while (true) {
            String out;
            try (ProtocolClient w = ProtocolClient.tcp(port)) {
                w.writeLine("watch processes " + name);
                assertEquals("Watching 1", w.readLine());
                out = ProtocolClient.out(w.readBatch());
            }
            if (out.endsWith(tail)) return;
            assertTrue(System.currentTimeMillis() < deadline, name + " never captured [" + tail + "]; has [" + out + "]");
            Thread.sleep(10); // poll interval
        }
    }
}
