package dev.papa.daemon.store;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.papa.daemon.store.StoreLayout.*;

/**
 * The store's published record, and its copy on the heap that the queue changes freely between
 * two {@link #publish}es. Publishing writes every field into the slot the current generation
 * does not use, then stores the next generation with release semantics: a JVM killed anywhere
 * leaves either the old record or the new one, whole, and a reader that loads the generation
 * with acquire semantics sees everything written before it (the items up to {@code end}
 * included).
 */
final class StoreState {
    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());

    /** Sequence numbers past this are garbage (a billion items a second would take 146 years). */
    static final long MAX_SEQ = 1L << 62;

    long generation;
    int start;     // ring offset of the oldest item
    int end;       // ring offset after the newest item
    long headSeq;  // sequence number of the oldest item
    int count;     // items queued
    long dropped;  // chunk bytes evicted before any watcher was sent them
    boolean closed;
    int status;

    /** Makes the heap copy the store's record, atomically. */
    void publish(ByteBuffer b) {
        long next = generation + 1;
        int slot = slotOf(next);
        b.putLong(slot + R_START, start);
        b.putLong(slot + R_END, end);
        b.putLong(slot + R_HEAD_SEQ, headSeq);
        b.putLong(slot + R_COUNT, count);
        b.putLong(slot + R_DROPPED, dropped);
        b.putInt(slot + R_CLOSED, closed ? 1 : 0);
        b.putInt(slot + R_STATUS, status);
        LONGS.setRelease(b, H_GENERATION, next);
        generation = next;
    }

    /** The record published last, checked against the ring's size (not yet against the items). */
    static StoreState load(ByteBuffer b, int ringSize) throws CorruptStoreException {
        StoreState s = new StoreState();
        s.generation = (long) LONGS.getAcquire(b, H_GENERATION);
        int slot = slotOf(s.generation);
        long start = b.getLong(slot + R_START);
        long end = b.getLong(slot + R_END);
        long count = b.getLong(slot + R_COUNT);
        s.headSeq = b.getLong(slot + R_HEAD_SEQ);
        s.dropped = b.getLong(slot + R_DROPPED);
        int closed = b.getInt(slot + R_CLOSED);
        s.status = b.getInt(slot + R_STATUS);
        if (!offset(start, ringSize) || !offset(end, ringSize)) throw new CorruptStoreException("start " + start + ", end " + end + " in a ring of " + ringSize);
        if (count < 0 || count > ringSize / ITEM_HEADER) throw new CorruptStoreException("item count " + count);
        if (count == 0 && start != end) throw new CorruptStoreException("no items between " + start + " and " + end);
        if (s.headSeq < 0 || s.headSeq > MAX_SEQ) throw new CorruptStoreException("head sequence " + s.headSeq);
        if (s.dropped < 0) throw new CorruptStoreException("dropped " + s.dropped);
        if (closed != 0 && closed != 1) throw new CorruptStoreException("closed flag " + closed);
        s.start = (int) start;
        s.end = (int) end;
        s.count = (int) count;
        s.closed = closed == 1;
        return s;
    }

    private static boolean offset(long o, int ringSize) {
        return o >= 0 && o < ringSize && (o & 7) == 0;
    }

    private static int slotOf(long generation) {
        return SLOT0 + (int) (generation & 1) * SLOT_SIZE;
    }
}
