package dev.papa.daemon.buffer;

import java.util.Arrays;

/**
 * The global output budget (PROTOCOL.md Part 2, "Resource budget"): what every queued chunk of
 * every process costs on the heap, together, never exceeds {@link #limit()}. A chunk that would
 * push the total over first evicts the oldest chunks of the queue that costs the most (it may be
 * the appending one), whole, until it fits.
 *
 * <p>The cost of a chunk is what it really takes on the heap ({@link #chunkCost}): its array
 * header and alignment and its slots in the queue's ring, not just its length, so a flood of
 * one-byte chunks is bounded as tightly as a few large ones.
 *
 * <p>Back-pressure ({@code overflow=block}): a queue that {@link OutputBuffer#pauses} is never
 * picked by {@link #largestQueue}; its reader asks {@link #hasRoomFor} before reading its pipe
 * and stops reading while there is none (table.PipeGate; room comes back with acknowledgements,
 * removals and evictions of others). Not thread-safe: owned by the event loop.
 */
public final class OutputBudget {
    /** The smallest budget accepted: a few full pipe reads. */
    public static final long MIN_LIMIT = 1L << 20;
    /** A byte[]'s header on a 64-bit JVM: mark word, class pointer, length. */
    static final int ARRAY_HEADER = 16;
    /**
     * A queued item's slots in its queue's ring (kind byte, time long, chunk reference of at
     * most 8 bytes), twice over: the ring is up to twice as long as the queue.
     */
    static final int SLOT_COST = 2 * (1 + 8 + 8);

    private final long limit;
    private long used;
    private long evicted;
    private OutputBuffer[] queues = new OutputBuffer[16];
    private int count;

    public OutputBudget(long limit) {
        if (limit < MIN_LIMIT) throw new IllegalArgumentException("output budget below " + MIN_LIMIT + " bytes");
        this.limit = limit;
    }

    /** The default: half of the JVM's maximum heap (the rest is for everything else the daemon holds). */
    public static long defaultLimit() {
        return Math.max(MIN_LIMIT, Runtime.getRuntime().maxMemory() / 2);
    }

    /** Heap bytes that a queued chunk of {@code length} bytes takes. */
    public static long chunkCost(int length) {
        return ((ARRAY_HEADER + (long) length + 7) & ~7L) + SLOT_COST;
    }

    public long limit() { return limit; }
    /** Heap bytes of every queued chunk. */
    public long used() { return used; }
    /** Chunk bytes evicted by this budget (not by a queue's own bufsize) since start. */
    public long evictedBytes() { return evicted; }

    /** True when a chunk of {@code cost} fits without evicting anything. */
    public boolean hasRoomFor(long cost) {
        return used + cost <= limit;
    }

    void register(OutputBuffer q) {
        if (count == queues.length) queues = Arrays.copyOf(queues, count * 2);
        q.budgetIndex = count;
        queues[count++] = q;
    }

    void unregister(OutputBuffer q) {
        int i = q.budgetIndex;
        if (i < 0) return;
        OutputBuffer last = queues[--count];
        queues[i] = last;
        last.budgetIndex = i;
        queues[count] = null;
        q.budgetIndex = -1;
    }

    void charge(long cost) {
        used += cost;
    }

    /**
     * Evicts the oldest chunks of the costliest queues until {@code cost} more fits; the
     * appending queue counts with its new chunk, so equal writers keep equal shares.
     */
    void makeRoom(OutputBuffer appending, long cost) {
        while (used + cost > limit) {
            OutputBuffer victim = largestQueue(appending, cost);
            if (victim == null) return; // nothing left to evict: a chunk alone never exceeds MIN_LIMIT
            evicted += victim.evictOldestChunk();
        }
    }

    /** The queue whose chunks cost the most (the place where overflow=block queues are skipped). */
    private OutputBuffer largestQueue(OutputBuffer appending, long extra) {
        OutputBuffer best = null;
        long bestCost = 0;
        for (int i = 0; i < count; i++) {
            OutputBuffer q = queues[i];
            if (q.cost() == 0 || q.pauses()) continue;
            long c = q == appending ? q.cost() + extra : q.cost();
            if (c > bestCost) {
                best = q;
                bestCost = c;
            }
        }
        return best;
    }
}
