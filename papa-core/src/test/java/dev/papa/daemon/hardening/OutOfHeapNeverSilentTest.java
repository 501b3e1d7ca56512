package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.DaemonMain;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 21, item 8: out of heap without {@code --log-file}, the daemon exited 70 with nothing on
 * stderr. Under G1, the JVM's default collector, queued output filled the heap; the loop's
 * OutOfMemoryError was caught, but building the log message threw again, and so did the main
 * thread's "stopped" line and the uncaught-error handler's log. Now the reserve freed first is
 * large enough for G1 and, if logging throws anyway, a line made in advance names the cause
 * (docs/SECURITY.md, "Memory and fatal errors").
 */
@Timeout(180)
class OutOfHeapNeverSilentTest {
    private static final Pattern PID = Pattern.compile(" pid=(\\d+) ");

    /**
     * The same real trigger as BudgetTest's: a budget above the heap, three writers nobody
     * watches. Which allocation fails first varies from run to run; before the change, one heap
     * size said nothing (or "uncaught in main") in about four runs of five, the three rarely all
     * said why.
     */
    @ParameterizedTest
    @ValueSource(strings = {"16m", "32m", "64m"})
    void outOfHeapUnderG1SaysWhyOnStderrAndExits70(String heap) throws Exception {
        List<Long> pids = new ArrayList<>();
        try (DaemonJvm d = DaemonJvm.start(List.of(), List.of("-Xmx" + heap, "-XX:+UseG1GC"), "--output-budget", "1g")) {
            try (Conn c = Conn.open(d.port)) {
                for (String n : new String[] {"w1", "w2", "w3"}) { // 160 MB of lines together
                    Matcher m = PID.matcher(c.result("make process " + n + " bufsize=1g /usr/bin/seq 1 7000000"));
                    assertTrue(m.find());
                    pids.add(Long.parseLong(m.group(1)));
                }
                assertTrue(d.process.waitFor(120, TimeUnit.SECONDS), "the daemon did not die of its heap:\n" + d.logText());
            }
            String stderr = d.logText();
            assertEquals(DaemonMain.EXIT_CRASHED, d.process.exitValue(), stderr);
            assertTrue(stderr.contains("SEVERE Daemon: event loop died: java.lang.OutOfMemoryError")
                    || stderr.contains("papa: fatal: out of memory in thread papa-loop (java.lang.OutOfMemoryError"),
                    "the cause is not on stderr:\n" + stderr);
        } finally {
            pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        }
    }
}
