package dev.papa.daemon.hardening;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A daemon in its own JVM (for signals and resource limits), stopped with SIGKILL at the end. */
final class DaemonJvm implements AutoCloseable {
    final Process process;
    final int port;
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
        DaemonJvm d = start(prefix, String.join(java.io.File.pathSeparator, entries), List.of(), extraArgs);
        d.classpathCopy = copy;
        return d;
    }

    private Path classpathCopy;

    /** Starts {@code prefix... java ... Main -p 0 extraArgs...}, reads the port it got and waits for its greeting. */
    static DaemonJvm start(List<String> prefix, String... extraArgs) throws Exception {
        return start(prefix, classpath(), List.of(), extraArgs);
    }

    /** As {@link #start(List, String...)}, with more JVM options after the defaults (a later -Xmx wins). */
    static DaemonJvm start(List<String> prefix, List<String> jvmOptions, String... extraArgs) throws Exception {
        return start(prefix, classpath(), jvmOptions, extraArgs);
    }

    private static DaemonJvm start(List<String> prefix, String classpath, List<String> jvmOptions, String... extraArgs) throws Exception {
        Path log = Files.createTempFile("papa-daemon", ".log");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-XX:-MaxFDLimit"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", classpath, "dev.papa.Main", "-p", "0"));
        cmd.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(cmd).directory(new java.io.File("/")).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        int port;
        try {
            port = dev.papa.daemon.ListeningLine.port(p, log, java.time.Duration.ofSeconds(30));
        } catch (RuntimeException e) {
            p.destroyForcibly();
            throw e;
        }
        DaemonJvm d = new DaemonJvm(p, port, log);
        try (Conn c = Conn.tcp(port, 10_000)) { // it said it listens: the first connection must be greeted
            c.expectGreeting();
            return d;
        } catch (IOException | RuntimeException | AssertionError e) {
            d.close();
            throw e;
        }
    }

    long pid() {
        return process.pid();
    }

    String logText() throws IOException {
        return Files.readString(log);
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
