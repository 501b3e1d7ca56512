package dev.papa.daemon.hardening;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A daemon in its own JVM, stopped with SIGKILL at the end: for tests that change process-wide
 * state (signals, resource limits, uids), which must never be the shared test JVM's.
 */
public final class DaemonJvm implements AutoCloseable {
    public final Process process;
    /** The TCP port it listens on; -1 for a daemon on a unix control socket. */
    public final int port;
    final Path log;

    private DaemonJvm(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    static String classpath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isEmpty() ? cp : System.getProperty("java.class.path");
    }

    /**
     * Starts the daemon's JVM as {@code uid} (setpriv, no supplementary groups) on a copy of the
     * class path that this user can read (the build's may be under /root).
     */
    static DaemonJvm startAs(int uid, String... extraArgs) throws Exception {
        Path copy = Files.createTempDirectory("papa-cp");
        List<String> entries = new ArrayList<>();
        int i = 0;
        for (String entry : classpath().split(java.io.File.pathSeparator)) {
            Path from = Path.of(entry);
            if (!Files.exists(from)) continue;
            Path to = copy.resolve(i++ + "-" + from.getFileName());
            try (var files = Files.walk(from)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.copy(f, to.resolve(from.relativize(f).toString()));
                }
            }
            entries.add(to.toString());
        }
        try (var files = Files.walk(copy)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString(
                        Files.isDirectory(f) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        List<String> prefix = List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups");
        DaemonJvm d = start(prefix, String.join(java.io.File.pathSeparator, entries), List.of(), null, extraArgs);
        d.classpathCopy = copy;
        return d;
    }

    private Path classpathCopy;

    /** Starts {@code prefix... java ... Main -p 0 extraArgs...}, reads the port it got and waits for its greeting. */
    public static DaemonJvm start(List<String> prefix, String... extraArgs) throws Exception {
        return start(prefix, classpath(), List.of(), null, extraArgs);
    }

    /** As {@link #start(List, String...)}, with more JVM options after the defaults (a later -Xmx wins; a collector replaces Serial). */
    static DaemonJvm start(List<String> prefix, List<String> jvmOptions, String... extraArgs) throws Exception {
        return start(prefix, classpath(), jvmOptions, null, extraArgs);
    }

    /** {@code prefix... java ... Main -u SOCKET extraArgs...}; waits until it greets a client there. */
    public static DaemonJvm startUnix(List<String> prefix, Path socket, String... extraArgs) throws Exception {
        return start(prefix, classpath(), List.of(), socket, extraArgs);
    }

    private static DaemonJvm start(List<String> prefix, String classpath, List<String> jvmOptions, Path unixSocket,
                                   String... extraArgs) throws Exception {
        Path log = Files.createTempFile("papa-daemon", ".log");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xss512k", "-XX:-MaxFDLimit"));
        if (jvmOptions.stream().noneMatch(o -> o.matches("-XX:\\+Use\\w+GC"))) cmd.add("-XX:+UseSerialGC"); // two collectors: the JVM refuses to start
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", classpath, "dev.papa.Main"));
        cmd.addAll(unixSocket == null ? List.of("-p", "0") : List.of("-u", unixSocket.toString()));
        cmd.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(cmd).directory(new java.io.File("/")).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        int port = -1;
        try {
            if (unixSocket == null) port = dev.papa.daemon.ListeningLine.port(p, log, java.time.Duration.ofSeconds(30));
            else dev.papa.daemon.ListeningLine.where(p, log, java.time.Duration.ofSeconds(30));
        } catch (RuntimeException e) {
            p.destroyForcibly();
            throw e;
        }
        DaemonJvm d = new DaemonJvm(p, port, log);
        // it said it listens: the first connection must be greeted
        try (Conn c = unixSocket == null ? Conn.tcp(port, 10_000) : Conn.unix(unixSocket)) {
            c.expectGreeting();
            return d;
        } catch (IOException | RuntimeException | AssertionError e) {
            d.close();
            throw e;
        }
    }

    public long pid() {
        return process.pid();
    }

    public String logText() throws IOException {
        return Files.readString(log);
    }

    /** How many descriptors the daemon's process has open now (its /proc/PID/fd). */
    public int openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc", Long.toString(pid()), "fd"))) {
            return (int) s.count();
        }
    }

    /** Sets the daemon process's soft RLIMIT_NOFILE with prlimit(1), from outside: the test JVM's stays. */
    public void setNofileSoft(long soft) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("prlimit", "--pid", Long.toString(pid()), "--nofile=" + soft + ":")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException("prlimit: " + out);
    }

    @Override
    public void close() throws Exception {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
        Files.deleteIfExists(log);
        if (classpathCopy != null) {
            try (var files = Files.walk(classpathCopy)) {
                for (Path f : (Iterable<Path>) files.sorted(java.util.Comparator.reverseOrder())::iterator) Files.delete(f);
            }
        }
    }
}
