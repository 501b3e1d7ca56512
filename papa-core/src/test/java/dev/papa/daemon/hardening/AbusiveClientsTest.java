package dev.papa.daemon.hardening;

import dev.papa.daemon.DaemonConfig;
import dev.papa.posix.Rlimit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An idle client, one that sends half a line and vanishes, one that floods commands, and 1,000
 * sessions at once: a well-behaved session keeps getting correct results, with round trips
 * bounded relative to its own round trips before the abuse. The daemon runs in a JVM of its own
 * under {@code prlimit --nofile=8192}: the shared test JVM's limit is never changed.
 */
@Timeout(90)
class AbusiveClientsTest {
    static final List<String> ENOUGH_FILES = List.of("prlimit", "--nofile=8192:8192");

    /** The test JVM holds one end of every client connection (1,000 and more here). */
    static void assertClientsFit(int connections) throws Exception {
        long soft = Rlimit.NOFILE.get()[0];
        assertTrue(soft < 0 || soft >= connections + 1024, "the test JVM's open-files limit " + soft + " is too low for "
                + connections + " connections (the JVM raises its soft limit to the hard limit unless -XX:-MaxFDLimit)");
    }

    /** Nanoseconds of each of {@code n} set+get round trips of {@code probe}; checks each result. */
    static long[] roundTrips(Conn probe, String tag, int n) throws Exception {
        long[] took = new long[n];
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            assertEquals("", probe.result("set " + tag + i + " value" + i));
            assertEquals("value" + i, probe.result("get " + tag + i));
            took[i] = System.nanoTime() - t0;
        }
        java.util.Arrays.sort(took);
        return took;
    }

    @Test
    void othersSeeNormalResultsAndLatency() throws Exception {
        assertClientsFit(1010);
        try (DaemonJvm d = DaemonJvm.start(ENOUGH_FILES)) {
            List<Conn> crowd = new ArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> flooderError = new AtomicReference<>();
            AtomicLong floods = new AtomicLong();
            Thread flooder = new Thread(() -> {
                try (Conn f = Conn.open(d.port)) {
                    byte[] burst = "list values\nhelp\nget x\nl p\n".repeat(50).getBytes();
                    while (!stop.get()) {
                        f.sendBytes(burst);
                        for (int i = 0; i < 200; i++) f.readUntilPrompt();
                        floods.addAndGet(200);
                    }
                } catch (Throwable t) {
                    flooderError.set(t);
                }
            }, "flooder");
            try (Conn idle = Conn.tcp(d.port); Conn probe = Conn.open(d.port)) {
                long[] before = roundTrips(probe, "quiet", 200);
                Conn half = Conn.open(d.port);
                half.send("make process half /bin/sl");
                half.abort();
                Conn half2 = Conn.open(d.port);
                half2.send("set x ");
                half2.close();
                flooder.start();
                // 1,000 sessions at once (plus idle, probe, flooder)
                for (int i = 0; i < 1000; i++) crowd.add(Conn.tcp(d.port));
                for (Conn c : crowd) c.expectGreeting();
                long[] during = roundTrips(probe, "probe", 200);
                for (int i = 0; i < 200; i += 20) {
                    assertEquals("value" + i, crowd.get(i).result("get probe" + i)); // crowd sessions work too
                }
                // A flooder shares the daemon with the probe (round-robin between sessions), and
                // on two cores the flooding client takes CPU too: the probe may slow down, but
                // by a bounded factor, never by waiting for the flood's backlog (seconds).
                long medianBefore = before[before.length / 2], medianDuring = during[during.length / 2];
                long worst = during[during.length - 1];
                System.out.println("abusive clients: probe round trip median " + medianBefore / 1000 + " us quiet, "
                        + medianDuring / 1000 + " us under abuse, worst " + worst / 1000 + " us; flood replies " + floods.get());
                assertTrue(medianDuring <= 50 * medianBefore + 20_000_000L, "median round trip " + medianDuring / 1000
                        + " us under abuse against " + medianBefore / 1000 + " us before");
                assertTrue(worst <= 2_000_000_000L, "worst round trip under abuse " + worst / 1000 + " us");
                assertEquals("", probe.result("remove values probe* quiet*"));
                assertEquals("", probe.result("list values"));
                // (the session limit itself: sessionLimitRefusesTheOneTooMany)
                for (Conn c : crowd) c.close();
                crowd.clear();
                stop.set(true);
                flooder.join(20_000);
                assertFalse(flooder.isAlive(), "the flooder never finished its last burst");
                assertNull(flooderError.get());
                assertTrue(floods.get() > 0);
                // the idle session is still served
                idle.expectGreeting();
                assertEquals("", idle.result("get x"));
            } finally {
                stop.set(true);
                for (Conn c : crowd) c.close();
            }
        }
    }

    @Test
    void sessionLimitRefusesTheOneTooMany() throws Exception {
        assertClientsFit(DaemonConfig.DEFAULT_MAX_SESSIONS + 2);
        try (DaemonJvm d = DaemonJvm.start(ENOUGH_FILES)) {
            List<Conn> crowd = new ArrayList<>();
            try {
                for (int i = 0; i < DaemonConfig.DEFAULT_MAX_SESSIONS; i++) crowd.add(Conn.tcp(d.port));
                for (Conn c : crowd) c.expectGreeting();
                try (Conn extra = Conn.tcp(d.port)) {
                    assertEquals("Error: too many sessions (limit 1024)\n", extra.readToEof());
                }
                assertEquals("", crowd.get(0).result("get x"));
                assertEquals("", crowd.get(DaemonConfig.DEFAULT_MAX_SESSIONS - 1).result("get x"));
                crowd.remove(0).close(); // one leaves: one more is admitted
                crowd.add(LimitsTest.openWhenAdmitted(d.port));
            } finally {
                for (Conn c : crowd) c.close();
            }
        }
    }
}
