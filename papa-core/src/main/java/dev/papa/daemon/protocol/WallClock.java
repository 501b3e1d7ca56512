package dev.papa.daemon.protocol;

import java.time.Instant;

/**
 * Microseconds since the epoch without allocating on every read: a monotonic offset from a
 * wall-clock base that is taken again every second, so NTP steps are followed within a second.
 * Single-threaded (event loop).
 */
public final class WallClock {
    private static final long REBASE_NANOS = 1_000_000_000L;
    private long baseMicros;
    private long baseNanos;

    public WallClock() {
        rebase();
    }

    public long nowMicros() {
        long elapsed = System.nanoTime() - baseNanos;
        if (elapsed >= REBASE_NANOS || elapsed < 0) {
            rebase();
            return baseMicros;
        }
        return baseMicros + elapsed / 1000;
    }

    private void rebase() {
        Instant now = Instant.now();
        baseNanos = System.nanoTime();
        baseMicros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
    }

    /** Seconds with six decimals, as every timestamp of the protocol: {@code 1732780425.678901}. */
    public static String format(long micros) {
        StringBuilder sb = new StringBuilder(20);
        append(sb, micros);
        return sb.toString();
    }

    public static void append(StringBuilder sb, long micros) {
        long secs = micros / 1_000_000L;
        int frac = (int) (micros % 1_000_000L);
        sb.append(secs).append('.');
        for (int d = 100_000; d > 1 && frac < d; d /= 10) sb.append('0');
        sb.append(frac);
    }
}
