package dev.papa.daemon.store;

/**
 * Where things are in an output store (docs/ARCHITECTURE.md, "The output store"): one header
 * page, then the ring of items. Every offset is in bytes, items are 8-byte aligned, the byte
 * order is the machine's (a store never leaves the machine).
 *
 * <pre>
 * header page: magic, layout version, header size, ring size, capacity, largest chunk,
 *              generation (published with release semantics), two records (slot = generation &amp; 1)
 * record:      start, end (ring offsets), head sequence, item count, dropped, closed flag, status
 * item:        length (int), kind | sequence &lt;&lt; 8 (int), capture time (long), chunk bytes, pad to 8
 * </pre>
 */
final class StoreLayout {
    static final long MAGIC = 0x3145555141504150L; // "PAPAQUE1" in memory on a little-endian machine
    static final int VERSION = 1;

    // header fields
    static final int H_MAGIC = 0, H_VERSION = 8, H_HEADER_SIZE = 12, H_RING = 16, H_CAPACITY = 24,
            H_MAX_CHUNK = 32, H_GENERATION = 40;
    static final int SLOT0 = 64, SLOT_SIZE = 64;
    // record fields, from the slot's start
    static final int R_START = 0, R_END = 8, R_HEAD_SEQ = 16, R_COUNT = 24, R_DROPPED = 32, R_CLOSED = 40, R_STATUS = 44;

    // item fields, from the item's start
    static final int I_LENGTH = 0, I_KIND_SEQ = 4, I_TIME = 8, ITEM_HEADER = 16;
    /** The kind of the filler from a wrapping item's would-be place to the ring's end. */
    static final byte PAD = 3;
    /** The low bits of its sequence number an item carries (a check when the store is opened). */
    static final int SEQ_CHECK_MASK = 0xFFFFFF;

    private StoreLayout() {}

    /** Ring bytes of an item with a chunk of {@code len} bytes (0 for the closed item). */
    static int itemSize(int len) {
        return ITEM_HEADER + ((len + 7) & ~7);
    }

    static int kindSeq(byte kind, long seq) {
        return (kind & 0xFF) | (int) ((seq & SEQ_CHECK_MASK) << 8);
    }

    static long alignUp(long x, long to) {
        return (x + to - 1) / to * to;
    }

    static long alignDown(long x, long to) {
        return x / to * to;
    }
}
