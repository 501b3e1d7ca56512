package dev.papa.daemon.hardening;

import dev.papa.daemon.Daemon;
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
 * sessions at once: a well-behaved session keeps getting correct results (its round trips are
 * printed; speed is the benchmarks' business).
 */
@Timeout(90)
class AbusiveClientsTest {
    @Test
    void othersSeeNormalResultsAndLatency() throws Exception {
        long[] nofile = Rlimit.NOFILE.get();
        if (nofile[0] < 4096 && (nofile[1] < 0 || nofile[1] >= 4096)) Rlimit.NOFILE.set(nofile[1] < 0 ? 8192 : Math.min(nofile[1], 8192), nofile[1]);
        try (Daemon d = Daemon.start(new DaemonConfig().port(0))) {
            List<Conn> crowd = new ArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> flooderError = new AtomicReference<>();
            AtomicLong floods = new AtomicLong();
            Thread flooder = new Thread(() -> {
                try (Conn f = Conn.open(d.port())) {
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
            try (Conn idle = Conn.tcp(d.port()); Conn probe = Conn.open(d.port())) {
                Conn half = Conn.open(d.port());
                half.send("make process half /bin/sl");
                half.abort();
                Conn half2 = Conn.open(d.port());
                half2.send("set x ");
                half2.close();
                flooder.start();
                // 1,000 sessions at once (plus idle, probe, flooder)
                for (int i = 0; i < 1000; i++) crowd.add(Conn.tcp(d.port()));
                for (Conn c : crowd) c.expectGreeting();
                long worst = 0;
                for (int i = 0; i < 200; i++) {
                    long t0 = System.nanoTime();
                    assertEquals("", probe.result("set probe" + i + " value" + i));
                    assertEquals("value" + i, probe.result("get probe" + i));
                    worst = Math.max(worst, System.nanoTime() - t0);
                    if (i % 20 == 0) {
                        Conn c = crowd.get(i);
                        assertEquals("value" + i, c.result("get probe" + i)); // crowd sessions work too
                    }
                }
                assertEquals("", probe.result("remove values probe*"));
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
                System.out.println("abusive clients: worst probe round trip " + worst / 1000 + " us, flood replies " + floods.get());
            } finally {
                stop.set(true);
                for (Conn c : crowd) c.close();
            }
        }
    }

    @Test
    void sessionLimitRefusesTheOneTooMany() throws Exception {
        long[] nofile = Rlimit.NOFILE.get();
        if (nofile[0] < 4096 && (nofile[1] < 0 || nofile[1] >= 4096)) Rlimit.NOFILE.set(nofile[1] < 0 ? 8192 : Math.min(nofile[1], 8192), nofile[1]);
        try (Daemon d = Daemon.start(new DaemonConfig().port(0))) {
            List<Conn> crowd = new ArrayList<>();
            try {
                for (int i = 0; i < DaemonConfig.DEFAULT_MAX_SESSIONS; i++) crowd.add(Conn.tcp(d.port()));
                for (Conn c : crowd) c.expectGreeting();
                try (Conn extra = Conn.tcp(d.port())) {
                    assertEquals("Error: too many sessions (limit 1024)\n", extra.readToEof());
                }
                assertEquals("", crowd.get(0).result("get x"));
                assertEquals("", crowd.get(DaemonConfig.DEFAULT_MAX_SESSIONS - 1).result("get x"));
                crowd.remove(0).close(); // one leaves: one more is admitted
                crowd.add(LimitsTest.openWhenAdmitted(d.port()));
            } finally {
                for (Conn c : crowd) c.close();
            }
        }
    }
}
