package dev.papa.daemon.store;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.posix.Memfd;
import dev.papa.posix.PosixException;
import dev.papa.posix.SharedMapping;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.papa.daemon.store.StoreLayout.*;

/**
 * The output queue of one process kept in a memfd instead of the heap: what {@link OutputBuffer}
 * does (the same items, sequence numbers, overflow rule, acknowledgements, {@code dropped=}),
 * in memory that outlives the JVM. The keeper holds the memfd; a new JVM {@link #open}s it and
 * finds every item that was not acknowledged, with its time, kind and number, the closed item
 * and the exit status, and the dropped count.
 *
 * <p>Crash consistency (docs/ARCHITECTURE.md, "The output store"): an item is written past the
 * published end first, then the record with the new end is published ({@link StoreState}); an
 * acknowledgement or eviction publishes the new start before anything overwrites the space it
 * frees. A JVM killed between any two instructions leaves the last published record, whole,
 * and items that are complete; a half-written item past the end is never read.
 *
 * <p>Hot path: {@link #append(byte, long, ByteBuffer, int)} copies a pipe read once, from the read
 * buffer into the mapping; {@link #chunk} is a slice of the mapping, no copy. An item never
 * wraps: one that does not fit before the ring's end goes to its start, behind a filler, so every
 * chunk is one contiguous slice for the socket write (the filler costs ring space, never memory
 * beyond its page, and the ring is sized for it: {@link StoreHeader}).
 *
 * <p>What is not kept: what was sent to which watcher ({@link #markSent} is the heap's), and
 * {@link #pauses}. Not thread-safe: owned by the event loop. Close only once no slice is used.
 */
public final class OutputStore implements AutoCloseable {
    public static final byte OUT = OutputBuffer.OUT;
    public static final byte ERR = OutputBuffer.ERR;
    public static final byte CLOSED = OutputBuffer.CLOSED;
    /** The largest chunk of a store made by {@link #create(int, long)}: one pipe read of the daemon. */
    public static final int DEFAULT_MAX_CHUNK = 64 << 10;
    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private final SharedMapping mapping;
    private final ByteBuffer map;
    private final StoreHeader header;
    private final int base;   // where the ring starts in the mapping
    private final int ring;
    private final StoreState state;
    private final ItemIndex index;
    private final PagePunch punch;
    private final int soft;   // where a queue that is not empty wraps when it can (StoreHeader.softRing)
    private long lastMicros;  // the newest item's capture time: the clock of PagePunch
    private long bytes;       // chunk bytes queued
    private long itemBytes;   // ring bytes of the queued items (headers, chunks, alignment)
    private long sentEnd;
    private boolean pauses;
    private boolean unmapped;

    private OutputStore(SharedMapping mapping, StoreHeader header, StoreState state, ItemIndex index, long bytes, long itemBytes, boolean fresh) {
        this.mapping = mapping;
        this.map = mapping.buffer();
        this.header = header;
        this.base = header.headerSize();
        this.ring = header.ringSize();
        this.state = state;
        this.index = index;
        this.bytes = bytes;
        this.itemBytes = itemBytes;
        this.sentEnd = state.headSeq;
        this.soft = header.softRing(SharedMapping.PAGE);
        this.punch = new PagePunch(mapping, base, ring, SharedMapping.PAGE, fresh);
    }

    /** A new, empty store in {@code memfd} (an empty memfd; sized, and sealed against shrinking, here). */
    public static OutputStore create(int memfd, long capacity) throws IOException {
        return create(memfd, capacity, DEFAULT_MAX_CHUNK);
    }

    /** A new, empty store whose chunks are at most {@code maxChunk} bytes. */
    public static OutputStore create(int memfd, long capacity, int maxChunk) throws IOException {
        return create(memfd, StoreHeader.forCapacity(capacity, maxChunk, SharedMapping.PAGE));
    }

    /** A new store of geometry {@code h} (tests: a ring smaller than the capacity needs). */
    static OutputStore create(int memfd, StoreHeader h) throws IOException {
        if (Memfd.size(memfd) != 0) throw new IllegalArgumentException("a store is made in an empty memfd");
        Memfd.truncate(memfd, h.fileSize());
        Memfd.sealShrink(memfd);
        SharedMapping m = SharedMapping.map(memfd, h.fileSize());
        ByteBuffer b = m.buffer();
        h.write(b);
        StoreState s = new StoreState();
        s.publish(b);
        LONGS.setRelease(b, H_MAGIC, MAGIC); // last: a store killed while being made is refused, never misread
        return new OutputStore(m, h, s, new ItemIndex(), 0, 0, true);
    }

