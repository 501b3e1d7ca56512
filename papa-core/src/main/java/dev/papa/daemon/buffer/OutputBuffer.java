package dev.papa.daemon.buffer;

/**
 * The output queue of one process: stdout and stderr chunks in capture order, then one
 * {@code closed} item with the exit status.
 *
 * <p>Chunks hold at most {@code bufsize} bytes together; a new chunk that would push the total
 * over evicts the oldest chunks, whole, until it fits, and a chunk of {@code bufsize} bytes or
 * more replaces everything before it (PROTOCOL.md, "Output buffering"). Otherwise items leave
 * only when a watcher acknowledges them, by sequence number: every item gets the next number,
 * so "everything up to what I was sent" is exact even with two watchers and eviction between
 * send and acknowledgement.
 *
 * <p>A queue may belong to the daemon's {@link OutputBudget}: then its chunks' heap cost is
 * charged there, and a chunk that would exceed the budget first evicts the oldest chunks of the
 * costliest queue, this one or another, unless that queue {@link #pauses} instead.
 *
 * <p>Evicted bytes that no watch batch carried are counted ({@link #droppedBytes()}): that is
 * exactly what watchers missed. {@code overflow=block} processes never reach either rule: their
 * reader takes no more than {@link #room()} and what the budget has room for.
 *
 * <p>Storage is a ring of parallel primitive arrays, so the steady state allocates nothing but
 * the captured bytes themselves. Not thread-safe: owned by the event loop.
 */
public final class OutputBuffer {
    public static final byte OUT = 0;
    public static final byte ERR = 1;
    public static final byte CLOSED = 2;

    private final long capacity;
    private final OutputBudget budget; // null: bounded by capacity only
    int budgetIndex = -1;              // this queue's place in the budget's list
    OutputBudget.Owner owner;          // whose share of the budget it counts against
    private byte[] kinds = new byte[8];
    private long[] times = new long[8];
    private byte[][] chunks = new byte[8][];
    private int head;         // ring index of the oldest item
    private int size;         // items queued
    private long headSeq;     // sequence number of the oldest item
    private long bytes;       // chunk bytes queued
    private long cost;        // their heap cost (OutputBudget.chunkCost)
    private int exitStatus;
    private boolean closed;   // a closed item was queued (it may since have been acknowledged)
    private long sentEnd;     // every item below this number was sent to a watcher
    private long dropped;     // chunk bytes evicted before any watcher was sent them
    private boolean pauses;   // overflow=block: never evicted by the budget

    /** A queue bounded by its own capacity only (tests, benchmarks). */
    public OutputBuffer(long capacity) {
        this(capacity, null);
    }

    /** A queue of at most {@code capacity} chunk bytes whose heap cost counts against {@code budget}. */
    public OutputBuffer(long capacity, OutputBudget budget) {
        this(capacity, budget, 0, true);
    }

    /** A queue as above whose cost counts against the share of {@code ownerUid} (OutputBudget, "Shares"). */
    public OutputBuffer(long capacity, OutputBudget budget, int ownerUid, boolean ownerAdmin) {
        if (capacity < 0) throw new IllegalArgumentException("capacity < 0");
        this.capacity = capacity;
        this.budget = budget;
        if (budget != null) budget.register(this, ownerUid, ownerAdmin);
    }

    /** Queues a chunk read from stdout or stderr, evicting old chunks by the overflow rule. */
    public void append(byte kind, long timeMicros, byte[] chunk) {
        if (closed) throw new IllegalStateException("append after close");
        if (kind != OUT && kind != ERR) throw new IllegalArgumentException("kind " + kind);
        long len = chunk.length;
        if (len >= capacity) {
            evictOldest(size);
            bytes = 0;
        } else {
            while (bytes + len > capacity) evictOldest(1);
        }
        long c = OutputBudget.chunkCost(chunk.length);
        if (budget != null) {
            budget.makeRoom(this, c);
            budget.charge(this, c);
        }
        push(kind, timeMicros, chunk);
        bytes += len;
        cost += c;
    }

    /** Queues the final item; nothing may follow it. */
    public void appendClosed(long timeMicros, int status) {
        if (closed) throw new IllegalStateException("closed twice");
        closed = true;
        exitStatus = status;
        push(CLOSED, timeMicros, null);
    }

    /**
     * A queue carried over an upgrade, before its items are queued again: its first item is
     * numbered {@code seq}, and what was sent and dropped stays counted. Only while empty.
     */
    public void startAt(long seq, long sentEnd, long dropped) {
        if (size != 0 || closed) throw new IllegalStateException("startAt on a used queue");
        this.headSeq = seq;
        this.sentEnd = sentEnd;
        this.dropped = dropped;
    }

