package dev.papa.cli;

import dev.papa.client.DaemonLauncher;
import dev.papa.client.Papa;
import dev.papa.client.ProcInfo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(180)
class DaemonizeTest {
    Path dir;
    final List<Long> daemons = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("papa-daemonize-");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (long pid : daemons) {
            ProcInfo.kill(pid);
        }
        try (var s = Files.walk(dir)) {
            s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        }
    }

    record Run(int exit, String out, String err, long pid) {
    }

    /**
     * {@code java ... --daemonize ARGS} in a JVM of its own, as a user would run it (through
     * {@link Daemonize#main}, which {@code dev.papa.Main --daemonize} delegates to).
     */
    static Run daemonize(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(DaemonLauncher.javaBinary(), "--enable-native-access=ALL-UNNAMED",
                "-cp", DaemonLauncher.classpath(), Daemonize.class.getName(), "--daemonize"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().close();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("--daemonize did not return");
        }
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8), p.pid());
    }

    @Test
    void daemonizeDetachesSetsTheTitleAndReturns() throws Exception {
        Path sock = dir.resolve("papa.sock");
        Path log = dir.resolve("daemon.log");
        Run r = daemonize("-u", sock.toString(), "--log-file", log.toString(), "--launcher", "circusd");
        long pid = r.out.isBlank() ? -1 : Long.parseLong(r.out.trim());
        if (pid > 0) {
            daemons.add(pid);
        }
        assertEquals(0, r.exit, "stdout: " + r.out + "\nstderr: " + r.err);
        assertTrue(pid > 0, r.out);
        // It accepts connections now.
        try (Papa papa = Papa.builder().path(sock).autoStart(false).timeout(Duration.ofSeconds(5)).connect()) {
            papa.set("daemonized", "yes");
            assertEquals("yes", papa.get("daemonized"));
        }
        String[] stat = ProcInfo.stat(pid);
        assertEquals(Long.toString(pid), stat[3], "sid == pid");
        assertNotEquals(Long.toString(r.pid), stat[1], "the launcher is not its parent");
        assertNotEquals(Long.toString(ProcessHandle.current().pid()), stat[1]);
        assertTrue(ProcInfo.cmdline(pid).startsWith("papa daemon from circusd"), ProcInfo.cmdline(pid));
        assertEquals("/", ProcInfo.link(pid, "cwd"));
        assertEquals("0027", ProcInfo.status(pid, "Umask"));
        assertEquals("/dev/null", ProcInfo.link(pid, "fd/0"));
        assertEquals("/dev/null", ProcInfo.link(pid, "fd/1"));
        assertEquals("/dev/null", ProcInfo.link(pid, "fd/2"));

        // A second --daemonize on the same socket refuses, and says why.
        Run again = daemonize("-u", sock.toString());
        assertEquals(1, again.exit, again.err);
        assertTrue(again.err.contains("already running"), again.err);
    }

    /**
     * {@code --daemonize --keeper}: the printed pid is the keeper's (the started JVM became it
     * in the same pid), detached like a daemon; its child, the daemon JVM, killed with SIGKILL,
     * comes back with the value it held.
     */
    @Test
    void daemonizeWithTheKeeperPrintsTheKeepersPidAndTheDaemonComesBackAfterSigkill() throws Exception {
        Path sock = dir.resolve("papa.sock");
        Run r = daemonize("--keeper", "-u", sock.toString(), "--log-file", dir.resolve("daemon.log").toString(), "--launcher", "circusd");
        long keeper = r.out.isBlank() ? -1 : Long.parseLong(r.out.trim());
        if (keeper > 0) daemons.add(keeper);
        assertEquals(0, r.exit, "stdout: " + r.out + "\nstderr: " + r.err);
        assertEquals("papa keeper from circusd", ProcInfo.cmdline(keeper));
        String[] stat = ProcInfo.stat(keeper);
        assertEquals(Long.toString(keeper), stat[3], "sid == pid");
        assertNotEquals(Long.toString(r.pid), stat[1], "the launcher is not its parent");
        assertEquals("/dev/null", ProcInfo.link(keeper, "fd/1"));
        long jvm = daemonJvm(keeper);
        try (Papa papa = Papa.builder().path(sock).autoStart(false).timeout(Duration.ofSeconds(5)).connect()) {
            papa.set("kept", "yes");
        }
        ProcessHandle.of(jvm).orElseThrow().destroyForcibly(); // SIGKILL
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (Papa papa = Papa.builder().path(sock).autoStart(false).timeout(Duration.ofSeconds(5)).connect()) {
                assertEquals("yes", papa.get("kept"));
                break;
            } catch (dev.papa.client.PapaException notYet) {
                assertTrue(System.nanoTime() < deadline, "the daemon did not come back: " + notYet);
                Thread.sleep(20); // until the keeper's new JVM serves
            }
        }
        assertNotEquals(jvm, daemonJvm(keeper), "a new daemon JVM");
        assertTrue(ProcInfo.alive(keeper), "the keeper lives on");
    }

    /** The keeper's one java child (its hosted processes here: none). */
    private static long daemonJvm(long keeper) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (ProcessHandle h : ProcessHandle.of(keeper).orElseThrow().children().toList()) {
                if (h.info().command().orElse("").endsWith("java")) return h.pid();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the keeper " + keeper + " runs no daemon JVM");
    }

    /** In a directory others may change the socket is bound through its directory descriptor: still found listening. */
    @Test
    void aSocketUnderADirectoryOthersMayChange() throws Exception {
        Path shared = Files.createDirectory(dir.resolve("shared"));
        Files.setPosixFilePermissions(shared, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        Path sub = Files.createDirectory(shared.resolve("sub"));
        Path sock = sub.resolve("papa.sock");
        Run r = daemonize("-u", sock.toString());
        long pid = r.out.isBlank() ? -1 : Long.parseLong(r.out.trim());
        if (pid > 0) daemons.add(pid);
        assertEquals(0, r.exit, "stdout: " + r.out + "\nstderr: " + r.err);
        try (Papa papa = Papa.builder().path(sock).autoStart(false).timeout(Duration.ofSeconds(5)).connect()) {
            papa.set("k", "v");
            assertEquals("v", papa.get("k"));
        }
    }

    @Test
    void aFailingDaemonIsExplained() throws Exception {
        Path sock = dir.resolve("missing/dir/papa.sock");
        Run r = daemonize("-u", sock.toString());
        assertEquals(1, r.exit, r.out + r.err);
        assertEquals("", r.out);
        // the launcher says which daemon failed, how, and what the daemon logged about why
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                "papa: The papa daemon \\(pid \\d+\\) exited with status 1\\. Last lines of its log (/\\S*papa-daemon-\\S*\\.log):\n"
                + "\\S+ SEVERE DaemonMain: cannot start: cannot listen on " + java.util.regex.Pattern.quote(sock.toString())
                + ": No such file or directory\n").matcher(r.err);
        boolean matched = m.matches();
        if (m.reset().find()) Files.deleteIfExists(Path.of(m.group(1)));
        assertTrue(matched, r.err);
    }
}