    /**
     * The store in {@code memfd} as its last writer published it, checked whole; dead pages are
     * given back. The descriptor may be closed afterwards (the mapping keeps the memory).
     */
    public static OutputStore open(int memfd) throws CorruptStoreException, IOException {
        long size = Memfd.size(memfd);
        if (!Memfd.cannotShrink(memfd)) throw new CorruptStoreException("not a memfd sealed against shrinking");
        if (size < SharedMapping.PAGE || size > Integer.MAX_VALUE) throw new CorruptStoreException("file size " + size);
        SharedMapping m = SharedMapping.map(memfd, size);
        try {
            ByteBuffer b = m.buffer();
            if ((long) LONGS.getAcquire(b, H_MAGIC) != MAGIC) throw new CorruptStoreException(String.format("magic %016x", b.getLong(H_MAGIC)));
            StoreHeader h = StoreHeader.read(b, size, SharedMapping.PAGE);
            StoreState s = StoreState.load(b, h.ringSize());
            StoreWalk w = StoreWalk.walk(b, h, s);
            OutputStore store = new OutputStore(m, h, s, w.index, w.bytes, w.itemBytes, false);
            store.trim();
            return store;
        } catch (CorruptStoreException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Queues a chunk of {@code chunk.length} bytes (tests, and callers with a heap array). */
    public void append(byte kind, long timeMicros, byte[] chunk) {
        append(kind, timeMicros, ByteBuffer.wrap(chunk), chunk.length);
    }

    /**
     * Queues {@code len} bytes of {@code src} from its position (which does not move): the one
     * copy of a pipe read. Evicts old chunks by the overflow rule, as {@link OutputBuffer#append}.
     */
    public void append(byte kind, long timeMicros, ByteBuffer src, int len) {
        mapped();
        if (state.closed) throw new IllegalStateException("append after close");
        if (kind != OUT && kind != ERR) throw new IllegalArgumentException("kind " + kind);
        if (len < 1 || len > header.maxChunk()) throw new IllegalArgumentException("chunk of " + len + " bytes (1 to " + header.maxChunk() + ")");
        if (src.remaining() < len) throw new IllegalArgumentException(len + " bytes asked of " + src.remaining());
        int before = state.count;
        if (len >= header.capacity()) {
            evictOldest(state.count);
        } else {
            while (bytes + len > header.capacity()) evictOldest(1);
        }
        int at = place(itemSize(len), before != state.count);
        map.put(base + at + ITEM_HEADER, src, src.position(), len);
        pushed(kind, timeMicros, at, len);
        lastMicros = timeMicros;
        bytes += len;
        state.publish(map);
    }

    /** Queues the final item; nothing may follow it. */
    public void appendClosed(long timeMicros, int status) {
        mapped();
        if (state.closed) throw new IllegalStateException("closed twice");
        int at = place(itemSize(0), false);
        pushed(CLOSED, timeMicros, at, 0);
        lastMicros = timeMicros;
        state.closed = true;
        state.status = status;
        state.publish(map);
    }

    /** A queue carried over from elsewhere, before its items: its first item is numbered {@code seq}. Only while unused. */
    public void startAt(long seq, long sentEnd, long dropped) {
        mapped();
        if (state.count != 0 || state.closed) throw new IllegalStateException("startAt on a used queue");
        if (seq < 0 || seq > StoreState.MAX_SEQ || dropped < 0) throw new IllegalArgumentException("startAt " + seq + ", dropped " + dropped);
        state.headSeq = seq;
        state.dropped = dropped;
        this.sentEnd = sentEnd;
        state.publish(map);
    }

    /** Removes every item numbered below {@code endSeq} that is still queued. */
    public void acknowledge(long endSeq) {
        mapped();
        long n = endSeq - state.headSeq;
        if (n <= 0 || state.count == 0) return;
        removeOldest((int) Math.min(n, state.count), false);
        startPublished();
    }

    /** Drops all items (a removed process keeps being drained but keeps nothing). */
    public void discardAll() {
        mapped();
        if (state.count == 0) return;
        removeOldest(state.count, false);
        startPublished();
    }

    /** A watch batch carried every item below {@code endSeq} (heap only: not kept in the store). */
    public void markSent(long endSeq) {
        if (endSeq > sentEnd) sentEnd = endSeq;
    }

    /** Gives back every page no queued item uses (an idle queue; done at {@link #open}). */
    public void trim() {
        mapped();
        punch.trim(state.start, state.end, state.count == 0);
    }

    public long sentEnd() { return sentEnd; }
    /** Chunk bytes the overflow rule evicted before any watcher was sent them (PROTOCOL.md {@code dropped=}). */
    public long droppedBytes() { return state.dropped; }
    /**
     * Room left before anything would be evicted (what {@code overflow=block} may still read):
     * the overflow rule's, and the ring's when less ({@link StoreHeader}: only with very small chunks).
     */
    public long room() {
        return Math.max(0, Math.min(header.capacity() - bytes, largestFit() - ITEM_HEADER));
    }
    public void pauses(boolean on) { pauses = on; }
    public boolean pauses() { return pauses; }
    public long headSeq() { return state.headSeq; }
    public long endSeq() { return state.headSeq + state.count; }
    public int size() { return state.count; }
    public boolean isEmpty() { return state.count == 0; }
    public long bytes() { return bytes; }
    public long capacity() { return header.capacity(); }
    public int maxChunk() { return header.maxChunk(); }
    public boolean isClosed() { return state.closed; }
    public int exitStatus() { return state.status; }
    /** True once the closed item was queued and has been acknowledged. */
    public boolean closedAndDelivered() { return state.closed && state.count == 0; }
    /** Ring bytes of the queued items: headers, chunks, alignment (what a budget of store memory would count). */
    public long storeBytes() { return itemBytes; }
    /** The memfd's size: header and ring, mostly holes. */
    public long fileSize() { return header.fileSize(); }
    /** System calls that gave pages back so far. */
    public long punchCalls() { return punch.punchCalls(); }
    /** Ring bytes a queue in use keeps its pages in (beyond, only while very small chunks need them). */
    int softRing() { return soft; }

    public byte kind(long seq) { return (byte) map.getInt(item(seq) + I_KIND_SEQ); }
    public long timeMicros(long seq) { return map.getLong(item(seq) + I_TIME); }
    public int chunkLength(long seq) { return map.getInt(item(seq) + I_LENGTH); }

    /** The chunk bytes of an item, a slice of the mapping (no copy; empty for the closed item). Do not modify. */
    public ByteBuffer chunk(long seq) {
        int at = item(seq);
        return map.slice(at + ITEM_HEADER, map.getInt(at + I_LENGTH));
    }

    /** Unmaps. No slice of {@link #chunk} may be used afterwards; the memfd keeps everything. */
    @Override
    public void close() {
        unmapped = true;
        mapping.close();
    }

    /** Touching the memory after close would fault the JVM: an exception instead. */
    private void mapped() {
        if (unmapped) throw new IllegalStateException("output store closed");
    }

    private int item(long seq) {
        mapped();
        long offset = seq - state.headSeq;
        if (offset < 0 || offset >= state.count) throw new IndexOutOfBoundsException("seq " + seq + " not queued");
        return base + index.get((int) offset);
    }

    /**
     * Where an item of {@code size} ring bytes goes: at the end, or at the ring's start behind a
     * filler. A full ring evicts the oldest items (only a capped ring fills before the overflow
     * rule evicts). Publishes first when anything was evicted: the item may overwrite it.
     */
    private int place(int size, boolean evicted) {
        int at;
        while ((at = fit(size)) < 0) {
            evictOldest(1);
            evicted = true;
        }
        if (evicted) startPublished();
        int end = state.end;
        if (at != end) {
            if (state.count == 0) { // empty: both ends move to the ring's start
                state.start = 0;
            } else if (ring - end >= ITEM_HEADER) {
                map.putInt(base + end + I_LENGTH, ring - end);
                map.putInt(base + end + I_KIND_SEQ, PAD);
            }
        }
        return at;
    }

    /**
     * The ring offset an item of {@code size} bytes fits at, or -1. An empty queue starts again at
     * 0, and one that would pass the soft ring size wraps when there is room at 0: the pages in
     * use are reused rather than new ones faulted in.
     */
    private int fit(int size) {
        int start = state.start, end = state.end;
        if (state.count == 0) return 0;
        if (end > start) {
            if (end + size > soft && start >= size) return 0;
            if (ring - end >= size) return end;
            return start >= size ? 0 : -1;
        }
        return start - end >= size ? end : -1; // wrapped (or full: start == end)
    }

    /** The largest item that fits without evicting. */
    private int largestFit() {
        int start = state.start, end = state.end;
        if (state.count == 0) return ring;
        if (end > start) return Math.max(ring - end, start);
        return start - end;
    }

    private void pushed(byte kind, long time, int at, int len) {
        long seq = state.headSeq + state.count;
        map.putInt(base + at + I_LENGTH, len);
        map.putInt(base + at + I_KIND_SEQ, kindSeq(kind, seq));
        map.putLong(base + at + I_TIME, time);
        index.add(at);
        int size = itemSize(len);
        punch.wrote(at + size);
        state.end = at + size == ring ? 0 : at + size;
        state.count++;
        itemBytes += size;
    }

    /** The overflow rule: drops the n oldest items, counting the chunk bytes no watcher was sent. */
    private void evictOldest(int n) {
        removeOldest(n, true);
    }

    private void removeOldest(int n, boolean countDropped) {
        for (int k = 0; k < n; k++) {
            int at = index.removeFirst();
            int len = map.getInt(base + at + I_LENGTH);
            if (kindAt(at) != CLOSED) {
                bytes -= len;
                if (countDropped && state.headSeq >= sentEnd) state.dropped = saturated(state.dropped + len);
            }
            int size = itemSize(len);
            itemBytes -= size;
            state.start = at + size == ring ? 0 : at + size;
            state.headSeq++;
            state.count--;
            if (state.count > 0 && (ring - state.start < ITEM_HEADER || kindAt(state.start) == PAD)) {
                state.start = 0; // past the filler to the ring's start
            }
        }
    }

    /** A count that cannot wrap to negative (a store opened with a huge one stays readable). */
    private static long saturated(long sum) {
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    private byte kindAt(int at) {
        return (byte) map.getInt(base + at + I_KIND_SEQ);
    }

    private void startPublished() {
        state.publish(map);
        if (state.count == 0) punch.emptied(lastMicros);
    }
}