    /**
     * Empties a queue whose items were queued ahead of its final ones (an upgrade's standby
     * builds its tables from an older state), then as {@link #startAt}.
     */
    public void restartAt(long seq, long sentEnd, long dropped) {
        dropOldest(size);
        closed = false;
        exitStatus = 0;
        startAt(seq, sentEnd, dropped);
    }

    /** Removes every item numbered below {@code endSeq} that is still queued. */
    public void acknowledge(long endSeq) {
        long n = endSeq - headSeq;
        if (n > 0) dropOldest((int) Math.min(n, size));
    }

    /** Drops all chunks (a removed process keeps being drained but keeps nothing). */
    public void discardAll() {
        dropOldest(size);
    }

    /**
     * A watch batch carried every item below {@code endSeq}: evicting those loses nothing a
     * watcher did not see, so they do not count as {@link #droppedBytes()}.
     */
    public void markSent(long endSeq) {
        if (endSeq > sentEnd) sentEnd = endSeq;
    }

    /** Every item below this number was sent to a watcher (for {@link #droppedBytes()}). */
    public long sentEnd() { return sentEnd; }

    /** Chunk bytes the overflow rule evicted before any watcher was sent them (PROTOCOL.md {@code dropped=}). */
    public long droppedBytes() { return dropped; }

    /** Room left before the overflow rule would evict (what {@code overflow=block} may still read). */
    public long room() { return Math.max(0, capacity - bytes); }

    /** Drops everything and leaves the budget: the process left the table. */
    public void release() {
        dropOldest(size);
        if (budget != null) budget.unregister(this);
    }

    /** The budget's eviction: drops the oldest item, a chunk; returns its length. */
    int evictOldestChunk() {
        byte[] c = chunks[head];
        evictOldest(1);
        return c == null ? 0 : c.length;
    }

    /**
     * {@code overflow=block}: this queue's writer is paused rather than its output evicted, so
     * the budget never picks it to make room for others.
     */
    public void pauses(boolean on) { pauses = on; }
    public boolean pauses() { return pauses; }

    public long headSeq() { return headSeq; }
    public long endSeq() { return headSeq + size; }
    public int size() { return size; }
    public boolean isEmpty() { return size == 0; }
    public long bytes() { return bytes; }
    /** The heap cost of the queued chunks (what the budget counts). */
    public long cost() { return cost; }
    public long capacity() { return capacity; }
    public boolean isClosed() { return closed; }
    public int exitStatus() { return exitStatus; }

    /** True once the closed item was queued and has been acknowledged. */
    public boolean closedAndDelivered() { return closed && size == 0; }

    public byte kind(long seq) { return kinds[index(seq)]; }
    public long timeMicros(long seq) { return times[index(seq)]; }
    /** The chunk bytes of a stdout/stderr item; null for the closed item. Do not modify. */
    public byte[] chunk(long seq) { return chunks[index(seq)]; }

    private int index(long seq) {
        long offset = seq - headSeq;
        if (offset < 0 || offset >= size) throw new IndexOutOfBoundsException("seq " + seq + " not queued");
        return (int) ((head + offset) & (kinds.length - 1));
    }

    private void push(byte kind, long time, byte[] chunk) {
        if (size == kinds.length) grow();
        int i = (head + size) & (kinds.length - 1);
        kinds[i] = kind;
        times[i] = time;
        chunks[i] = chunk;
        size++;
    }

    /** The overflow rule: drops the n oldest items, counting the chunk bytes no watcher was sent. */
    private void evictOldest(int n) {
        int mask = kinds.length - 1;
        for (int k = 0; k < n; k++) {
            byte[] c = chunks[(head + k) & mask];
            if (c != null && headSeq + k >= sentEnd) dropped += c.length;
        }
        dropOldest(n);
    }

    private void dropOldest(int n) {
        int mask = kinds.length - 1;
        for (int k = 0; k < n; k++) {
            byte[] c = chunks[head];
            if (c != null) {
                long freed = OutputBudget.chunkCost(c.length);
                bytes -= c.length;
                cost -= freed;
                if (budget != null) budget.charge(this, -freed);
            }
            chunks[head] = null;
            head = (head + 1) & mask;
        }
        size -= n;
        headSeq += n;
        if (size == 0) head = 0;
    }

    private void grow() {
        int cap = kinds.length;
        byte[] k = new byte[cap * 2];
        long[] t = new long[cap * 2];
        byte[][] c = new byte[cap * 2][];
        for (int j = 0; j < size; j++) {
            int from = (head + j) & (cap - 1);
            k[j] = kinds[from];
            t[j] = times[from];
            c[j] = chunks[from];
        }
        kinds = k;
        times = t;
        chunks = c;
        head = 0;
    }
}
