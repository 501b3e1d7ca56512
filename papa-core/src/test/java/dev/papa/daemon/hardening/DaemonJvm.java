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

    /** Starts {@code prefix... java ... Main -p 0 extraArgs...}, reads the port it got and waits for its greeting. */
    static DaemonJvm start(List<String> prefix, String... extraArgs) throws Exception {
        Path log = Files.createTempFile("papa-daemon", ".log");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
                "-cp", classpath(), "dev.papa.Main", "-p", "0"));
        cmd.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
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
    }
}
