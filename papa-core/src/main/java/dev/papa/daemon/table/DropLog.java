package dev.papa.daemon.table;

import dev.papa.daemon.loop.EventLoop;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Logs output that the overflow rule evicted, aggregated: one line per second at the most,
 * naming the processes that lost output in that second and how much, however many there are
 * and however often their queues overflow. A client cannot flood the log through it.
 */
final class DropLog {
    private static final Logger LOG = Logger.getLogger(DropLog.class.getName());
    static final long PERIOD_MILLIS = 1000;
    /** Processes named per line; the rest are counted. */
    private static final int NAMED = 8;

    private final EventLoop loop;
    private final Map<String, Long> pending = new LinkedHashMap<>();
    private long pendingBytes;
    private long budgetBytes;
    private boolean scheduled;

    DropLog(EventLoop loop) {
        this.loop = loop;
    }

    /** {@code bytes} of process {@code name}'s output were evicted before any watcher had them. */
    void dropped(String name, long bytes) {
        if (bytes <= 0) return;
        pending.merge(name, bytes, Long::sum);
        pendingBytes += bytes;
        schedule();
    }

    /** The output budget evicted {@code bytes} (of any process) to make room. */
    void budgetEvicted(long bytes) {
        if (bytes <= 0) return;
        budgetBytes += bytes;
        schedule();
    }

    private void schedule() {
        if (!scheduled) {
            scheduled = true;
            loop.schedule(PERIOD_MILLIS, this::flush);
        }
    }

    private void flush() {
        scheduled = false;
        StringBuilder sb = new StringBuilder();
        if (!pending.isEmpty()) {
            sb.append("Output dropped by the overflow rule in the last second: ").append(pendingBytes).append(" bytes of ")
                    .append(pending.size()).append(pending.size() == 1 ? " process (" : " processes (");
            int n = 0;
            for (Map.Entry<String, Long> e : pending.entrySet()) {
                if (n == NAMED) {
                    sb.append(", and ").append(pending.size() - NAMED).append(" more");
                    break;
                }
                if (n++ > 0) sb.append(", ");
                sb.append(e.getKey()).append(' ').append(e.getValue());
            }
            sb.append(')');
        }
        if (budgetBytes > 0) {
            sb.append(sb.length() == 0 ? "In the last second the" : "; the").append(" output budget evicted ")
                    .append(budgetBytes).append(" bytes to make room");
        }
        pending.clear();
        pendingBytes = 0;
        budgetBytes = 0;
        if (sb.length() > 0) LOG.warning(sb.toString());
    }
}
