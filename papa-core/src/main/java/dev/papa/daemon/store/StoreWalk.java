package dev.papa.daemon.store;

import java.nio.ByteBuffer;

import static dev.papa.daemon.store.StoreLayout.*;

/**
 * Opening a store: walks the published items from start to end and checks that they are what
 * the record says (count, kinds, lengths, sequence checks, one wrap at most, ending exactly at
 * end), building the {@link ItemIndex} on the way. Bounded by the count, and each step stays in
 * the ring, so a store of garbage ends in a {@link CorruptStoreException}, never a fault or a
 * loop. Whatever lies past end (an item a killed JVM was writing) is not looked at.
 */
final class StoreWalk {
    final ItemIndex index = new ItemIndex();
    long bytes;   // chunk bytes queued
    long used;    // ring bytes from start to end, fillers included
    long itemBytes; // ring bytes of the items alone

    private StoreWalk() {}

    static StoreWalk walk(ByteBuffer b, StoreHeader h, StoreState s) throws CorruptStoreException {
        StoreWalk w = new StoreWalk();
        int ring = h.ringSize();
        int base = h.headerSize();
        int off = s.start;
        int wraps = 0;
        int chunks = 0;
        for (int i = 0; i < s.count; i++) {
            long seq = s.headSeq + i;
            if (ring - off < ITEM_HEADER || (byte) b.getInt(base + off + I_KIND_SEQ) == PAD) {
                if (ring - off >= ITEM_HEADER && b.getInt(base + off + I_LENGTH) != ring - off) {
                    throw new CorruptStoreException("filler at " + off + " does not reach the ring's end");
                }
                w.used += ring - off;
                off = 0;
                if (++wraps > 1) throw new CorruptStoreException("items wrap twice");
            }
            int len = b.getInt(base + off + I_LENGTH);
            int kindSeq = b.getInt(base + off + I_KIND_SEQ);
            byte kind = (byte) kindSeq;
            if (kindSeq != kindSeq(kind, seq)) throw new CorruptStoreException("item " + seq + " at " + off + ": kind and sequence check " + Integer.toHexString(kindSeq));
            if (kind == OutputStore.CLOSED) {
                if (len != 0 || i != s.count - 1 || !s.closed) throw new CorruptStoreException("closed item " + seq + " out of place");
            } else if (kind != OutputStore.OUT && kind != OutputStore.ERR) {
                throw new CorruptStoreException("item " + seq + " of kind " + kind);
            } else if (len < 1 || len > h.maxChunk()) {
                throw new CorruptStoreException("item " + seq + " of " + len + " bytes");
            } else {
                chunks++;
                w.bytes += len;
            }
            int size = itemSize(len);
            if (size > ring - off || w.used + size > ring) throw new CorruptStoreException("item " + seq + " at " + off + " passes the ring's end");
            w.index.add(off);
            w.used += size;
            w.itemBytes += size;
            off += size;
            if (off == ring) off = 0;
        }
        if (off != s.end) throw new CorruptStoreException(s.count + " items end at " + off + ", published end " + s.end);
        if (s.closed && s.count > 0 && (byte) b.getInt(base + w.index.get(s.count - 1) + I_KIND_SEQ) != OutputStore.CLOSED) {
            throw new CorruptStoreException("closed, but the last item is not the closed item");
        }
        if (w.bytes > h.capacity() && chunks > 1) throw new CorruptStoreException(w.bytes + " chunk bytes over a capacity of " + h.capacity());
        return w;
    }
}
