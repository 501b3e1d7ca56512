package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A daemon run from the packaged jar ({@code papa.jar}, set for the *IT tests by papa-core's
 * pom) in its own JVM, as an upgrade needs: killed at the end, with the processes the test
 * made through it.
 */
final class JarDaemon implements AutoCloseable {
    static final long TIMEOUT_MS = 120_000;

    final Process process;
    int port;
    final Path log;
    final Path output;
    private final List<Integer> hosted = new ArrayList<>();

    private JarDaemon(Process process, int port, Path log, Path output) {
        this.process = process;
        this.port = port;
        this.log = log;
        this.output = output;
    }

    /** The packaged jar; the test is skipped outside the integration-test phase. */
    static Path jar() {
        String p = System.getProperty("papa.jar");
        Assumptions.assumeTrue(p != null && Files.isRegularFile(Path.of(p)), "needs the packaged jar (mvn verify)");
        return Path.of(p).toAbsolutePath();
    }

    static String java17() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** The daemon alone, upgraded in place (the in-place upgrade's tests); the keeper's: Keeper*IT. */
    static final String IN_PLACE = "--no-keeper";

    /** {@code java FLAGS -jar JAR -p 0 --log-file LOG --no-keeper}; waits for its "listening on" line. */
    static JarDaemon start(String java, Path jar, List<String> jvmFlags) throws Exception {
        return start(java, jar, jvmFlags, List.of(IN_PLACE));
    }

    /** The same with daemon options of the test's choice (the keeper by default). */
    static JarDaemon start(String java, Path jar, List<String> jvmFlags, List<String> daemonArgs) throws Exception {
        return start(List.of(), java, jar, jvmFlags, daemonArgs);
    }

    /** The same run by {@code prefix} (a command that execs the rest, as unshare does: the pid stays java's). */
    static JarDaemon start(List<String> prefix, String java, Path jar, List<String> jvmFlags, List<String> daemonArgs) throws Exception {
        Path log = Files.createTempFile("papa-upgrade", ".log");
        Path output = Files.createTempFile("papa-upgrade", ".out");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-jar", jar.toString(), "-p", "0", "--log-file", log.toString()));
        cmd.addAll(daemonArgs);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        JarDaemon d = new JarDaemon(p, -1, log, output);
        try {
            d.port = d.awaitPort();
        } catch (Exception | AssertionError e) {
            d.close();
            throw e;
        }
        try (ProtocolClient c = d.connect()) {
            c.ok("version");
        } catch (Exception | AssertionError e) {
            d.close();
            throw new IllegalStateException("daemon did not start: " + Files.readString(output), e);
        }
        return d;
    }

    private int awaitPort() throws Exception {
        java.util.regex.Pattern listening = java.util.regex.Pattern.compile("papa: listening on 127\\.0\\.0\\.1:(\\d+)");
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            java.util.regex.Matcher m = listening.matcher(Files.readString(output));
            if (m.find()) return Integer.parseInt(m.group(1));
            if (!process.isAlive()) throw new IllegalStateException("daemon died at start: " + Files.readString(output));
            Thread.sleep(20); // polling the file the daemon writes its line to
        }
        throw new IllegalStateException("no \"listening on\" line: " + Files.readString(output));
    }

    /** A session, retrying while the daemon starts (a connection made during an upgrade waits instead). */
    ProtocolClient connect() throws Exception {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (true) {
            try {
                ProtocolClient c = ProtocolClient.tcp(port);
                c.timeoutMs = TIMEOUT_MS;
                return c;
            } catch (IOException notYet) {
                if (!process.isAlive() || System.currentTimeMillis() > deadline) throw notYet;
                Thread.sleep(20);
            }
        }
    }

    int pid() {
        return (int) process.pid();
    }

    /** Sends {@code upgrade ARGS}; returns the reply line (the session then ends, or stays after an error). */
    String upgrade(String args) throws Exception {
        try (ProtocolClient c = connect()) {
            c.writeLine("upgrade " + args);
            String line = c.readLine();
            if (line.startsWith("Upgrading to ")) {
                c.expectEof();
            } else {
                assertEquals("> ", c.readString(2), "prompt after " + line);
                assertTrue(c.ok("version").startsWith("papa "), "the session still serves after " + line);
            }
            return line;
        }
    }

    /** Remembers a pid made through the daemon, to kill at the end. */
    int hosted(int pid) {
        hosted.add(pid);
        return pid;
    }

    /** The parent pid of {@code pid}, from /proc/PID/stat. */
    static int parentOf(int pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(f[1]);
    }

    /** What descriptor {@code fd} of the daemon is (socket:[INODE] ...). */
    String descriptor(int fd) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/" + pid() + "/fd/" + fd)).toString();
    }

    String logText() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws Exception {
        for (int pid : hosted) {
            try {
                dev.papa.posix.Processes.kill(pid, 9);
            } catch (IOException gone) {
                // exited already
            }
        }
        process.destroyForcibly();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        Files.deleteIfExists(log);
        Files.deleteIfExists(output);
    }
}
