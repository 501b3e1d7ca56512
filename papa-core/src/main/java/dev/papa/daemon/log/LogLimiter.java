package dev.papa.daemon.log;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps warnings that a client can repeat at will (refused connections, accept failures under
 * EMFILE, refused sessions) from flooding the log: the first occurrence of a kind in a window is
 * logged as it happens, the others are only counted, and when the window ends one line sums
 * them up: {@code 37 refused connections from uid 65534 in the last minute}. Stack traces go to
 * the debug level (FINE) only. At most {@link #MAX_KINDS} kinds are told apart in a window; the
 * rest share one count, so the log grows by a bounded number of lines a minute whatever
 * clients do. Used on the event loop thread only.
 */
public final class LogLimiter {
    public static final long WINDOW_MILLIS = 60_000;
    static final int MAX_KINDS = 64;
    static final String OTHERS = "other repeated warnings";

    /** Runs a task once after a delay on the loop thread ({@code EventLoop::schedule}). */
    public interface Scheduler {
        void schedule(long delayMillis, Runnable task);
    }

    private final Scheduler scheduler;
    private final Map<String, Count> counts = new LinkedHashMap<>();
    private boolean windowOpen;

    private static final class Count {
        final Logger log;
        final Level level;
        long n;

        Count(Logger log, Level level) {
            this.log = log;
            this.level = level;
        }
    }

    public LogLimiter(Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    /**
     * A WARNING of kind {@code what} (a plural noun phrase, e.g. "refused connections from uid
     * 1001"): {@code message} is logged if it is the first of its kind in this window; the
     * {@code cause}'s stack trace only at FINE (--debug).
     */
    public void warn(Logger log, String what, String message, Throwable cause) {
        record(log, Level.WARNING, what, message, cause);
    }

    /** As {@link #warn}, at SEVERE, with the stack trace on the first one (an internal error). */
    public void severe(Logger log, String what, String message, Throwable cause) {
        record(log, Level.SEVERE, what, message, cause);
    }

    private void record(Logger log, Level level, String what, String message, Throwable cause) {
        if (!windowOpen) {
            windowOpen = true;
            scheduler.schedule(WINDOW_MILLIS, this::endWindow);
        }
        String kind = counts.containsKey(what) || counts.size() < MAX_KINDS ? what : OTHERS;
        Count c = counts.get(kind);
        if (c == null) {
            c = new Count(log, level);
            counts.put(kind, c);
        }
        if (c.n++ > 0) return;
        if (level == Level.SEVERE && cause != null) {
            log.log(level, message, cause);
        } else {
            log.log(level, message);
            if (cause != null && log.isLoggable(Level.FINE)) log.log(Level.FINE, message, cause);
        }
    }

    /** Sums up the window: one line for each kind that happened more than once. */
    void endWindow() {
        windowOpen = false;
        for (Map.Entry<String, Count> e : counts.entrySet()) {
            Count c = e.getValue();
            if (c.n > 1) c.log.log(c.level, c.n + " " + e.getKey() + " in the last minute");
        }
        counts.clear();
    }
}
