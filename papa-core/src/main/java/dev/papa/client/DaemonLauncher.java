package dev.papa.client;

import dev.papa.posix.Child;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.SpawnSpec;
import dev.papa.posix.Spawner;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Starts papa daemons: the papa-core classes run by the same java binary as this JVM, detached
 * (a new session, stdin/stdout/stderr on /dev/null, umask 027, working directory {@code /}).
 * Used by client auto-start and by {@code --daemonize}.
 *
 * <p>System properties: {@code papa.daemon.classpath} (the daemon's class path; default: where
 * papa-core, papa-native and JNA were loaded from), {@code papa.daemon.jvmOptions} (extra JVM
 * options for an auto-started daemon, separated by spaces).
 */
public final class DaemonLauncher {
    /** The daemon's main class. */
    public static final String MAIN_CLASS = "dev.papa.Main";

    private DaemonLauncher() {
    }

    /** The java binary running this JVM. */
    public static String javaBinary() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /** The class path that runs the daemon. */
    public static String classpath() {
        String prop = System.getProperty("papa.daemon.classpath");
        if (prop != null && !prop.isBlank()) {
            return prop;
        }
        Set<String> parts = new LinkedHashSet<>();
        String own = codeSource(Papa.class);
        for (String cls : List.of("dev.papa.client.Papa", MAIN_CLASS, "dev.papa.posix.Spawner",
                "com.sun.jna.Native", "com.sun.jna.platform.linux.LibC")) {
            try {
                String cs = codeSource(Class.forName(cls, false, Papa.class.getClassLoader()));
                if (cs != null) {
                    parts.add(cs);
                }
            } catch (ClassNotFoundException | LinkageError e) {
                // not there: the class path below has to do
            }
        }
        if (own == null || new File(own).isDirectory()) {
            // Running from classes directories (tests, IDEs): add the whole class path too.
            for (String p : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
                if (!p.isEmpty()) {
                    parts.add(new File(p).getAbsolutePath());
                }
            }
        }
        return String.join(File.pathSeparator, parts);
    }

