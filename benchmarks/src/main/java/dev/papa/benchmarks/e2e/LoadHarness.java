package dev.papa.benchmarks.e2e;

import dev.papa.posix.Child;
import dev.papa.posix.Processes;
import dev.papa.posix.SpawnSpec;
import dev.papa.posix.Spawner;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * End-to-end load harness (issue 5): starts the real daemon ({@code java -jar papa-core.jar -p 0},
 * with the same java as this JVM) and measures it through the raw protocol on 127.0.0.1, each figure
 * beside the raw limit of the machine measured in the same run, with PASS/MISS against the targets.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.papa.benchmarks.e2e.LoadHarness [--quick]
 *      [--jar papa-core/target/papa-core.jar] [--java PATH] [--jvm-flags "FLAGS"] [--default-flags]
 * </pre>
 * Every loop is bounded in count and in time; every process started is killed at the end (pids
 * from the replies), and the daemon is stopped.
 */
public final class LoadHarness {
    /** The flags proposed for the daemon's launcher (see docs/PERFORMANCE.md for why). */
    static final String RECOMMENDED_FLAGS = "-XX:+UseSerialGC -Xms32m -Xmn24m -XX:MaxHeapFreeRatio=30 -XX:MinHeapFreeRatio=10"
            + " -Xss256k -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=16m -XX:MaxMetaspaceSize=64m";
    static final int TIMEOUT_MS = 30_000;

    // sizes
    final boolean quick;
    final long throughputBytes;
    final int throughputRuns;
    final int latencySamples;
    final int spawnCount;
    final int[] scaleSteps;
    final int idleSessions;

    final String java;
    final Path jar;
    final List<String> daemonFlags;
    /** Options of the daemon itself, after {@code -jar papa-core.jar -p 0} ({@code --daemon-options}). */
    /**
     * The daemon runs alone: its figures (CPU, RSS, syscalls) are the daemon JVM's, read from the
     * pid started; the keeper is not on the output path (docs/KEEPER.md has its own figures).
     */
    List<String> daemonOptions = List.of("--no-keeper");
    final Path work;
    final List<Row> rows = new ArrayList<>();
    final Set<Integer> childPids = new LinkedHashSet<>();
    Process daemon;
    int port;
    Set<String> sections = Set.of("1", "2", "3", "4", "5", "6", "7", "8");
    /** Fleet runs (section 8): processes x period in ms; steady-state seconds each. */
    List<int[]> fleets;
    int fleetSeconds;
    /** Section 8 over a unix socket (daemon {@code -u}, the relay likewise) instead of TCP. */
    boolean fleetUnix;

    LoadHarness(boolean quick, String java, Path jar, List<String> daemonFlags) throws IOException {
        this.quick = quick;
        this.java = java;
        this.jar = jar;
        this.daemonFlags = daemonFlags;
        throughputBytes = quick ? 32L << 20 : 256L << 20;
        throughputRuns = quick ? 1 : 3;
        latencySamples = quick ? 100 : 500; // one line per 10 ms
        spawnCount = quick ? 100 : 500;
        scaleSteps = quick ? new int[] {200, 1000} : new int[] {1000, 5000};
        idleSessions = quick ? 200 : 1000;
        fleets = quick ? List.of(new int[] {100, 10}) : List.of(new int[] {100, 10}, new int[] {500, 20}, new int[] {1000, 50});
        fleetSeconds = quick ? 5 : 10;
        work = Files.createTempDirectory("papa-bench");
    }

