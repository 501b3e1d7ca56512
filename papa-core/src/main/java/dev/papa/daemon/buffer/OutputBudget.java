package dev.papa.daemon.buffer;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

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
 * removals and evictions of others).
 *
 * <p>Shares (docs/SECURITY.md, "Output budget"): a non-administrator's blocking queues read only
 * while that owner (uid) holds less than {@link #shareOf}: what the administrators' reserve (an
 * eighth) leaves, split evenly between the non-administrators with queues. While more than one
 * owner has queues, a queue whose owner is over its share evicts within that owner's own queues,
 * and one within its share evicts from owners over theirs first. Administrators' queues, and
 * eviction with one owner, behave as without shares. Not thread-safe: owned by the event loop.
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
    private final long reserved;
    private OutputBuffer[] queues = new OutputBuffer[16];
    private int count;
    private final Map<Integer, Owner> owners = new HashMap<>();
    private int nonAdminOwners;

    /** What one owner's queues cost together. */
    static final class Owner {
        final int uid;
        final boolean admin;
        int queues;
        long used;

        Owner(int uid, boolean admin) {
            this.uid = uid;
            this.admin = admin;
        }
    }

    public OutputBudget(long limit) {
        if (limit < MIN_LIMIT) throw new IllegalArgumentException("output budget below " + MIN_LIMIT + " bytes");
        this.limit = limit;
        this.reserved = limit / 8;
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

    /** True when a chunk of {@code cost} fits in the budget and in q's owner's share without evicting. */
    public boolean hasRoomFor(OutputBuffer q, long cost) {
        return hasRoomFor(cost) && (q.owner == null || q.owner.used + cost <= shareOf(q.owner));
    }

    /**
     * Bytes the owner's queues may hold: all of the budget for an administrator. A user's share
     * keeps the reserve free even when the user is alone: a blocked queue cannot be evicted when
     * an administrator comes later.
     */
    long shareOf(Owner o) {
        if (o.admin) return limit;
        return (limit - reserved) / Math.max(1, nonAdminOwners);
    }

    /** Heap bytes the queues of {@code uid} hold (0 when it has none). */
    public long usedBy(int uid) {
        Owner o = owners.get(uid);
        return o == null ? 0 : o.used;
    }

    void register(OutputBuffer q, int ownerUid, boolean ownerAdmin) {
        if (count == queues.length) queues = Arrays.copyOf(queues, count * 2);
        q.budgetIndex = count;
        queues[count++] = q;
        Owner o = owners.computeIfAbsent(ownerUid, uid -> {
            if (!ownerAdmin) nonAdminOwners++;
            return new Owner(uid, ownerAdmin);
        });
        o.queues++;
        q.owner = o;
    }

    void unregister(OutputBuffer q) {
        int i = q.budgetIndex;
        if (i < 0) return;
        OutputBuffer last = queues[--count];
        queues[i] = last;
        last.budgetIndex = i;
        queues[count] = null;
        q.budgetIndex = -1;
        Owner o = q.owner;
        if (--o.queues == 0) {
            owners.remove(o.uid);
            if (!o.admin) nonAdminOwners--;
        }
    }

    void charge(OutputBuffer q, long cost) {
        used += cost;
        q.owner.used += cost;
    }

    /**
     * Evicts the oldest chunks of the costliest queues until {@code cost} more fits; the
     * appending queue counts with its new chunk, so equal writers keep equal shares.
     */
    void makeRoom(OutputBuffer appending, long cost) {
        Owner mine = appending.owner;
        // over its share beside others: it pays, from its own queues (alone, eviction is as without shares)
        while (owners.size() > 1 && mine.used + cost > shareOf(mine)) {
            OutputBuffer victim = largestQueue(appending, cost, mine, false);
            if (victim == null) break;
            evicted += victim.evictOldestChunk();
        }
        while (used + cost > limit) {
            OutputBuffer victim = largestQueue(appending, cost, null, true);
            if (victim == null) victim = largestQueue(appending, cost, null, false);
            if (victim == null) return; // nothing left to evict: a chunk alone never exceeds MIN_LIMIT
            evicted += victim.evictOldestChunk();
        }
    }

    /**
     * The queue whose chunks cost the most (the place where overflow=block queues are skipped),
     * of {@code only} when not null, of an owner over its share when {@code overShare}.
     */
    private OutputBuffer largestQueue(OutputBuffer appending, long extra, Owner only, boolean overShare) {
        OutputBuffer best = null;
        long bestCost = 0;
        for (int i = 0; i < count; i++) {
            OutputBuffer q = queues[i];
            if (q.cost() == 0 || q.pauses()) continue;
            if (only != null && q.owner != only) continue;
            if (overShare && q.owner.used + (q.owner == appending.owner ? extra : 0) <= shareOf(q.owner)) continue;
            long c = q == appending ? q.cost() + extra : q.cost();
            if (c > bestCost) {
                best = q;
                bestCost = c;
            }
        }
        return best;
    }
}
