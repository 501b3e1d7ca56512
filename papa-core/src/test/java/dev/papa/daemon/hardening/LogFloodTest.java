package dev.papa.daemon.hardening;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client cannot flood the log (docs/SECURITY.md, "Logging"): 2,000 refused connections of a
 * user who is not allowed (nobody) leave one line in the daemon's log, not 2,000. (The EMFILE
 * storm is in DescriptorExhaustionTest; the per-minute summaries in LogLimiterTest.)
 */
@Timeout(120)
class LogFloodTest {
    private static final int NOBODY = 65534;

    @Test
    void refusalStormIsOneLine() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of())) {
            long before = d.logText().length();
            try (ManySessions storm = ManySessions.open(NOBODY, d.port, 2000)) {
                assertEquals("opened 0 refused 2000 Error: permission denied for uid 65534", storm.summary);
            }
            String log = d.logText();
            assertEquals(1, log.split("Refused a control connection", -1).length - 1, log);
            assertTrue(log.contains("uid 65534 is not allowed"), log);
            long grown = log.length() - before;
            System.out.println("refusal storm: 2000 refused connections, log +" + grown + " bytes");
            assertTrue(grown < 1024, "log grew " + grown + " bytes");
            try (Conn root = Conn.open(d.port)) { // and the daemon serves on
                assertEquals("", root.result("set still here"));
            }
        }
    }
}