    public static void main(String[] args) throws Exception {
        boolean quick = false;
        String java = ProcessHandle.current().info().command().orElse("java");
        Path jar = null;
        String flags = RECOMMENDED_FLAGS;
        String sections = "1,2,3,4,5,6,7,8";
        String fleets = null;
        int fleetSeconds = -1;
        boolean fleetUnix = false;
        String options = "";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick": quick = true; break;
                case "--jar": jar = Path.of(args[++i]); break;
                case "--java": java = args[++i]; break;
                case "--jvm-flags": flags = args[++i]; break;
                case "--default-flags": flags = ""; break;
                case "--daemon-options": options = args[++i]; break;
                case "--sections": sections = args[++i]; break;
                case "--fleet": fleets = args[++i]; break;
                case "--fleet-seconds": fleetSeconds = Integer.parseInt(args[++i]); break;
                case "--fleet-unix": fleetUnix = true; break;
                default:
                    System.err.println("usage: LoadHarness [--quick] [--jar PAPA_CORE_JAR] [--java PATH] [--jvm-flags \"FLAGS\"] [--default-flags] [--daemon-options \"OPTIONS\"]"
                            + " [--sections 1,2,3,4,5,6,7,8] [--fleet N:PERIOD_MS,...] [--fleet-seconds S] [--fleet-unix]");
                    System.exit(2);
            }
        }
        if (jar == null) jar = findJar();
        List<String> daemonFlags = flags.isBlank() ? List.of() : Arrays.asList(flags.trim().split("\\s+"));
        LoadHarness h = new LoadHarness(quick, java, jar, daemonFlags);
        h.sections = Set.of(sections.split(","));
        if (!options.isBlank()) {
            List<String> given = new ArrayList<>(List.of("--no-keeper"));
            given.addAll(Arrays.asList(options.trim().split("\\s+")));
            h.daemonOptions = given;
        }
        if (fleets != null) {
            List<int[]> runs = new ArrayList<>();
            for (String f : fleets.split(",")) {
                String[] np = f.split(":");
                runs.add(new int[] {Integer.parseInt(np[0]), Integer.parseInt(np[1])});
            }
            h.fleets = runs;
        }
        if (fleetSeconds > 0) h.fleetSeconds = fleetSeconds;
        h.fleetUnix = fleetUnix;
        int code = h.run();
        System.exit(code);
    }

    static Path findJar() {
        Path cwd = Path.of("papa-core/target/papa-core.jar");
        if (Files.exists(cwd)) return cwd.toAbsolutePath();
        try {
            Path self = Path.of(LoadHarness.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path sibling = self.getParent().getParent().getParent().resolve("papa-core/target/papa-core.jar");
            if (Files.exists(sibling)) return sibling;
        } catch (Exception ignored) {
            // fall through
        }
        throw new IllegalStateException("papa-core.jar not found: build it (mvn -DskipTests package) or pass --jar");
    }

    int run() throws Exception {
        long t0 = System.nanoTime();
        printHeader();
        try {
            if (sections.contains("6")) startupAndIdle();
            daemon = startDaemon(daemonFlags);
            System.out.println("daemon under test: pid " + daemon.pid() + ", port " + port);
            // Scale first, on a fresh daemon: RSS growth per process is only meaningful before a
            // burst has grown the heap. Throughput last: it grows the heap the most.
            if (sections.contains("4")) scale();
            if (sections.contains("3")) spawn();
            if (sections.contains("2")) latency("latency (no other sessions)", null);
            if (sections.contains("5")) sessions();
            if (sections.contains("1")) throughput();
            if (sections.contains("7")) backpressure();
            if (sections.contains("8")) {
                section("8. fleet: N processes, each watched by its own session (fresh daemon each)");
                Fleet fleet = new Fleet(this);
                for (int[] f : fleets) fleet.run(f[0], f[1], fleetSeconds);
            }
        } finally {
            cleanup();
        }
        printTable();
        System.out.printf(Locale.ROOT, "%nTotal harness time: %.1f s; loadavg at end: %s%n", (System.nanoTime() - t0) / 1e9,
                Files.readString(Path.of("/proc/loadavg")).trim());
        return 0;
    }

    void printHeader() throws IOException {
        String load = Files.readString(Path.of("/proc/loadavg")).trim();
        System.out.println("papa end-to-end load harness" + (quick ? " (--quick)" : " (full)"));
        System.out.println("date:    " + DateTimeFormatter.ISO_INSTANT.format(Instant.now().truncatedTo(ChronoUnit.SECONDS)));
        System.out.println("commit:  " + commit());
        System.out.println("daemon:  " + java + " " + String.join(" ", daemonFlags) + " -jar " + jar + " " + String.join(" ", daemonOptions));
        System.out.println("JDK:     " + runtimeVersion(java));
        System.out.println("cores:   " + Runtime.getRuntime().availableProcessors() + ", loadavg at start: " + load);
        System.out.println("kernel:  " + Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
        System.out.println();
    }

    /** The commit the harness runs in (git, in the working directory), "-dirty" with uncommitted changes. */
    static String commit() {
        try {
            Process p = new ProcessBuilder("git", "describe", "--always", "--dirty", "--abbrev=12").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 ? out : "? (" + out + ")";
        } catch (Exception e) {
            return "? (" + e + ")";
        }
    }

    static String runtimeVersion(String java) {
        try {
            Process p = new ProcessBuilder(java, "-version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            String[] lines = out.split("\n");
            return lines.length > 1 ? lines[1].trim() : out.trim();
        } catch (Exception e) {
            return "?";
        }
    }

    // ------------------------------------------------------------------ daemon

    int daemonsStarted;
    Path daemonLog;

    /** Starts {@code java FLAGS -jar papa-core.jar -p 0} and reads the port it got from its stderr. */
    Process startDaemon(List<String> flags) throws IOException, InterruptedException {
        return startDaemon(flags, null);
    }

    /** The same on the unix socket {@code unix} ({@code -u PATH}) when it is not null. */
    Process startDaemon(List<String> flags, Path unix) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(flags);
        cmd.add("-jar");
        cmd.add(jar.toString());
        cmd.add(unix == null ? "-p" : "-u");
        cmd.add(unix == null ? "0" : unix.toString());
        cmd.addAll(daemonOptions);
        daemonLog = work.resolve("daemon-" + (++daemonsStarted) + ".log");
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(daemonLog.toFile()).start();
        lastStartNanos = System.nanoTime();
        if (unix == null) awaitGreeting(p);
        else awaitListening(p);
        return p;
    }

    long lastStartNanos;
    double lastStartupMillis;
    private static final Pattern LISTENING =
            Pattern.compile("(?m)^papa: listening on 127\\.0\\.0\\.1:(\\d+)$");

    /** Polls the daemon's stderr every 2 ms (bounded: 30 s) for its listening line; returns the log up to then. */
    String awaitListening(Process p) throws IOException, InterruptedException {
        long deadline = lastStartNanos + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String log = Files.readString(daemonLog);
            int at = log.indexOf("papa: listening on ");
            if (at >= 0 && log.indexOf('\n', at) > 0) return log; // the whole line, not a part of it
            if (!p.isAlive()) throw new IOException("daemon exited: " + log);
            sleep(2);
        }
        throw new IOException("daemon did not say where it listens within 30 s: " + Files.readString(daemonLog));
    }

    /** Waits for the listening line (TCP), takes the port from it, then the greeting. */
    void awaitGreeting(Process p) throws IOException, InterruptedException {
        Matcher m = LISTENING.matcher(awaitListening(p));
        if (!m.find()) throw new IOException("daemon does not listen on 127.0.0.1: " + Files.readString(daemonLog));
        port = Integer.parseInt(m.group(1));
        try (Conn c = Conn.open(port, 5000)) {
            lastStartupMillis = (System.nanoTime() - lastStartNanos) / 1e6;
        }
    }

    void stopDaemon(Process p) throws InterruptedException {
        if (p == null) return;
        p.destroy(); // SIGTERM: the shutdown hook closes the daemon
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    static long[] status(long pid) {
        long rss = -1, threads = -1;
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (l.startsWith("VmRSS:")) rss = Long.parseLong(l.replaceAll("[^0-9]", ""));
                if (l.startsWith("Threads:")) threads = Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        } catch (IOException e) {
            // gone
        }
        return new long[] {rss, threads};
    }

    /** utime + stime of a process, from /proc/PID/stat (USER_HZ = 100). */
    static long cpuMillis(long pid) {
        try {
            String st = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * Threads of the daemon that are not JIT compiler threads: HotSpot starts and retires
     * compiler threads on demand (UseDynamicNumberOfCompilerThreads), which says nothing about N.
     */
    static int nonJitThreads(long pid) {
        File[] tasks = new File("/proc/" + pid + "/task").listFiles();
        if (tasks == null) return -1;
        int n = 0;
        for (File t : tasks) {
            try {
                String comm = Files.readString(t.toPath().resolve("comm")).trim();
                if (!comm.contains("CompilerThre")) n++;
            } catch (IOException gone) {
                // thread ended
            }
        }
        return n;
    }

    static int fdCount(long pid) {
        String[] l = new File("/proc/" + pid + "/fd").list();
        return l == null ? -1 : l.length;
    }

    // ------------------------------------------------------------------ 6. start-up and idle RSS

    void startupAndIdle() throws Exception {
        section("6. start-up and idle RSS");
        List<List<String>> variants = new ArrayList<>();
        variants.add(List.of());
        if (!daemonFlags.isEmpty()) variants.add(daemonFlags);
        for (List<String> flags : variants) {
            double[] startup = new double[quick ? 1 : 3];
            long rss = 0, threads = 0;
            for (int i = 0; i < startup.length; i++) {
                Process p = startDaemon(flags);
                try {
                    startup[i] = lastStartupMillis;
                    try (Conn c = Conn.open(port, TIMEOUT_MS)) {
                        c.command("list processes");
                        c.command("help");
                    }
                    sleep(quick ? 1000 : 2000);
                    long[] st = status(p.pid());
                    rss = st[0];
                    threads = st[1];
                } finally {
                    stopDaemon(p);
                }
            }
            Arrays.sort(startup);
            String label = flags.isEmpty() ? "JVM defaults" : "launcher flags";
            System.out.printf(Locale.ROOT, "  %s: start-up %s ms (runs: %s), idle RSS %.1f MiB, %d threads%n",
                    label, f1(startup[startup.length / 2]), Arrays.toString(startup), rss / 1024.0, threads);
            rows.add(new Row("idle RSS (" + label + ")", String.format(Locale.ROOT, "%.1f MiB, %d threads", rss / 1024.0, threads),
                    "", "<= 64 MiB", rss <= 64 * 1024));
            rows.add(new Row("start-up to first accepted connection (" + label + ")", f1(startup[startup.length / 2]) + " ms",
                    "", "(reported)", null));
        }
    }

    // ------------------------------------------------------------------ 1. throughput

    void throughput() throws Exception {
        section("1. lossless throughput");
        long count = throughputBytes / 65536;
        // raw limit and papa interleaved, run by run, so both see the same load on a shared machine
        double rawBest = 0, relayBest = 0, best = 0;
        boolean relay = true;
        for (int r = 0; r < throughputRuns; r++) {
            long t = System.nanoTime();
            Process p = new ProcessBuilder("/bin/sh", "-c", "dd if=/dev/zero bs=64k count=" + count + " status=none | cat > /dev/null")
                    .redirectErrorStream(true).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("dd | cat took over 120 s");
            }
            double raw = throughputBytes / 1e6 / ((System.nanoTime() - t) / 1e9);
            rawBest = Math.max(rawBest, raw);
            System.out.printf(Locale.ROOT, "  run %d: raw dd | cat: %.0f MB/s%n", r + 1, raw);
            if (relay) {
                double mbs = relay(count);
                relay = mbs >= 0;
                if (relay) {
                    relayBest = Math.max(relayBest, mbs);
                    System.out.printf(Locale.ROOT, "  run %d: raw dd | socat -> TCP -> socat: %.0f MB/s%n", r + 1, mbs);
                }
            }
            double mbs = watchedDd("tp" + r, "bufsize=1g", count);
            if (mbs > 0) best = Math.max(best, mbs);
            System.out.printf(Locale.ROOT, "  run %d: papa / raw of the same run: %.0f%%%n", r + 1, 100 * mbs / raw);
        }
        long[] st = status(daemon.pid());
        System.out.printf(Locale.ROOT, "  daemon RSS right after: %.1f MiB%n", st[0] / 1024.0);
        double ratio = best / rawBest;
        rows.add(new Row("1. lossless throughput, " + (throughputBytes >> 20) + " MiB, best of " + throughputRuns,
                String.format(Locale.ROOT, "%.0f MB/s (%.0f%%)", best, 100 * ratio),
                String.format(Locale.ROOT, "dd|cat %.0f MB/s", rawBest), ">= 50% of raw", ratio >= 0.5));
        rows.add(new Row("1. the same against a TCP relay", String.format(Locale.ROOT, "%.0f MB/s", best),
                relayBest > 0 ? String.format(Locale.ROOT, "dd|socat->TCP->socat %.0f MB/s", relayBest) : "socat not installed",
                "(reported)", null));
        // idle RSS after load: the heap the burst needed, given back?
        sleep(quick ? 2000 : 5000);
        st = status(daemon.pid());
        rows.add(new Row("RSS " + (quick ? 2 : 5) + " s after the throughput runs", String.format(Locale.ROOT, "%.1f MiB", st[0] / 1024.0),
                "", "<= 64 MiB", st[0] <= 64 * 1024));
    }

    /**
     * {@code dd | socat -> TCP 127.0.0.1 -> socat > /dev/null}: what one loopback TCP hop costs
     * the same bytes; MB/s, or -1 (said once) when socat is not installed.
     */
    double relay(long count) throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/socat")) && !Files.isExecutable(Path.of("/bin/socat"))) {
            System.out.println("  socat is not installed (apt-get install socat): the TCP relay is not measured");
            return -1;
        }
        int relayPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            relayPort = s.getLocalPort();
        }
        Process sink = new ProcessBuilder("socat", "-u", "TCP-LISTEN:" + relayPort + ",bind=127.0.0.1,reuseaddr", "OPEN:/dev/null")
                .redirectErrorStream(true).start();
        long t = System.nanoTime();
        Process src = new ProcessBuilder("/bin/sh", "-c", "dd if=/dev/zero bs=64k count=" + count
                + " status=none | socat -u STDIN TCP:127.0.0.1:" + relayPort + ",retry=100,interval=0.01").redirectErrorStream(true).start();
        boolean done = src.waitFor(120, TimeUnit.SECONDS) && sink.waitFor(120, TimeUnit.SECONDS);
        double secs = (System.nanoTime() - t) / 1e9;
        if (!done || src.exitValue() != 0) {
            src.destroyForcibly();
            sink.destroyForcibly();
            System.out.println("  relay failed: " + new String(src.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                    + new String(sink.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            return -1;
        }
        return throughputBytes / 1e6 / secs;
    }

    /**
     * {@code dd} of {@code count} × 64 KiB zeros through the daemon to one watcher that
     * acknowledges every batch; prints the run; returns MB/s, or 0 when anything was lost.
     */
    double watchedDd(String name, String options, long count) throws Exception {
        long expected = count * 65536;
        long[] received = new long[1];
        long[] nonZero = new long[1];
        int[] exit = {Integer.MIN_VALUE};
        long t;
        long cpuDaemon0 = cpuMillis(daemon.pid());
        long cpuSelf0 = cpuMillis(ProcessHandle.current().pid());
        try (Conn c = new Conn(port, TIMEOUT_MS, 1 << 20)) {
            c.readReply();
            t = System.nanoTime();
            c.send("make process " + name + " " + options + " watch=1 /bin/dd if=/dev/zero bs=64k count=" + count + " status=none\n");
            c.readLine();
            recordPid(c.lineText());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            Conn.Sink check = (b, off, len) -> {
                for (int i = off; i < off + len; i++) if (b[i] != 0) nonZero[0]++;
            };
            boolean more = true;
            for (int batches = 0; more && batches < 10_000_000 && System.nanoTime() < deadline; batches++) {
                more = Watcher.readBatch(c, (kind, n, nl, micros, value, conn) -> {
                    if (kind == Watcher.CLOSED) exit[0] = (int) value;
                    else received[0] += conn.readBytes(value, check);
                });
                if (more) c.send("\n");
            }
        }
        double secs = (System.nanoTime() - t) / 1e9;
        double mbs = received[0] / 1e6 / secs;
        long cpuDaemon = cpuMillis(daemon.pid()) - cpuDaemon0;
        long cpuSelf = cpuMillis(ProcessHandle.current().pid()) - cpuSelf0;
        System.out.printf(Locale.ROOT, "  %s (%s): %.2f s wall; CPU: daemon %d ms (%.2f s/GB), watcher %d ms%n",
                name, options, secs, cpuDaemon, cpuDaemon / 1000.0 / (received[0] / 1e9), cpuSelf);
        boolean lossless = received[0] == expected && nonZero[0] == 0 && exit[0] == 0;
        System.out.printf(Locale.ROOT, "  papa (dd -> daemon -> watcher, acked): %.0f MB/s, %d bytes received, %s%n",
                mbs, received[0], lossless ? "lossless" : "LOSS/ERROR (exit " + exit[0] + ")");
        return lossless ? mbs : 0;
    }

    // ------------------------------------------------------------------ 7. back-pressure

    /**
     * overflow=block with a 2 MiB buffer against the same transfer with a 1 GiB one (which never
     * fills), interleaved run by run so that both see the same machine load.
     */
    void backpressure() throws Exception {
        section("7. back-pressure: bufsize=2m overflow=block vs bufsize=1g");
        long count = throughputBytes / 65536;
        int runs = quick ? 2 : 5;
        double[] block = new double[runs], big = new double[runs];
        for (int r = 0; r < runs; r++) {
            big[r] = watchedDd("bp1g" + r, "bufsize=1g", count);
            block[r] = watchedDd("bp2m" + r, "bufsize=2m overflow=block", count);
        }
        double[] b = block.clone(), g = big.clone();
        Arrays.sort(b);
        Arrays.sort(g);
        double mb = median(b, 0, runs), mg = median(g, 0, runs);
        boolean lossless = b[0] > 0 && g[0] > 0;
        System.out.printf(Locale.ROOT, "  median of %d: block 2m %.0f MB/s, 1g %.0f MB/s (%.0f%%); best %.0f vs %.0f MB/s%n",
                runs, mb, mg, 100 * mb / mg, b[runs - 1], g[runs - 1]);
        rows.add(new Row("7. overflow=block bufsize=2m, " + (throughputBytes >> 20) + " MiB, median of " + runs,
                String.format(Locale.ROOT, "%.0f MB/s (%.0f%%)", mb, 100 * mb / mg),
                String.format(Locale.ROOT, "bufsize=1g %.0f MB/s", mg), ">= 70% of 1g, lossless", lossless && mb >= 0.7 * mg));
    }

    // ------------------------------------------------------------------ 2. latency

    double[] latency(String label, String note) throws Exception {
        section("2. " + label);
        Path script = work.resolve("clock.py");
        if (!Files.exists(script)) {
            Files.writeString(script, String.join("\n",
                    "import sys, time",
                    "n = int(sys.argv[1]); period = float(sys.argv[2])",
                    "out = sys.stdout",
                    "nxt = time.time()",
                    "for i in range(n):",
                    "    out.write('%.6f\\n' % time.time()); out.flush()",
                    "    nxt += period",
                    "    d = nxt - time.time()",
                    "    if d > 0: time.sleep(d)",
                    ""));
        }
        long[] capture = new long[latencySamples + 16];
        long[] write = new long[latencySamples + 16];
        int[] nc = {0}, nw = {0};
        String name = "lat" + System.nanoTime() % 100000;
        try (Conn c = new Conn(port, TIMEOUT_MS, 65536)) {
            c.readReply();
            c.send("make process " + name + " watch=1 /usr/bin/python3 " + script + " " + latencySamples + " 0.01\n");
            c.readLine();
            recordPid(c.lineText());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(latencySamples / 100 + 30);
            byte[] chunk = new byte[65536];
            boolean more = true;
            for (int batches = 0; more && batches < 100_000 && System.nanoTime() < deadline; batches++) {
                more = Watcher.readBatch(c, (kind, n, nl, micros, value, conn) -> {
                    if (kind == Watcher.CLOSED) return;
                    int len = (int) value;
                    byte[] data = len <= chunk.length ? chunk : new byte[len];
                    int[] at = {0};
                    conn.readBytes(len, (b, off, k) -> {
                        System.arraycopy(b, off, data, at[0], k);
                        at[0] += k;
                    });
                    long now = nowMicros();
                    if (kind != Watcher.OUT) return;
                    if (nc[0] < capture.length) capture[nc[0]++] = now - micros;
                    int start = 0;
                    for (int i = 0; i < len; i++) {
                        if (data[i] == '\n') {
                            if (nw[0] < write.length) write[nw[0]++] = now - Watcher.parseMicros(data, start, i);
                            start = i + 1;
                        }
                    }
                });
                if (more) c.send("\n");
            }
        }
        long[] cap = Arrays.copyOf(capture, nc[0]);
        long[] wr = Arrays.copyOf(write, nw[0]);
        Arrays.sort(cap);
        Arrays.sort(wr);
        System.out.printf(Locale.ROOT, "  %d chunks, %d lines%n", cap.length, wr.length);
        System.out.printf(Locale.ROOT, "  capture->delivery: p50 %s ms, p99 %s ms, max %s ms%n", ms(pct(cap, 50)), ms(pct(cap, 99)), ms(max(cap)));
        System.out.printf(Locale.ROOT, "  write->delivery:   p50 %s ms, p99 %s ms, max %s ms%n", ms(pct(wr, 50)), ms(pct(wr, 99)), ms(max(wr)));
        String suffix = note == null ? "" : " " + note;
        double p50 = pct(cap, 50) / 1000.0, p99 = pct(cap, 99) / 1000.0;
        rows.add(new Row("2. latency capture->delivery p50 / p99 / max" + suffix,
                ms(pct(cap, 50)) + " / " + ms(pct(cap, 99)) + " / " + ms(max(cap)) + " ms",
                "", "p50 <= 0.5, p99 <= 2 ms", p50 <= 0.5 && p99 <= 2.0));
        rows.add(new Row("   latency write->delivery p50 / p99 / max" + suffix,
                ms(pct(wr, 50)) + " / " + ms(pct(wr, 99)) + " / " + ms(max(wr)) + " ms",
                "", "(reported)", null));
        return new double[] {p50, p99};
    }

    static long nowMicros() {
        Instant i = Instant.now();
        return i.getEpochSecond() * 1_000_000L + i.getNano() / 1000;
    }

    static long pct(long[] sorted, int p) {
        if (sorted.length == 0) return -1;
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static long max(long[] sorted) {
        return sorted.length == 0 ? -1 : sorted[sorted.length - 1];
    }

    static String ms(long micros) {
        return String.format(Locale.ROOT, "%.3f", micros / 1000.0);
    }

    // ------------------------------------------------------------------ 3. spawn

    void spawn() throws Exception {
        section("3. spawn rate");
        // Raw limits, like the daemon: start /bin/true without waiting for it (reap all at the end).
        // (a) the same native spawner (clone(CLONE_VM|CLONE_VFORK)+exec in libpapa), in this JVM;
        long t = System.nanoTime();
        int[] spawned = new int[spawnCount];
        for (int i = 0; i < spawnCount; i++) {
            Child ch = Spawner.spawn(new SpawnSpec(List.of("/bin/true")).stdout(SpawnSpec.Output.NULL).stderr(SpawnSpec.Output.NULL));
            ch.pidfd().close();
            spawned[i] = ch.pid();
        }
        double raw = spawnCount / ((System.nanoTime() - t) / 1e9);
        for (int pid : spawned) Processes.waitFor(pid);
        // (b) glibc posix_spawn from python3, outside any JVM.
        double rawPy = -1;
        Process py = new ProcessBuilder("python3", "-c", String.join("\n",
                "import os, time",
                "n = " + spawnCount,
                "t = time.time(); pids = [os.posix_spawn('/bin/true', ['/bin/true'], {}) for i in range(n)]",
                "d = time.time() - t",
                "[os.waitpid(p, 0) for p in pids]",
                "print(n / d)")).redirectErrorStream(true).start();
        String pyOut = new String(py.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (py.waitFor(60, TimeUnit.SECONDS)) {
            try {
                rawPy = Double.parseDouble(pyOut);
            } catch (NumberFormatException e) {
                System.out.println("  python3 posix_spawn: " + pyOut);
            }
        } else {
            py.destroyForcibly();
        }
        System.out.printf(Locale.ROOT, "  raw: Spawner in-process %.0f /s; python3 os.posix_spawn %.0f /s (no wait, reaped at the end)%n", raw, rawPy);
        try (Conn c = Conn.open(port, TIMEOUT_MS)) {
            for (String mode : new String[] {"bufsize=0", "captured"}) {
                String prefix = mode.equals("bufsize=0") ? "sz" : "sc";
                String opt = mode.equals("bufsize=0") ? " bufsize=0" : "";
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                t = System.nanoTime();
                int done = 0;
                for (int i = 0; i < spawnCount && System.nanoTime() < deadline; i++, done++) {
                    recordPid(c.command("make process " + prefix + i + opt + " /bin/true"));
                }
                double rate = done / ((System.nanoTime() - t) / 1e9);
                c.command("remove processes " + prefix + "*");
                System.out.printf(Locale.ROOT, "  make process /bin/true (%s): %.0f /s%n", mode, rate);
                rows.add(new Row("3. spawns/s, " + spawnCount + " sequential make process /bin/true, " + mode,
                        String.format(Locale.ROOT, "%.0f /s", rate), String.format(Locale.ROOT, "Spawner %.0f, posix_spawn %.0f /s", raw, rawPy),
                        ">= 1000 /s", rate >= 1000));
            }
        }
    }

    // ------------------------------------------------------------------ 4. scale

    void scale() throws Exception {
        section("4. scale: hosted sleep processes");
        long pid = daemon.pid();
        sleep(500);
        long[] st0 = status(pid);
        int fd0 = fdCount(pid);
        int thr0 = nonJitThreads(pid);
        int max = scaleSteps[scaleSteps.length - 1];
        double[] spawnMs = new double[max];
        List<Integer> pids = new ArrayList<>();
        System.out.printf(Locale.ROOT, "  before: RSS %.1f MiB, %d threads, %d fds%n", st0[0] / 1024.0, st0[1], fd0);
        try (Conn c = Conn.open(port, TIMEOUT_MS)) {
            int n = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
            for (int step : scaleSteps) {
                for (; n < step && System.nanoTime() < deadline; n++) {
                    long t = System.nanoTime();
                    String r = c.command(String.format(Locale.ROOT, "make process sl%05d /bin/sleep 3600", n));
                    spawnMs[n] = (System.nanoTime() - t) / 1e6;
                    pids.add(recordPid(r));
                }
                sleep(300);
                long[] st = status(pid);
                int fds = fdCount(pid);
                int thr = nonJitThreads(pid);
                double[] listMs = new double[3];
                int listBytes = 0;
                for (int i = 0; i < listMs.length; i++) {
                    long t = System.nanoTime();
                    String l = c.command("list processes");
                    listMs[i] = (System.nanoTime() - t) / 1e6;
                    listBytes = l.length();
                }
                Arrays.sort(listMs);
                double first = spawnMs[0];
                double firstWin = median(spawnMs, 0, Math.min(50, n));
                double lastWin = median(spawnMs, Math.max(0, n - 50), n);
                double growth = (st[0] - st0[0]) * 1024.0 / n;
                System.out.printf(Locale.ROOT, "  N=%d: RSS %.1f MiB (+%.1f KiB/process), %d threads, %d fds (+%.2f/process), "
                                + "make process #1 %.3f ms, median #1-50 %.3f ms, #%d %.3f ms, median last 50 %.3f ms, list processes %.2f ms (%d bytes)%n",
                        n, st[0] / 1024.0, growth / 1024, st[1], fds, (fds - fd0) / (double) n, first, firstWin, n, spawnMs[n - 1], lastWin,
                        listMs[1], listBytes);
                rows.add(new Row("4. N=" + n + ": threads (all / without JIT compiler threads)", st[1] + " / " + thr,
                        "before: " + st0[1] + " / " + thr0, "constant in N", thr == thr0));
                rows.add(new Row("   N=" + n + ": RSS growth per hosted process", String.format(Locale.ROOT, "%.1f KiB", growth / 1024),
                        String.format(Locale.ROOT, "RSS %.1f -> %.1f MiB", st0[0] / 1024.0, st[0] / 1024.0), "<= 16 KiB", growth <= 16 * 1024));
                rows.add(new Row("   N=" + n + ": make process #N vs #1 (median of last 50 vs first 50)",
                        String.format(Locale.ROOT, "%.3f vs %.3f ms (x%.2f)", lastWin, firstWin, lastWin / firstWin),
                        String.format(Locale.ROOT, "#1 %.3f, #%d %.3f ms", first, n, spawnMs[n - 1]), "<= 2x", lastWin <= 2 * firstWin));
                rows.add(new Row("   N=" + n + ": list processes", String.format(Locale.ROOT, "%.2f ms (%d KiB)", listMs[1], listBytes / 1024),
                        "", "(reported)", null));
                rows.add(new Row("   N=" + n + ": descriptors per hosted process", String.format(Locale.ROOT, "%.2f", (fds - fd0) / (double) n),
                        "pidfd + stdout + stderr pipes", "(reported)", null));
            }
            c.command("remove processes sl*");
        } finally {
            killAll(pids);
        }
        awaitEmpty("sl*");
        // Control: the same 50 spawns again on the now empty daemon, right after N=max, so the
        // machine's load drift during the run does not pass for growth with N.
        List<Integer> ctlPids = new ArrayList<>();
        double[] ctl = new double[50];
        try (Conn c = Conn.open(port, TIMEOUT_MS)) {
            for (int i = 0; i < ctl.length; i++) {
                long t = System.nanoTime();
                String r = c.command(String.format(Locale.ROOT, "make process ctl%02d /bin/sleep 3600", i));
                ctl[i] = (System.nanoTime() - t) / 1e6;
                ctlPids.add(recordPid(r));
            }
            c.command("remove processes ctl*");
        } finally {
            killAll(ctlPids);
        }
        awaitEmpty("ctl*");
        double ctlMedian = median(ctl, 0, ctl.length);
        double lastWin = median(spawnMs, Math.max(0, max - 50), max);
        System.out.printf(Locale.ROOT, "  control: median of 50 make process on the emptied daemon right after: %.3f ms (at N=%d: %.3f ms)%n",
                ctlMedian, max, lastWin);
        rows.add(new Row("   make process at N=" + max + " vs right after on the emptied daemon (control)",
                String.format(Locale.ROOT, "%.3f vs %.3f ms (x%.2f)", lastWin, ctlMedian, lastWin / ctlMedian),
                "", "<= 2x", lastWin <= 2 * ctlMedian));
    }

    static double median(double[] a, int from, int to) {
        if (to <= from) return Double.NaN;
        double[] s = Arrays.copyOfRange(a, from, to);
        Arrays.sort(s);
        return s[s.length / 2];
    }

    // ------------------------------------------------------------------ 5. sessions

    void sessions() throws Exception {
        section("5. " + idleSessions + " idle sessions");
        List<Conn> idle = new ArrayList<>();
        long[] before = status(daemon.pid());
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            for (int i = 0; i < idleSessions && System.nanoTime() < deadline; i++) idle.add(Conn.open(port, TIMEOUT_MS));
            long[] st = status(daemon.pid());
            System.out.printf(Locale.ROOT, "  %d sessions open: RSS %.1f MiB (was %.1f), %d threads (was %d)%n",
                    idle.size(), st[0] / 1024.0, before[0] / 1024.0, st[1], before[1]);
            rows.add(new Row("5. " + idle.size() + " idle sessions: RSS, threads",
                    String.format(Locale.ROOT, "%.1f MiB, %d threads", st[0] / 1024.0, st[1]),
                    String.format(Locale.ROOT, "before: %.1f MiB, %d threads", before[0] / 1024.0, before[1]), "(reported)", null));
            latency("latency with " + idle.size() + " idle sessions", "(" + idle.size() + " idle sessions)");
        } finally {
            for (Conn c : idle) c.close();
        }
    }

    // ------------------------------------------------------------------ bookkeeping

    /** Remembers the pid of a {@code make process} reply line; returns it. */
    int recordPid(String reply) {
        int i = reply.indexOf(" pid=");
        if (i < 0) return -1;
        int j = reply.indexOf(' ', i + 5);
        int pid = Integer.parseInt(reply.substring(i + 5, j < 0 ? reply.length() : j));
        childPids.add(pid);
        return pid;
    }

    static void killAll(List<Integer> pids) {
        for (int p : pids) ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
    }

    void awaitEmpty(String pattern) throws Exception {
        try (Conn c = Conn.open(port, TIMEOUT_MS)) {
            for (int i = 0; i < 200; i++) {
                if (c.command("list processes " + pattern).isEmpty()) return;
                sleep(50);
            }
        }
    }

    void cleanup() throws Exception {
        // Every process the daemon started for us: kill what still runs (pids from the replies).
        int alive = 0;
        for (int p : childPids) {
            var h = ProcessHandle.of(p);
            if (h.isPresent() && h.get().isAlive() && h.get().parent().map(pp -> daemon != null && pp.pid() == daemon.pid()).orElse(false)) {
                h.get().destroyForcibly();
                alive++;
            }
        }
        if (alive > 0) System.out.println("cleanup: killed " + alive + " leftover processes");
        stopDaemon(daemon);
        try (var files = Files.list(work)) {
            for (Path f : (Iterable<Path>) files::iterator) Files.deleteIfExists(f);
        }
        Files.deleteIfExists(work);
    }

    static void sleep(long ms) throws InterruptedException {
        Thread.sleep(ms);
    }

    static void section(String s) {
        System.out.println("== " + s);
    }

    static String f1(double d) {
        return String.format(Locale.ROOT, "%.1f", d);
    }

    record Row(String metric, String value, String raw, String target, Boolean pass) {}

    void printTable() {
        int w0 = 11, w1 = 4, w2 = 20, w3 = 6;
        for (Row r : rows) {
            w0 = Math.max(w0, r.metric.length());
            w1 = Math.max(w1, r.value.length());
            w2 = Math.max(w2, r.raw.length());
            w3 = Math.max(w3, r.target.length());
        }
        System.out.println();
        String fmt = "| %-" + w0 + "s | %-" + w1 + "s | %-" + w2 + "s | %-" + w3 + "s | %-6s |%n";
        System.out.printf(Locale.ROOT, fmt, "measurement", "papa", "raw limit (same run)", "target", "result");
        System.out.printf(Locale.ROOT, fmt, "-".repeat(w0), "-".repeat(w1), "-".repeat(w2), "-".repeat(w3), "------");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, fmt, r.metric, r.value, r.raw, r.target, r.pass == null ? "" : r.pass ? "PASS" : "MISS");
        }
    }
}
