package dev.papa.daemon.store;

import dev.papa.posix.PosixException;
import dev.papa.posix.SharedMapping;

import java.util.logging.Level;
import java.util.logging.Logger;

import static dev.papa.daemon.store.StoreLayout.alignDown;
import static dev.papa.daemon.store.StoreLayout.alignUp;

/**
 * Gives the pages behind a store's start back to the kernel (a hole punched into the memfd,
 * {@link SharedMapping#discard}), so that memory follows what is queued.
 *
 * <p>Positions here are logical: they only grow (a ring offset is the position modulo the ring
 * size), so "behind the start" is never ambiguous after a wrap. Pages from {@code punched} up to
 * the page after the end may hold data; every other page of the ring is a hole. Only whole pages
 * before the start's page are punched, never live data, and only once at least
 * {@link #threshold} bytes of them are dead, so a trickle that is acknowledged line by line
 * punches once per threshold, not per acknowledgement. {@link #trim} punches every dead page
 * (an idle queue, or a store just opened).
 */
final class PagePunch {
    private static final Logger LOG = Logger.getLogger(PagePunch.class.getName());
    /** Dead bytes behind the start that are worth a system call. */
    static final int MAX_THRESHOLD = 64 << 10;

    private final SharedMapping mapping;
    private final int base;
    private final int ring;
    private final int page;
    final int threshold;
    private long punched;
    private long punchCalls;

    PagePunch(SharedMapping mapping, int base, int ring, int page, long startPos, long endPos) {
        this.mapping = mapping;
        this.base = base;
        this.ring = ring;
        this.page = page;
        this.threshold = (int) Math.max(page, alignDown(Math.min(MAX_THRESHOLD, ring / 4), page));
        this.punched = alignUp(endPos, page) - ring; // anything outside the live pages may hold data
        if (startPos > endPos) throw new IllegalArgumentException("start after end");
    }

    /** The start moved: punches the dead pages behind it once there are enough of them. */
    void startMoved(long startPos, long endPos) {
        if (alignDown(startPos, page) - punched >= threshold) punchBehind(startPos, endPos);
    }

    /** Punches every dead page now; with nothing queued (start == end), the end's page too. */
    void trim(long startPos, long endPos) {
        if (startPos == endPos) {
            punch(Math.max(punched, alignUp(endPos, page) - ring), alignUp(endPos, page));
            punched = alignDown(endPos, page); // the next item is written into the end's page again
        } else {
            punchBehind(startPos, endPos);
        }
    }

    /** System calls made so far (tests: the trickle rate). */
    long punchCalls() { return punchCalls; }

    private void punchBehind(long startPos, long endPos) {
        long to = alignDown(startPos, page);
        punch(Math.max(punched, alignUp(endPos, page) - ring), to);
        punched = Math.max(punched, to);
    }

    private void punch(long from, long to) {
        if (to <= from) return;
        long len = to - from;
        int at = (int) Math.floorMod(from, (long) ring);
        try {
            if (at + len <= ring) {
                discard(at, len);
            } else {
                discard(at, ring - at);
                discard(0, len - (ring - at));
            }
        } catch (PosixException e) {
            LOG.log(Level.WARNING, "output store: pages not given back", e);
        }
    }

    private void discard(long at, long len) throws PosixException {
        punchCalls++;
        mapping.discard(base + at, len);
    }
}
