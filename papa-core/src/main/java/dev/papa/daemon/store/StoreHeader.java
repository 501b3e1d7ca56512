package dev.papa.daemon.store;

import java.nio.ByteBuffer;

import static dev.papa.daemon.store.StoreLayout.*;

/**
 * The fixed part of a store's header: its geometry, written once at creation, checked whole at
 * every opening.
 *
 * <p>The ring is sized so that the overflow rule alone decides what is evicted: at most
 * {@code capacity} chunk bytes of at least one byte each cost at most 24 ring bytes per chunk
 * byte ({@link StoreLayout#itemSize}: a one-byte chunk takes 24), plus the closed item, plus the
 * filler a wrapping item leaves at the ring's end (less than the largest item). Memory is only
 * what is written: the file is sparse, a queue in use keeps to its {@link #softRing} and dead
 * pages are given back ({@link PagePunch}). Above {@link #MAX_RING} (capacities over about 85 MiB of very small
 * chunks) the ring is capped, and a full ring evicts the oldest items like the overflow rule.
 */
record StoreHeader(int headerSize, int ringSize, long capacity, int maxChunk) {
    /** The largest ring: header and ring must fit in one mapping (a ByteBuffer, int-indexed). */
    static final int MAX_RING = (int) alignDown(Integer.MAX_VALUE - (1 << 16), 1 << 16);

    /** The geometry of a new store for {@code capacity} chunk bytes and chunks of at most {@code maxChunk}. */
    static StoreHeader forCapacity(long capacity, int maxChunk, int page) {
        if (capacity < 1) throw new IllegalArgumentException("capacity " + capacity);
        if (maxChunk < 1 || itemSize(maxChunk) > MAX_RING / 2) throw new IllegalArgumentException("largest chunk " + maxChunk);
        long worst = 24 * Math.min(capacity, MAX_RING) + 2L * itemSize(0) + itemSize(maxChunk);
        long ring = Math.min(alignUp(worst, page), alignDown(MAX_RING, page));
        return new StoreHeader(page, (int) ring, capacity, maxChunk);
    }

    /**
     * Where a queue in use wraps when there is room at the ring's start: twice the capacity and two
     * of the largest items (at least 256 KiB), so that pages are reused. Only chunks averaging
     * below about 16 bytes ever need ring beyond it; a wrapped queue of them that fills
     * {@code [end, start)} evicts its oldest items before the overflow rule would.
     */
    int softRing(int page) {
        long s = Math.max(2 * capacity + 2L * itemSize(maxChunk), 256 << 10);
        return (int) Math.min(ringSize, alignUp(s, page));
    }

    long fileSize() {
        return (long) headerSize + ringSize;
    }

    /** Writes the geometry; the magic is written last by the creator, once everything else is. */
    void write(ByteBuffer b) {
        b.putInt(H_VERSION, VERSION);
        b.putInt(H_HEADER_SIZE, headerSize);
        b.putLong(H_RING, ringSize);
        b.putLong(H_CAPACITY, capacity);
        b.putLong(H_MAX_CHUNK, maxChunk);
    }

    /** The geometry of a mapped store of {@code fileSize} bytes, checked against it and the page size. */
    static StoreHeader read(ByteBuffer b, long fileSize, int page) throws CorruptStoreException {
        if (fileSize < page || fileSize % page != 0) throw new CorruptStoreException("file size " + fileSize);
        long magic = b.getLong(H_MAGIC);
        if (magic != MAGIC) throw new CorruptStoreException(String.format("magic %016x", magic));
        int version = b.getInt(H_VERSION);
        if (version != VERSION) throw new CorruptStoreException("layout version " + version + ", this daemon reads " + VERSION);
        int headerSize = b.getInt(H_HEADER_SIZE);
        if (headerSize != page) throw new CorruptStoreException("header size " + headerSize + " on pages of " + page);
        long ring = b.getLong(H_RING);
        if (ring < page || ring > MAX_RING || ring % page != 0 || headerSize + ring != fileSize) {
            throw new CorruptStoreException("ring size " + ring + " in a file of " + fileSize);
        }
        long capacity = b.getLong(H_CAPACITY);
        if (capacity < 1) throw new CorruptStoreException("capacity " + capacity);
        long maxChunk = b.getLong(H_MAX_CHUNK);
        if (maxChunk < 1 || maxChunk > ring || itemSize((int) maxChunk) + itemSize(0) > ring) {
            throw new CorruptStoreException("largest chunk " + maxChunk + " in a ring of " + ring);
        }
        return new StoreHeader(headerSize, (int) ring, capacity, (int) maxChunk);
    }
}
