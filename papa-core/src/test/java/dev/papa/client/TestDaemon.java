package dev.papa.client;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** An in-process daemon for one test, and the processes the test started through it. */
public final class TestDaemon implements AutoCloseable {
    private final Daemon daemon;
    private final List<Long> pids = new ArrayList<>();
    public final Path dir;

    private TestDaemon(Daemon daemon, Path dir) {
        this.daemon = daemon;
        this.dir = dir;
    }

    public static TestDaemon start() throws IOException {
        Path dir = Files.createTempDirectory("papa-client-test-");
        return new TestDaemon(Daemon.start(new DaemonConfig().port(0).unixSocket(null).singleSession(false)
                .debug(false).logFile(null)), dir);
    }

    public int port() {
        return daemon.port();
    }

    public Endpoint endpoint() {
        return Endpoint.tcp(port());
    }

    public Papa connect() throws PapaException {
        return Papa.builder().port(port()).autoStart(false).timeout(Duration.ofSeconds(10)).connect();
    }

    /** Kills this pid at the end of the test. */
    public long track(long pid) {
        pids.add(pid);
        return pid;
    }

    public void stopDaemon() {
        daemon.close();
    }

    @Override
    public void close() {
        daemon.close();
        for (long pid : pids) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        try (var s = Files.walk(dir)) {
            s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }

    /** The environment most test processes need. */
    public static ProcessOptions opts() {
        return new ProcessOptions().env("PATH", "/usr/bin:/bin");
    }
}
