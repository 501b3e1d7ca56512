package dev.papa.daemon.buffer;

import dev.papa.daemon.store.CorruptStoreException;
import dev.papa.daemon.store.OutputStore;
import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * The output queue of one process: stdout and stderr chunks in capture order, then one
 * {@code closed} item with the exit status. The one queue type of the tables: its items live
 * in an {@link OutputStore} in a memfd of its own (issue 23), which the keeper holds like the
 * process's pipes and an in-place upgrade keeps across the exec, so a new JVM {@link #takeStore
 * takes it} and finds every item no watcher acknowledged. What is kept here, in the heap, is
 * what the store does not keep: the budget's bookkeeping, {@link #pauses} and (in the store's
 * own heap part) what was sent.
 *
 * <p>Chunks hold at most {@code bufsize} bytes together; a new chunk that would push the total
 * over evicts the oldest chunks, whole, until it fits, and a chunk of {@code bufsize} bytes or
 * more replaces everything before it (PROTOCOL.md, "Output buffering"). Otherwise items leave
 * only when a watcher acknowledges them, by sequence number: every item gets the next number,
 * so "everything up to what I was sent" is exact even with two watchers and eviction between
 * send and acknowledgement.
 *
 * <p>A queue may belong to the daemon's {@link OutputBudget}: then the store bytes of its chunks
 * are charged there ({@link #cost}), and a chunk that would exceed the budget first evicts the
 * oldest chunks of the costliest queue, this one or another, unless that queue {@link #pauses}.
 *
 * <p>Evicted bytes that no watch batch carried are counted ({@link #droppedBytes()}): that is
 * exactly what watchers missed. {@code overflow=block} processes never reach either rule: their
 * reader takes no more than {@link #room()} and what the budget has room for.
 * Not thread-safe: owned by the event loop.
 */
public final class OutputBuffer {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(OutputBuffer.class.getName());
    public static final byte OUT = 0;
    public static final byte ERR = 1;
    public static final byte CLOSED = 2;
    /** The largest chunk queued: one pipe read of the daemon (ProcessTable), and any chunk of an older state. */
    public static final int MAX_CHUNK = OutputStore.DEFAULT_MAX_CHUNK;

    private final long capacity;
    private final OutputBudget budget; // null: bounded by capacity only
    int budgetIndex = -1;              // this queue's place in the budget's list
    OutputBudget.Owner owner;          // whose share of the budget it counts against
    private Fd memfd;                  // the store's memfd, the daemon's copy
    private OutputStore store;
    /** A store an upgrade's standby found in the state, taken only at the take-over ({@link #takePending}). */
    private Fd pending;
    private long cost;                 // what is charged to the budget: the store bytes of the chunks
    private boolean pauses;            // overflow=block: never evicted by the budget

    /** A queue bounded by its own capacity only (tests, benchmarks). */
    public OutputBuffer(long capacity) {
        this(capacity, null);
    }

    /** A queue of at most {@code capacity} chunk bytes whose store bytes count against {@code budget}. */
    public OutputBuffer(long capacity, OutputBudget budget) {
        this(capacity, budget, 0, true);
    }

    /** A queue as above whose cost counts against the share of {@code ownerUid} (OutputBudget, "Shares"). */
    public OutputBuffer(long capacity, OutputBudget budget, int ownerUid, boolean ownerAdmin) {
        if (capacity < 0) throw new IllegalArgumentException("capacity < 0");
        this.capacity = capacity;
        this.budget = budget;
        fresh();
        if (budget != null) budget.register(this, ownerUid, ownerAdmin);
    }

    /** A new, empty store in a new memfd (close-on-exec; never passed to a child). */
    private void fresh() {
        Fd fd = null;
        try {
            fd = Memfd.create("papa-output");
            OutputStore s = OutputStore.create(fd.get(), Math.max(1, capacity), MAX_CHUNK);
            memfd = fd;
            store = s;
        } catch (IOException e) {
            if (fd != null) fd.close();
            throw new UncheckedIOException("cannot make an output store", e);
        }
    }

    /**
     * Takes the store a previous JVM left in {@code fd} (a restart under the keeper, an upgrade)
     * in place of this queue's own, which must be unused: the queue goes on with every item
     * queued there, with its time and number, and its dropped count. A store that cannot be read
     * is logged and closed, and the queue goes on as it is (started from the state's numbers):
     * returns false, and the caller tells the journal that the queue's descriptor changed.
     */
    public boolean takeStore(Fd fd, String name) {
        OutputStore opened;
        try {
            opened = OutputStore.open(fd.get());
        } catch (CorruptStoreException | IOException | RuntimeException e) {
            LOG.severe("The output store of process " + name + " (descriptor " + fd.get() + ") cannot be read, its queue starts "
                    + "again empty: " + e.getMessage());
            fd.close();
            return false;
        }
        store.close();
        memfd.close();
        store = opened;
        memfd = fd;
        recharge();
        return true;
    }

    /** An upgrade's standby: the store in {@code fd} is taken at the take-over, once the serving JVM stopped writing it. */
    public void pending(Fd fd) {
        pending = fd;
    }

    /** Takes the {@link #pending} store, if any; false when it could not be read (see {@link #takeStore}). */
    public boolean takePending(String name) {
        Fd fd = pending;
        pending = null;
        return fd == null || takeStore(fd, name);
    }

    /** The store's descriptor (what the state names), or -1 once released. */
    public int storeNumber() {
        if (pending != null) return pending.get();
        return memfd != null && memfd.isOpen() ? memfd.get() : -1;
    }

    /** Queues a chunk read from stdout or stderr, evicting old chunks by the overflow rule. */
    public void append(byte kind, long timeMicros, byte[] chunk) {
        append(kind, timeMicros, ByteBuffer.wrap(chunk), chunk.length);
    }

    /**
     * Queues {@code len} bytes of {@code src} from its position (which does not move): the one
     * copy of a pipe read, into the store. Evicts by the overflow rule, then by the budget.
     */
    public void append(byte kind, long timeMicros, ByteBuffer src, int len) {
        if (store.isClosed()) throw new IllegalStateException("append after close");
        if (kind != OUT && kind != ERR) throw new IllegalArgumentException("kind " + kind);
        if (len == 0) return;
        if (len >= capacity) {
            while (!store.isEmpty()) store.evictOldestChunk();
        } else {
            while (store.bytes() + len > capacity) store.evictOldestChunk();
        }
        recharge();
        if (budget != null) budget.makeRoom(this, OutputBudget.chunkCost(len));
        store.append(kind, timeMicros, src, len);
        recharge();
    }

    /** Queues the final item; nothing may follow it. */
    public void appendClosed(long timeMicros, int status) {
        store.appendClosed(timeMicros, status);
    }

    /**
     * A queue carried over an upgrade, before its items are queued again: its first item is
     * numbered {@code seq}, and what was sent and dropped stays counted. Only while empty.
     */
    public void startAt(long seq, long sentEnd, long dropped) {
        store.startAt(seq, sentEnd, dropped);
    }

    /**
     * Empties a queue whose items were queued ahead of its final ones (an upgrade's standby
     * builds its tables from an older state), then as {@link #startAt}: a new store.
     */
    public void restartAt(long seq, long sentEnd, long dropped) {
        store.close();
        memfd.close();
        fresh();
        recharge();
        startAt(seq, sentEnd, dropped);
    }

    /** Removes every item numbered below {@code endSeq} that is still queued. */
    public void acknowledge(long endSeq) {
        store.acknowledge(endSeq);
        recharge();
    }

    /** Drops all chunks (a removed process keeps being drained but keeps nothing). */
    public void discardAll() {
        store.discardAll();
        recharge();
    }

    /**
     * A watch batch carried every item below {@code endSeq}: evicting those loses nothing a
     * watcher did not see, so they do not count as {@link #droppedBytes()}.
     */
    public void markSent(long endSeq) { store.markSent(endSeq); }

    /** Every item below this number was sent to a watcher (for {@link #droppedBytes()}; heap only). */
    public long sentEnd() { return store.sentEnd(); }

    /** Chunk bytes the overflow rule evicted before any watcher was sent them (PROTOCOL.md {@code dropped=}). */
    public long droppedBytes() { return store.droppedBytes(); }

    /** Room left before the overflow rule would evict (what {@code overflow=block} may still read). */
    public long room() { return Math.min(store.room(), Math.max(0, capacity - store.bytes())); }

    /** Drops everything, leaves the budget and closes the store: the process left the table. */
    public void release() {
        if (memfd == null) return;
        cost(0);
        if (budget != null) budget.unregister(this);
        store.close();
        memfd.close();
        memfd = null;
        if (pending != null) pending.close();
        pending = null;
    }

    /** The budget's eviction: drops the oldest item, a chunk; returns its length. */
    int evictOldestChunk() {
        int n = store.evictOldestChunk();
        recharge();
        return n;
    }

    /** The store bytes of the queued chunks: what the budget counts (a queued closed item is not evictable). */
    private void recharge() {
        long c = store.storeBytes();
        if (store.isClosed() && !store.isEmpty()) c -= OutputStore.itemBytes(0);
        cost(c);
    }

    private void cost(long c) {
        if (budget != null && c != cost) budget.charge(this, c - cost);
        cost = c;
    }

    /**
     * {@code overflow=block}: this queue's writer is paused rather than its output evicted, so
     * the budget never picks it to make room for others.
     */
    public void pauses(boolean on) { pauses = on; }
    public boolean pauses() { return pauses; }

    public long headSeq() { return store.headSeq(); }
    public long endSeq() { return store.endSeq(); }
    public int size() { return store.size(); }
    public boolean isEmpty() { return store.isEmpty(); }
    public long bytes() { return store.bytes(); }
    /** The store bytes of the queued chunks (what the budget counts). */
    public long cost() { return cost; }
    public long capacity() { return capacity; }
    public boolean isClosed() { return store.isClosed(); }
    public int exitStatus() { return store.exitStatus(); }

    /** True once the closed item was queued and has been acknowledged. */
    public boolean closedAndDelivered() { return store.closedAndDelivered(); }

    public byte kind(long seq) { return store.kind(seq); }
    public long timeMicros(long seq) { return store.timeMicros(seq); }
    public int chunkLength(long seq) { return store.chunkLength(seq); }

    /** A copy of the chunk bytes of a stdout/stderr item; null for the closed item. */
    public byte[] chunk(long seq) {
        if (store.kind(seq) == CLOSED) return null;
        ByteBuffer b = store.chunk(seq);
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }

    /** Copies the chunk bytes of a stdout/stderr item into {@code dst} at {@code at}; returns their length. */
    public int copyChunk(long seq, byte[] dst, int at) {
        ByteBuffer b = store.chunk(seq);
        int n = b.remaining();
        b.get(dst, at, n);
        return n;
    }
}
