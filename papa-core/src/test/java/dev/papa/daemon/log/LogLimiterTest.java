package dev.papa.daemon.log;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class LogLimiterTest {
    private final Logger log = Logger.getLogger("dev.papa.test.LogLimiterTest");
    private final List<LogRecord> records = new ArrayList<>();
    private final List<Runnable> scheduled = new ArrayList<>();
    private final List<Long> delays = new ArrayList<>();
    private final LogLimiter limiter = new LogLimiter((delay, task) -> {
        delays.add(delay);
        scheduled.add(task);
    });
    private final Handler capture = new Handler() {
        @Override public void publish(LogRecord r) { if (isLoggable(r)) records.add(r); }
        @Override public void flush() {}
        @Override public void close() {}
    };

    @BeforeEach
    void listen() {
        log.setUseParentHandlers(false);
        log.addHandler(capture);
        log.setLevel(Level.WARNING);
        capture.setLevel(Level.ALL);
    }

    @AfterEach
    void stop() {
        log.removeHandler(capture);
    }

    private List<String> messages() {
        List<String> m = new ArrayList<>();
        for (LogRecord r : records) m.add(r.getLevel() + " " + r.getMessage());
        return m;
    }

    @Test
    void aStormIsOneLineThenOneCount() {
        Exception cause = new Exception("EMFILE");
        for (int i = 0; i < 1000; i++) limiter.warn(log, "refused connections from uid 1001", "Refused uid 1001 from port " + i, cause);
        assertEquals(List.of("WARNING Refused uid 1001 from port 0"), messages());
        assertNull(records.get(0).getThrown(), "no stack trace above debug");
        assertEquals(List.of(LogLimiter.WINDOW_MILLIS), delays);

        scheduled.remove(0).run(); // the minute is over
        assertEquals("WARNING 1000 refused connections from uid 1001 in the last minute", messages().get(1));

        limiter.warn(log, "refused connections from uid 1001", "Refused again", null); // a new window
        assertEquals("WARNING Refused again", messages().get(2));
        scheduled.remove(0).run();
        assertEquals(3, records.size(), "a single occurrence needs no summary");
    }

    @Test
    void stackTracesOnlyAtDebug() {
        log.setLevel(Level.FINE);
        Exception cause = new Exception("EMFILE");
        limiter.warn(log, "failed accepts", "accept failed", cause);
        limiter.warn(log, "failed accepts", "accept failed", cause);
        assertEquals(List.of("WARNING accept failed", "FINE accept failed"), messages());
        assertNull(records.get(0).getThrown());
        assertSame(cause, records.get(1).getThrown());
    }

    @Test
    void internalErrorsKeepTheirFirstTrace() {
        Exception cause = new IllegalStateException("bug");
        limiter.severe(log, "commands that failed internally", "command failed: x", cause);
        limiter.severe(log, "commands that failed internally", "command failed: y", cause);
        assertEquals(List.of("SEVERE command failed: x"), messages());
        assertSame(cause, records.get(0).getThrown());
    }

    /** Many kinds (a refusal per uid from a range of uids) cannot grow the log past a bound either. */
    @Test
    void kindsAreBounded() {
        for (int uid = 0; uid < 10_000; uid++) limiter.warn(log, "refused connections from uid " + uid, "Refused uid " + uid, null);
        assertEquals(LogLimiter.MAX_KINDS + 1, records.size());
        scheduled.remove(0).run();
        assertEquals("WARNING " + (10_000 - LogLimiter.MAX_KINDS) + " " + LogLimiter.OTHERS + " in the last minute",
                messages().get(messages().size() - 1));
        assertEquals(LogLimiter.MAX_KINDS + 2, records.size());
    }
}