    private static String codeSource(Class<?> c) {
        try {
            CodeSource cs = c.getProtectionDomain().getCodeSource();
            URL url = cs == null ? null : cs.getLocation();
            return url == null ? null : Path.of(url.toURI()).toAbsolutePath().toString();
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    /** JVM options of this JVM worth passing on to a daemon it launches (heap, -D, -XX, native access). */
    public static List<String> inheritedJvmOptions() {
        List<String> r = new ArrayList<>();
        try {
            for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
                if (a.startsWith("-Xrunjdwp") || a.startsWith("-Xdebug") || a.startsWith("-agent")
                        || a.startsWith("-javaagent")) {
                    continue;
                }
                if (a.startsWith("-X") || a.startsWith("-D") || a.startsWith("--enable-native-access")) {
                    r.add(a);
                }
            }
        } catch (RuntimeException | LinkageError e) {
            // no management: no options
        }
        return r;
    }

    /** Extra JVM options for auto-started daemons, from {@code papa.daemon.jvmOptions}. */
    static List<String> configuredJvmOptions() {
        String p = System.getProperty("papa.daemon.jvmOptions", "").trim();
        return p.isEmpty() ? List.of() : Arrays.asList(p.split("\\s+"));
    }

    /**
     * JVM options every launched daemon starts with (docs/PERFORMANCE.md, "Launcher flags"):
     * a small, single-threaded collector, a young generation large enough that a 64 KiB chunk
     * is usually delivered before it would be promoted, a heap that shrinks back, C1 only (the
     * daemon's time is in syscalls), small stacks and code cache. No -Xmx: queued output lives
     * in the heap (bounded by the output budget, half the max heap). Out of heap anyway, the JVM
     * exits non-zero at once rather than limp on (docs/SECURITY.md). -XX:-MaxFDLimit: the JVM
     * leaves the open-files limit alone, so the daemon learns the one it was started with and
     * gives it to its children (it raises its own). Options given later override these.
     */
    public static final List<String> DAEMON_JVM_OPTIONS = List.of(
            "-XX:+ExitOnOutOfMemoryError", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xms32m", "-Xmn24m",
            "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30", "-Xss256k", "-XX:ReservedCodeCacheSize=16m",
            "-XX:MaxMetaspaceSize=64m", "-XX:-MaxFDLimit");

    /** {@code java [DAEMON_JVM_OPTIONS] [jvmOptions] -cp CLASSPATH dev.papa.Main [daemonArgs]}. */
    public static List<String> command(List<String> jvmOptions, List<String> daemonArgs) {
        List<String> c = new ArrayList<>();
        c.add(javaBinary());
        boolean nativeAccess = false;
        boolean collector = false;
        for (String o : jvmOptions) {
            nativeAccess |= o.startsWith("--enable-native-access");
            collector |= o.matches("-XX:\\+Use\\w*GC");
        }
        if (!nativeAccess) {
            c.add("--enable-native-access=ALL-UNNAMED");
        }
        for (String o : DAEMON_JVM_OPTIONS) {
            if (!(collector && o.equals("-XX:+UseSerialGC"))) c.add(o); // two collectors would not start
        }
        c.addAll(jvmOptions);
        c.add("-cp");
        c.add(classpath());
        c.add(MAIN_CLASS);
        c.addAll(daemonArgs);
        return c;
    }

    /**
     * The name of the program running this JVM, for {@code --launcher}: the jar's file name, or
     * the main class's simple name.
     */
    public static String programName() {
        String cmd = System.getProperty("sun.java.command", "").trim();
        if (!cmd.isEmpty()) {
            String first = cmd.split("\\s+")[0];
            if (first.endsWith(".jar")) {
                return Path.of(first).getFileName().toString();
            }
            int dot = first.lastIndexOf('.');
            return dot >= 0 ? first.substring(dot + 1) : first;
        }
        return "java";
    }

    /**
     * The daemon's environment: the launcher's, without systemd's socket-activation and notify
     * variables. A launcher that was itself socket-activated describes its own descriptors
     * there; the daemon receives none of them, and must not notify the launcher's manager.
     */
    public static Map<String, String> daemonEnvironment(Map<String, String> launcher) {
        Map<String, String> env = new LinkedHashMap<>(launcher);
        env.keySet().removeIf(k -> k.startsWith("LISTEN_") || k.equals("NOTIFY_SOCKET") || k.startsWith("WATCHDOG_"));
        return env;
    }

    /** Starts {@code command} detached. */
    public static Launched spawnDetached(List<String> command, Path logFile) throws PapaException {
        SpawnSpec spec = new SpawnSpec(command).env(daemonEnvironment(System.getenv())).workingDir("/").umask(0027).newSession(true)
                .stdout(SpawnSpec.Output.NULL).stderr(SpawnSpec.Output.NULL);
        Child child;
        try {
            child = Spawner.spawn(spec);
        } catch (PosixException e) {
            throw new PapaException(PapaException.Kind.START_FAILED,
                    "Could not start the papa daemon (" + String.join(" ", command) + "): " + e.getMessage(), e);
        } catch (RuntimeException | LinkageError e) {
            throw new PapaException(PapaException.Kind.START_FAILED,
                    "Could not start the papa daemon: " + e, e);
        }
        if (child.pidfd() != null) {
            child.pidfd().close();
        }
        if (child.stdout() != null) {
            child.stdout().close();
        }
        if (child.stderr() != null) {
            child.stderr().close();
        }
        return new Launched(child.pid(), command, logFile);
    }

    /** A temporary log file for a daemon started without {@code --log-file}. */
    public static Path tempLogFile(String hint) throws PapaException {
        try {
            return Files.createTempFile("papa-daemon-" + hint.replaceAll("[^A-Za-z0-9_.-]", "_") + "-", ".log");
        } catch (IOException e) {
            throw new PapaException(PapaException.Kind.START_FAILED, "Cannot create a log file for the papa daemon: " + e, e);
        }
    }

    /** The last {@code maxLines} lines of a log file (empty when it cannot be read). */
    public static String tail(Path file, int maxLines) {
        if (file == null) {
            return "";
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long len = f.length();
            int n = (int) Math.min(len, 16384);
            byte[] b = new byte[n];
            f.seek(len - n);
            f.readFully(b);
            String s = new String(b, StandardCharsets.UTF_8).stripTrailing();
            String[] lines = s.split("\n");
            int from = Math.max(0, lines.length - maxLines);
            return String.join("\n", Arrays.asList(lines).subList(from, lines.length));
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * Whether process {@code pid} has a socket listening on {@code endpoint}, from /proc; null when
     * that cannot be told.
     */
    /**
     * The address a unix socket was bound with is its path, or, in a directory others may
     * change, {@code /proc/self/fd/N/NAME} (docs/SECURITY.md, "Unix socket paths").
     */
    private static boolean boundAt(String address, Path path) {
        return address.equals(path.toString())
                || (address.startsWith("/proc/self/fd/") && address.endsWith("/" + path.getFileName()));
    }

    public static Boolean listensOn(int pid, Endpoint endpoint) {
        Set<String> inodes = new HashSet<>();
        try (var fds = Files.newDirectoryStream(Path.of("/proc", Integer.toString(pid), "fd"))) {
            for (Path fd : fds) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring(8, target.length() - 1));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException e) {
            return null;
        }
        try {
            if (endpoint.isUnix()) {
                for (String line : Files.readAllLines(Path.of("/proc/net/unix"))) {
                    String[] f = line.trim().split("\\s+", 8);
                    if (f.length == 8 && boundAt(f[7], endpoint.path()) && inodes.contains(f[6])
                            && (Long.parseLong(f[3], 16) & 0x10000) != 0) {
                        return true;
                    }
                }
                return false;
            }
            String port = String.format(":%04X", endpoint.port());
            for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
                Path p = Path.of(table);
                if (!Files.exists(p)) {
                    continue;
                }
                for (String line : Files.readAllLines(p)) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 9 && f[1].endsWith(port) && f[3].equals("0A") && inodes.contains(f[9])) {
                        return true;
                    }
                }
            }
            return false;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** A daemon started by this JVM. Its exit is collected by a small daemon thread. */
    public static final class Launched {
        private final int pid;
        private final List<String> command;
        private final Path logFile;
        private final CountDownLatch exited = new CountDownLatch(1);
        private volatile Integer status;

        Launched(int pid, List<String> command, Path logFile) {
            this.pid = pid;
            this.command = List.copyOf(command);
            this.logFile = logFile;
            Thread t = new Thread(() -> {
                try {
                    status = Processes.waitFor(pid);
                } catch (PosixException | RuntimeException e) {
                    status = Integer.MIN_VALUE;
                } finally {
                    exited.countDown();
                }
            }, "papa-daemon-reaper-" + pid);
            t.setDaemon(true);
            t.start();
        }

        public int pid() {
            return pid;
        }

        public List<String> command() {
            return command;
        }

        /** The daemon's log file, or null. */
        public Path logFile() {
            return logFile;
        }

        public boolean hasExited() {
            return exited.getCount() == 0;
        }

        /** The exit status (code, or -signal), or null while it runs. */
        public Integer exitStatus() {
            return hasExited() ? status : null;
        }

        /** Waits for the daemon to exit; true when it did. */
        public boolean awaitExit(Duration timeout) throws InterruptedException {
            return exited.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        /** A sentence on how it ended, with its log tail. */
        public String describeExit() {
            Integer s = exitStatus();
            String how = s == null ? "is running"
                    : s == Integer.MIN_VALUE ? "exited" : s < 0 ? "was killed by signal " + (-s)
                    : s == 2 ? "exited with status 2 (it did not accept its options)" : "exited with status " + s;
            return "The papa daemon (pid " + pid + ") " + how + logTailText();
        }

        String logTailText() {
            String t = tail(logFile, 15);
            if (t.isEmpty()) {
                return ". It logged nothing; run " + String.join(" ", command.subList(command.indexOf(MAIN_CLASS), command.size()))
                        + " in the foreground (java -jar papa-core.jar OPTIONS) to see its errors";
            }
            return ". Last lines of its log " + logFile + ":\n" + t;
        }

        /** Deletes the log file when it is empty (after a failed start nothing will write to it). */
        public void discardEmptyLog() {
            try {
                if (logFile != null && Files.size(logFile) == 0) {
                    Files.deleteIfExists(logFile);
                }
            } catch (IOException e) {
                // leave it
            }
        }
    }
}
