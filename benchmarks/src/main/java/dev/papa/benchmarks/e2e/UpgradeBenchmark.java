package dev.papa.benchmarks.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How long an in-place upgrade keeps the daemon from serving, with N processes and N sockets
 * (issue 15). A probe connects, reads the greeting, asks {@code get x} and closes, over and over;
 * the outage is the longest gap between two answered probes around each upgrade. The floor of
 * any re-exec is a JVM start, so the same run also times {@code java FLAGS -jar papa-core.jar --help}.
 *
 * By default the daemon runs under the keeper and the new JVM starts beside the serving one
 * (docs/KEEPER.md, "Upgrading"): the floor is then no JVM start at all. {@code --no-keeper}
 * measures the in-place upgrade (re-execution of the same pid).
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.papa.benchmarks.e2e.UpgradeBenchmark [--n 1000] [--upgrades 5] [--jar PATH] [--no-keeper]</pre>
 */
public final class UpgradeBenchmark {
    /** The launcher's flags (DaemonLauncher.DAEMON_JVM_OPTIONS). */
    static final List<String> FLAGS = List.of("--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-Xms32m", "-Xmn24m", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30",
            "-Xss256k", "-XX:ReservedCodeCacheSize=16m", "-XX:MaxMetaspaceSize=64m");
    private static final Pattern LISTENING = Pattern.compile("papa: listening on 127\\.0\\.0\\.1:(\\d+)");
    private static final byte[] GREETING = "Papa is home. Type \"help\" for commands.\n> ".getBytes(StandardCharsets.US_ASCII);

