package dev.papa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The jar users run, {@code target/papa-core.jar} (built by the package phase; this runs in
 * integration-test), with {@code java -jar} on Java 17 and no other option: the daemon, and
 * {@code ctl} against it. Nothing but the daemon's own two lines may appear on its stderr.
 */
@Timeout(120)
class ShippedJarIT {
    static final Path JAR = Path.of(System.getProperty("papa.jar", "target/papa-core.jar"));

    @TempDir Path tmp;

    /** A Java 17 {@code java}: the one running the build, else one under /usr/lib/jvm. */
    static String java17() throws IOException {
        if (Runtime.version().feature() == 17) return Path.of(System.getProperty("java.home"), "bin", "java").toString();
        try (var dirs = Files.list(Path.of("/usr/lib/jvm"))) {
            return dirs.filter(d -> d.getFileName().toString().matches("(java-|temurin-|openjdk-)?17.*"))
                    .map(d -> d.resolve("bin/java")).filter(Files::isExecutable).findFirst()
                    .orElseThrow(() -> new AssertionError("no Java 17 JDK under /usr/lib/jvm")).toString();
        }
    }

    record Run(int code, String out, String err) {}

    Run ctl(String java, int port, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java, "-jar", JAR.toString(), "ctl", "-p", Integer.toString(port)));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(tmp, "ctl", ".out"), err = Files.createTempFile(tmp, "ctl", ".err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "ctl " + String.join(" ", args) + " did not finish");
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void daemonAndCtlFromTheJarOnJava17() throws Exception {
        assertTrue(Files.isRegularFile(JAR), JAR.toAbsolutePath() + " is built by the package phase");
        String java = java17();
        Process version = new ProcessBuilder(java, "-version").redirectErrorStream(true).start();
        String v = new String(version.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(v.contains("version \"17"), v);

        Path stderr = tmp.resolve("daemon.err");
        Process daemon = new ProcessBuilder(java, "-jar", JAR.toString(), "-p", "0")
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(stderr.toFile()).start();
        try {
            int port = dev.papa.daemon.ListeningLine.port(daemon, stderr, Duration.ofSeconds(60));
            assertEquals(new Run(0, "", ""), ctl(java, port, "set", "greeting", "hello world"));
            assertEquals(new Run(0, "hello world\n", ""), ctl(java, port, "get", "greeting"));
            Run made = ctl(java, port, "make", "process", "hi", "env.PATH=/usr/bin:/bin", "echo", "hi there");
            assertEquals(0, made.code(), made.err());
            assertTrue(made.out().startsWith("hi pid="), made.out());
            Run metrics = ctl(java, port, "metrics"); // under the keeper: its pid and restarts too
            assertEquals(0, metrics.code(), metrics.err());
            assertTrue(metrics.out().contains("\npapa_keeper_pid ") && metrics.out().contains("\npapa_daemon_restarts_total 0\n")
                    && metrics.out().contains("\npapa_process_pid{process=\"hi\",uid=\"\"} "), metrics.out());
            assertEquals("", metrics.err());
            Run watched = ctl(java, port, "watch", "hi");
            assertEquals(0, watched.code(), watched.err());
            assertTrue(watched.out().matches("(?s)\\S+ hi out: hi there\n\\S+ hi exit: 0\n"), watched.out());
            Run bad = ctl(java, port, "remove", "values", "*");
            assertEquals(new Run(1, "", "Error: You cannot remove all variables\n"), bad);
            assertEquals(new Run(0, "", ""), ctl(java, port, "remove", "values", "greeting"));
            assertEquals(new Run(0, "Exiting papa!\n", ""), ctl(java, port, "exit-if-idle"));
            assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "the daemon exits once idle");
            assertEquals(0, daemon.exitValue());
            assertEquals("papa: listening on 127.0.0.1:" + port + "\npapa: stopped: exit-if-idle\n", Files.readString(stderr),
                    "nothing but its own lines (no JVM warning) on the daemon's stderr");
        } finally {
            if (daemon.isAlive()) {
                daemon.destroyForcibly();
                daemon.waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (!daemon.isAlive() && daemon.exitValue() != 0) fail("daemon exited with " + daemon.exitValue());
    }
}
