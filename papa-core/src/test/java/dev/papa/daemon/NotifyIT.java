package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * systemd's notify protocol and watchdog (docs/KEEPER.md, "systemd"), against a real
 * AF_UNIX SOCK_DGRAM socket standing in for systemd (src/test/resources/notify/fake_systemd.py,
 * which records each datagram with its sender's pid and the monotonic time): the packaged jar
 * run with NOTIFY_SOCKET and WATCHDOG_USEC, under the keeper and with {@code --no-keeper}.
 */
class NotifyIT {
    /** WATCHDOG_USEC of these tests: the keeper pings the loop every 100 ms and systemd every 200 ms. */
    private static final long WATCHDOG_MS = 400;
    private static final Pattern PID = Pattern.compile(" pid=(\\d+) ");

    @TempDir Path dir;
    private Process systemd;
    private Path messages;

    @AfterEach
    void stopSystemd() throws InterruptedException {
        if (systemd != null) {
            systemd.destroyForcibly();
            systemd.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** One KEY=VALUE line of a datagram: its number, when it came (CLOCK_MONOTONIC µs), who sent it. */
    record Line(int seq, long micros, int pid, String text) {
        static Line parse(String l) {
            String[] f = l.split(" ", 4);
            return new Line(Integer.parseInt(f[0]), Long.parseLong(f[1]), Integer.parseInt(f[2]), f.length > 3 ? f[3] : "");
        }
    }

    private void startSystemd(String address, Path portFile) throws Exception {
        messages = dir.resolve("notify.txt");
        Path script = Path.of(NotifyIT.class.getResource("/notify/fake_systemd.py").toURI());
        systemd = new ProcessBuilder("python3", script.toString(), address, messages.toString(), portFile.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("fake_systemd.log").toFile()).start();
        await(() -> Files.exists(Path.of(messages + ".ready")), "the notify socket");
    }

    private List<Line> lines() {
        try {
            List<Line> all = new ArrayList<>();
            for (String l : Files.readAllLines(messages)) if (!l.isEmpty() && Character.isDigit(l.charAt(0))) all.add(Line.parse(l));
            return all;
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The first line after datagram {@code afterSeq} that matches; waits for it. */
    private Line await(int afterSeq, Predicate<Line> what, String description) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (Line l : lines()) if (l.seq > afterSeq && what.test(l)) return l;
            Thread.sleep(10); // polling the file fake_systemd.py appends to
        }
        throw new AssertionError("no " + description + " after datagram " + afterSeq + "; got:\n" + String.join("\n", Files.readAllLines(messages)));
    }

    private static void await(java.util.function.BooleanSupplier c, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!c.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(10);
        }
    }

    private static Predicate<Line> is(String text) {
        return l -> l.text.equals(text);
    }

    /** CLOCK_MONOTONIC in µs: HotSpot's nanoTime on Linux, the clock of MONOTONIC_USEC and of the stand-in's times. */
    private static long monotonicMicros() {
        return System.nanoTime() / 1000;
    }

    /** WATCHDOG=1 pings from {@code pid} received in [from, to) (µs, monotonic). */
    private List<Long> pings(int pid, long from, long to) {
        return lines().stream().filter(l -> l.text.equals("WATCHDOG=1") && l.pid == pid && l.micros >= from && l.micros < to)
                .map(Line::micros).toList();
    }

    /** Pings every half interval: at least 2 s of them, none more than the interval apart. */
    private void assertPinging(int pid, String when) throws Exception {
        long from = monotonicMicros();
        Thread.sleep(2000);
        long to = monotonicMicros();
        List<Long> pings = pings(pid, from, to);
        long expected = (to - from) / (WATCHDOG_MS * 500); // one every half interval
        assertTrue(pings.size() >= expected * 6 / 10 && pings.size() <= expected * 14 / 10 + 1,
                when + ": " + pings.size() + " pings in " + (to - from) / 1000 + " ms, expected about " + expected);
        for (int i = 1; i < pings.size(); i++) {
            long gap = pings.get(i) - pings.get(i - 1);
            assertTrue(gap < WATCHDOG_MS * 1000, when + ": " + gap + " µs between two pings, more than the interval");
        }
    }

    /** The JVM stopped: the pings stop within the interval (and a tick); SIGCONT: they come back. */
    private void assertPingsStopWhileStopped(int sender, int jvm) throws Exception {
        dev.papa.posix.Processes.kill(jvm, 19); // SIGSTOP
        long stopped = monotonicMicros();
        try {
            Thread.sleep(3 * WATCHDOG_MS);
            List<Long> after = pings(sender, stopped + (WATCHDOG_MS + 150) * 1000, Long.MAX_VALUE);
            assertEquals(List.of(), after, "WATCHDOG=1 while the daemon JVM was stopped");
        } finally {
            dev.papa.posix.Processes.kill(jvm, 18); // SIGCONT
        }
        long resumed = monotonicMicros();
        Thread.sleep(WATCHDOG_MS + 300);
        assertFalse(pings(sender, resumed, Long.MAX_VALUE).isEmpty(), "the pings came back after SIGCONT");
    }

    private static int number(String key, String facts) {
        Matcher m = Pattern.compile("(?m)^" + key + "=(\\d+)$").matcher(facts);
        assertTrue(m.find(), key + " in " + facts);
        return Integer.parseInt(m.group(1));
    }

    private static String environ(int pid) throws IOException {
        return new String(Files.readAllBytes(Path.of("/proc/" + pid + "/environ")), StandardCharsets.UTF_8).replace('\0', '\n');
    }

    private static Process ctl(Path jar, int port, String... words) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(JarDaemon.java17(), "-jar", jar.toString(), "ctl", "-p", Integer.toString(port), "-t", "120"));
        cmd.addAll(List.of(words));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    private static String finish(Process p, int expectedStatus) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(180, TimeUnit.SECONDS));
        assertEquals(expectedStatus, p.exitValue(), out);
        return out;
    }

    @Test
    void theKeeperNotifiesSystemdAndPingsTheWatchdogOnlyWhileTheLoopAnswers() throws Exception {
        Path jar = JarDaemon.jar();
        Path portFile = dir.resolve("port");
        String address = "@papa-notify-it-" + ProcessHandle.current().pid() + "-" + System.nanoTime(); // abstract
        startSystemd(address, portFile);
        List<String> env = List.of("env", "NOTIFY_SOCKET=" + address, "WATCHDOG_USEC=" + WATCHDOG_MS * 1000);
        try (JarDaemon d = JarDaemon.start(env, JarDaemon.java17(), jar, List.of(), List.of("--port-file", portFile.toString()))) {
            int keeper = d.pid();
            // READY=1 from the keeper (the main pid), once the control port serves
            Line ready = await(0, is("READY=1"), "READY=1");
            assertEquals(keeper, ready.pid, "sent by the keeper, systemd's main pid");
            assertTrue(lines().stream().filter(l -> l.seq < ready.seq).allMatch(l -> l.text.equals("WATCHDOG=1")),
                    "nothing but watchdog pings before READY=1: " + lines());
            assertEquals("CONNECT=ok", await(ready.seq - 1, l -> l.text.startsWith("CONNECT="), "the connection at READY=1").text,
                    "the port served when READY=1 came");
            assertTrue(await(ready.seq - 1, l -> l.seq == ready.seq && l.text.startsWith("STATUS="), "STATUS").text
                    .startsWith("STATUS=serving (daemon pid "));

            int jvm;
            int hosted;
            try (ProtocolClient c = d.connect()) {
                c.ok("make socket web port=0");
                Path talker = Files.writeString(dir.resolve("talker.sh"), "echo hello; exec sleep 600\n");
                hosted = d.hosted(UpgradeIT.number(PID, c.ok("make process talker env.FOO=bar /bin/sh " + talker)));
                jvm = number("daemon", c.ok("list daemon"));
            }
            // the figures the loop answers the keeper's pings with
            Line figures = await(ready.seq, is("STATUS=serving: 1 processes, 1 sockets, 6 bytes queued"), "the figures in STATUS=");
            assertEquals(keeper, figures.pid);
            // neither the daemon JVM nor a hosted process sees systemd's variables: only the keeper notifies
            for (int pid : new int[] {jvm, hosted}) {
                String environ = environ(pid);
                assertFalse(environ.contains("NOTIFY_SOCKET") || environ.contains("WATCHDOG_"), pid + ": " + environ);
            }
            assertTrue(environ(hosted).startsWith("FOO=bar\n"), "the hosted process's env.* (and the PWD its sh sets)");

            assertPinging(keeper, "serving");
            assertPingsStopWhileStopped(keeper, jvm);
            assertPinging(keeper, "after SIGCONT");

            // an upgrade: RELOADING=1 with the monotonic time, then READY=1 once the new JVM took over;
            // ctl upgrade returns only then, and says it took
            int beforeUpgrade = lines().get(lines().size() - 1).seq;
            String out = finish(ctl(jar, d.port, "upgrade"), 0);
            assertTrue(out.contains("Upgrading to papa ") && out.contains("Serving: papa "), out);
            Line reloading = await(beforeUpgrade, is("RELOADING=1"), "RELOADING=1");
            Line monotonic = await(beforeUpgrade, l -> l.seq == reloading.seq && l.text.startsWith("MONOTONIC_USEC="), "MONOTONIC_USEC");
            long sent = Long.parseLong(monotonic.text.substring("MONOTONIC_USEC=".length()));
            assertTrue(sent <= monotonic.micros && monotonic.micros - sent < 1_000_000, "MONOTONIC_USEC " + sent + " received at " + monotonic.micros);
            Line upgraded = await(reloading.seq, is("READY=1"), "READY=1 after the upgrade");
            assertTrue(await(reloading.seq, l -> l.seq == upgraded.seq && l.text.startsWith("STATUS="), "its STATUS").text
                    .startsWith("STATUS=upgraded: the new daemon (pid "), lines().toString());
            assertEquals(keeper, upgraded.pid);
            int newJvm;
            try (ProtocolClient c = d.connect()) {
                newJvm = number("daemon", c.ok("list daemon"));
            }
            assertTrue(newJvm != jvm, "a new JVM serves");
            assertFalse(environ(newJvm).contains("NOTIFY_SOCKET"), "nor does the upgrade's JVM see NOTIFY_SOCKET");
            assertPinging(keeper, "after the upgrade");

            // an upgrade that fails taking over: READY=1 again, STATUS says it failed, ctl upgrade exits 1
            Path broken = Files.copy(jar, dir.resolve("papa-no-take-over.jar"), StandardCopyOption.REPLACE_EXISTING);
            try (java.nio.file.FileSystem zip = java.nio.file.FileSystems.newFileSystem(broken)) {
                Files.delete(zip.getPath("dev/papa/daemon/keeper/KeeperUpgrade$TakeOver.class"));
            }
            int beforeFailure = lines().get(lines().size() - 1).seq;
            out = finish(ctl(jar, d.port, "upgrade", broken.toString()), 1);
            assertTrue(out.contains("the upgrade did not take"), out);
            Line reloading2 = await(beforeFailure, is("RELOADING=1"), "RELOADING=1 of the failing upgrade");
            Line failed = await(reloading2.seq, is("READY=1"), "READY=1 after the failed upgrade");
            assertTrue(await(reloading2.seq, l -> l.seq == failed.seq && l.text.startsWith("STATUS="), "its STATUS").text
                    .startsWith("STATUS=upgrade failed ("), lines().toString());

            // SIGTERM: STOPPING=1, and the keeper ends as before (143)
            int beforeStop = lines().get(lines().size() - 1).seq;
            dev.papa.posix.Processes.kill(keeper, 15);
            assertTrue(d.process.waitFor(60, TimeUnit.SECONDS));
            assertEquals(143, d.process.exitValue());
            Line stopping = await(beforeStop, is("STOPPING=1"), "STOPPING=1");
            assertEquals(keeper, stopping.pid);
        }
    }

    @Test
    void withoutTheKeeperTheDaemonJvmNotifiesItself() throws Exception {
        Path jar = JarDaemon.jar();
        Path portFile = dir.resolve("port");
        String address = dir.resolve("notify.sock").toString(); // a path, this time
        startSystemd(address, portFile);
        List<String> env = List.of("env", "NOTIFY_SOCKET=" + address, "WATCHDOG_USEC=" + WATCHDOG_MS * 1000);
        try (JarDaemon d = JarDaemon.start(env, JarDaemon.java17(), jar, List.of(),
                List.of(JarDaemon.IN_PLACE, "--port-file", portFile.toString()))) {
            int jvm = d.pid(); // the main pid is the JVM's
            Line ready = await(0, is("READY=1"), "READY=1");
            assertEquals(jvm, ready.pid);
            assertEquals("CONNECT=ok", await(ready.seq - 1, l -> l.text.startsWith("CONNECT="), "the connection at READY=1").text);
            int hosted;
            try (ProtocolClient c = d.connect()) {
                hosted = d.hosted(UpgradeIT.number(PID, c.ok("make process sleeper /bin/sleep 600")));
            }
            assertEquals("", environ(hosted).trim(), "a hosted process's environment is its env.* only");
            assertPinging(jvm, "serving, no keeper");
            assertPingsStopWhileStopped(jvm, jvm);

            int beforeStop = lines().get(lines().size() - 1).seq;
            dev.papa.posix.Processes.kill(jvm, 15);
            assertTrue(d.process.waitFor(60, TimeUnit.SECONDS));
            assertEquals(143, d.process.exitValue());
            assertEquals(jvm, await(beforeStop, is("STOPPING=1"), "STOPPING=1").pid);
        }
    }
}
