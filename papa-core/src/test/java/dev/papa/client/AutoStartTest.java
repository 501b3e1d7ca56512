package dev.papa.client;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
class AutoStartTest {
    Path dir;
    final List<DaemonLauncher.Launched> started = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory("papa-autostart-");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (DaemonLauncher.Launched l : started) {
            ProcInfo.kill(l.pid());
            assertTrue(l.awaitExit(Duration.ofSeconds(10)), "reaped");
            Files.deleteIfExists(l.logFile());
        }
        try (var s = Files.walk(dir)) {
            s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void theDaemonDoesNotInheritTheLaunchersSocketActivation() {
        Map<String, String> launcher = new java.util.LinkedHashMap<>();
        launcher.put("PATH", "/usr/bin:/bin");
        launcher.put("LISTEN_FDS", "2");
        launcher.put("LISTEN_PID", "4242");
        launcher.put("LISTEN_FDNAMES", "web:admin");
        launcher.put("NOTIFY_SOCKET", "/run/systemd/notify");
        launcher.put("LISTENER", "kept: not one of systemd's");
        assertEquals(Map.of("PATH", "/usr/bin:/bin", "LISTENER", "kept: not one of systemd's"),
                DaemonLauncher.daemonEnvironment(launcher));
    }

    @Test
    void eightThreadsStartExactlyOneDaemonAfterTheOldOneStopped() throws Exception {
        Path sock = dir.resolve("papa.sock");
        Endpoint ep = Endpoint.unix(sock);
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).unixSocket(sock));
             Papa p = Papa.builder().path(sock).autoStart(false).connect()) {
            p.set("old", "daemon");
        }
        // The daemon has stopped: nothing answers any more.
        assertThrows(PapaException.class, () -> Papa.builder().path(sock).autoStart(false).connect().close());

        int startsBefore = AutoStart.starts();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Map<String, String>>> results = new ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) {
                results.add(pool.submit(() -> {
                    go.await();
                    try (Papa p = Papa.builder().path(sock).autoStart(true).timeout(Duration.ofSeconds(60)).connect()) {
                        return p.listValues();
                    }
                }));
            }
            go.countDown();
            List<Exception> failures = new ArrayList<>();
            for (Future<Map<String, String>> f : results) {
                try {
                    assertEquals(Map.of(), f.get(), "a new daemon has no values");
                } catch (Exception e) {
                    failures.add(e);
                }
            }
            DaemonLauncher.Launched launched = AutoStart.launched(ep);
            if (launched != null) {
                started.add(launched);
            }
            if (!failures.isEmpty()) {
                throw failures.get(0);
            }
            assertEquals(startsBefore + 1, AutoStart.starts(), "exactly one start");
            assertNotNull(launched);
            long pid = launched.pid();
            assertEquals(List.of(pid), ProcInfo.listeners(ep), "exactly one daemon listens");

            // detached: its own session, stdio on /dev/null, umask 027, working directory /
            String[] stat = ProcInfo.stat(pid);
            assertEquals(Long.toString(pid), stat[3], "session leader");
            assertEquals("/", ProcInfo.link(pid, "cwd"));
            assertEquals("0027", ProcInfo.status(pid, "Umask"));
            for (String fd : List.of("fd/0", "fd/1", "fd/2")) {
                assertEquals("/dev/null", ProcInfo.link(pid, fd), fd);
            }
            assertTrue(launched.command().contains("--launcher"), launched.command().toString());
            assertNotEquals(null, launched.logFile());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aFailedStartSaysWhy() throws Exception {
        Path sock = dir.resolve("no/such/dir/papa.sock");
        PapaException e = assertThrows(PapaException.class,
                () -> Papa.builder().path(sock).autoStart(true).timeout(Duration.ofSeconds(30)).connect());
        DaemonLauncher.Launched launched = AutoStart.launched(Endpoint.unix(sock));
        if (launched != null) {
            started.add(launched);
        }
        assertEquals(PapaException.Kind.START_FAILED, e.kind(), e.toString());
        // it gave up because the daemon exited (and says so, with its log), not by running out of time
        assertTrue(e.getMessage().matches("No papa daemon at " + java.util.regex.Pattern.quote(Endpoint.unix(sock).toString())
                + " and the one started for it failed\\. The papa daemon \\(pid \\d+\\) exited with status 1\\. "
                + "Last lines of its log \\S+:\n\\S+ SEVERE DaemonMain: cannot start: cannot listen on "
                + java.util.regex.Pattern.quote(sock.toString()) + ": No such file or directory\n?"), e.getMessage());
    }
}