    public static void main(String[] args) throws Exception {
        int n = 1000;
        int upgrades = 5;
        Path jar = null;
        boolean keeper = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--keeper": keeper = true; break;
                case "--no-keeper": keeper = false; break;
                case "--n": n = Integer.parseInt(args[++i]); break;
                case "--upgrades": upgrades = Integer.parseInt(args[++i]); break;
                case "--jar": jar = Path.of(args[++i]); break;
                default: throw new IllegalArgumentException("usage: UpgradeBenchmark [--n N] [--upgrades K] [--jar PATH] [--no-keeper]");
            }
        }
        if (jar == null) jar = LoadHarness.findJar();
        jar = jar.toAbsolutePath(); // upgrade takes an absolute path only
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        System.out.println(keeper ? "papa upgrade benchmark, under the keeper (the new JVM starts beside the serving one)"
                : "papa in-place upgrade benchmark");
        System.out.println("date:    " + Instant.now());
        System.out.println("jar:     " + jar);
        System.out.println("JDK:     " + LoadHarness.runtimeVersion(java));
        System.out.println("cores:   " + Runtime.getRuntime().availableProcessors() + ", loadavg at start: "
                + Files.readString(Path.of("/proc/loadavg")).trim());
        System.out.println("n:       " + n + " processes (/bin/sleep) + " + n + " sockets, " + upgrades + " upgrades");
        System.out.println();

        for (int i = 0; i < 3; i++) {
            long t = System.nanoTime();
            List<String> cmd = new ArrayList<>(List.of(java));
            cmd.addAll(FLAGS);
            cmd.addAll(List.of("-jar", jar.toString(), "--help"));
            new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
            System.out.printf(Locale.ROOT, "raw floor: java FLAGS -jar papa-core.jar --help took %.0f ms%n", (System.nanoTime() - t) / 1e6);
        }

        Path dir = Files.createTempDirectory("papa-upgrade-bench");
        Path log = dir.resolve("daemon.log");
        Path err = dir.resolve("daemon.err");
        List<String> cmd = new ArrayList<>(List.of(java));
        cmd.addAll(FLAGS);
        cmd.addAll(List.of("-jar", jar.toString(), "-p", "0", "--log-file", log.toString()));
        if (!keeper) cmd.add("--no-keeper");
        Process daemon = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile()).start();
        List<Integer> pids = new ArrayList<>();
        try {
            int port = awaitPort(daemon, err);
            long t = System.nanoTime();
            try (Session s = new Session(port)) {
                s.ask("set x 1");
                for (int i = 0; i < n; i++) s.ask("make socket s" + i + " port=0");
                for (int i = 0; i < n; i++) {
                    Matcher m = Pattern.compile(" pid=(\\d+) ").matcher(s.ask("make process p" + i + " /bin/sleep 3600"));
                    if (!m.find()) throw new IllegalStateException("make process failed");
                    pids.add(Integer.parseInt(m.group(1)));
                }
            }
            System.out.printf(Locale.ROOT, "%nset up %d sockets and %d processes in %.1f s; daemon (or keeper) pid %d, %d descriptors%n",
                    n, n, (System.nanoTime() - t) / 1e9, daemon.pid(), descriptors(daemon.pid()));

            for (int u = 1; u <= upgrades; u++) {
                int before = upgradesSoFar(port);
                Probe probe = new Probe(port);
                Thread th = new Thread(probe, "probe");
                th.start();
                Thread.sleep(300); // probes answered before the request, for the gap's left edge
                long asked = System.nanoTime();
                String reply;
                try (Session s = new Session(port)) {
                    reply = s.askLine("upgrade " + jar);
                }
                long replied = System.nanoTime();
                if (!reply.startsWith("Upgrading")) throw new IllegalStateException("upgrade " + u + " failed: " + reply);
                awaitServing(port);
                Thread.sleep(300);
                probe.stop.set(true);
                th.join();
                if (upgradesSoFar(port) != before + 1) throw new IllegalStateException("upgrade " + u + " did not take (list daemon's upgrades=)");
                System.out.printf(Locale.ROOT, "upgrade %d: %s; %s (still serving) %.0f ms; not serving for %.0f ms "
                                + "(longest gap between answered probes; %d probes, %d failed)%n",
                        u, reply, keeper ? "pre-check and the new JVM's start" : "pre-check", (replied - asked) / 1e6, probe.longestGapNanos / 1e6, probe.answered, probe.failed);
            }
            try (Session s = new Session(port)) {
                String procs = s.ask("list processes");
                int running = procs.split("running=True", -1).length - 1;
                int sockets = s.ask("list sockets").split(" fileno=", -1).length - 1;
                System.out.printf(Locale.ROOT, "%nafter: daemon pid %d alive=%s, %d of %d processes running, %d sockets%n",
                        daemon.pid(), daemon.isAlive(), running, n, sockets);
            }
            System.out.println("\ndaemon log (its own timings):");
            for (String line : Files.readAllLines(log)) {
                if (line.contains("Upgrading to") || line.contains("Restored") || line.contains("papa keeper: upgrade")) {
                    System.out.println("  " + line);
                }
            }
        } finally {
            for (int pid : pids) new ProcessBuilder("kill", "-9", Integer.toString(pid)).start().waitFor();
            daemon.destroyForcibly();
            daemon.waitFor();
        }
    }

    /** Upgrades the daemon went through, as list daemon says: an upgrade that failed after its reply does not count. */
    private static int upgradesSoFar(int port) throws IOException {
        try (Session s = new Session(port)) {
            Matcher m = Pattern.compile("(?m)^upgrades=(\\d+)$").matcher(s.ask("list daemon"));
            if (!m.find()) throw new IllegalStateException("list daemon says no upgrades=");
            return Integer.parseInt(m.group(1));
        }
    }

    private static int descriptors(long pid) {
        String[] fds = Path.of("/proc/" + pid + "/fd").toFile().list();
        return fds == null ? -1 : fds.length;
    }

    private static int awaitPort(Process p, Path err) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            Matcher m = LISTENING.matcher(Files.readString(err));
            if (m.find()) return Integer.parseInt(m.group(1));
            if (!p.isAlive()) throw new IllegalStateException("daemon exited: " + Files.readString(err));
            Thread.sleep(10); // polling the daemon's stderr for its line
        }
        throw new IllegalStateException("daemon did not start");
    }

    private static void awaitServing(int port) throws IOException {
        try (Session s = new Session(port)) {
            s.ask("get x");
        }
    }

    /** One control session with blocking reads. */
    static final class Session implements AutoCloseable {
        final Socket socket = new Socket();
        final InputStream in;
        final OutputStream out;

        Session(int port) throws IOException {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 60_000);
            socket.setSoTimeout(120_000);
            socket.setTcpNoDelay(true);
            in = socket.getInputStream();
            out = socket.getOutputStream();
            byte[] g = in.readNBytes(GREETING.length);
            if (g.length != GREETING.length) throw new IOException("no greeting");
        }

        /** A request and its reply up to the prompt. */
        String ask(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            StringBuilder sb = new StringBuilder();
            int b;
            while ((b = in.read()) >= 0) {
                sb.append((char) b);
                int len = sb.length();
                if (len >= 3 && sb.charAt(len - 3) == '\n' && sb.charAt(len - 2) == '>' && sb.charAt(len - 1) == ' ') break;
            }
            if (sb.toString().startsWith("Error:")) throw new IOException(line + ": " + sb);
            return sb.toString();
        }

        /** A request answered by one line. */
        String askLine(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            StringBuilder sb = new StringBuilder();
            int b;
            while ((b = in.read()) >= 0 && b != '\n') sb.append((char) b);
            return sb.toString();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** Asks {@code get x} on a new connection, again and again, and keeps the longest gap between answers. */
    static final class Probe implements Runnable {
        final int port;
        final AtomicBoolean stop = new AtomicBoolean();
        long longestGapNanos;
        int answered;
        int failed;

        Probe(int port) {
            this.port = port;
        }

        @Override
        public void run() {
            long last = System.nanoTime();
            while (!stop.get()) {
                try (Session s = new Session(port)) {
                    s.ask("get x");
                    long now = System.nanoTime();
                    longestGapNanos = Math.max(longestGapNanos, now - last);
                    last = now;
                    answered++;
                } catch (IOException e) {
                    failed++;
                }
            }
        }
    }
}
