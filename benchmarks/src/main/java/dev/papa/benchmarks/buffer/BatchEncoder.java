package dev.papa.benchmarks.buffer;

import dev.papa.daemon.buffer.OutputBuffer;

import java.nio.ByteBuffer;

/**
 * Proposed replacement for the batch building in {@code Session#sendBatch} (PROTOCOL.md,
 * "Watching"): encodes one watch batch with no allocation in the steady state.
 *
 * <p>{@link #add} snapshots the queued items of one process: each header is written as ASCII into
 * a reusable byte arena and each chunk is kept by reference, so chunks evicted or acknowledged
 * while the batch is still being sent stay intact (the header already promised their length).
 * {@link #fill} then streams the batch into a caller's (direct) buffer in pieces, so a session
 * sends a batch with one {@code send()} per buffer-full instead of one per header and one per
 * chunk, and holds at most one buffer of copied bytes whatever the batch size.
 *
 * <p>Byte for byte the same output as {@code Session#sendBatch} today (checked by
 * {@code BatchBenchmark#setup}). Measured here first; proposed as
 * {@code dev.papa.daemon.session.BatchEncoder}. Not thread-safe: one per session.
 */
public final class BatchEncoder {
    private static final byte[] OUT = {'o', 'u', 't', ':'};
    private static final byte[] ERR = {'e', 'r', 'r', ':'};
    private static final byte[] CLOSED = {'c', 'l', 'o', 's', 'e', 'd', ':'};

    /** Headers (and the trailer), back to back. */
    private byte[] arena = new byte[4096];
    private int arenaLength;
    /** Segments: a header range of the arena (chunk == null) or a whole chunk. */
    private int[] segOffset = new int[64];
    private int[] segLength = new int[64];
    private byte[][] segChunk = new byte[64][];
    private int segments;
    /** The next header starts with the newline that ends the previous chunk. */
    private boolean chunkOpen;
    private long totalBytes;
    // streaming cursor
    private int cursorSeg;
    private int cursorOff;

    /** Starts a new batch (drops the references of the previous one). */
    public void begin() {
        for (int i = 0; i < segments; i++) segChunk[i] = null;
        segments = 0;
        arenaLength = 0;
        chunkOpen = false;
        totalBytes = 0;
        cursorSeg = 0;
        cursorOff = 0;
    }

    /**
     * Adds every queued item of one process; returns the sequence number to acknowledge up to
     * (the queue's {@code endSeq()} at this moment).
     */
    public long add(byte[] name, OutputBuffer q) {
        long end = q.endSeq();
        for (long seq = q.headSeq(); seq < end; seq++) {
            byte kind = q.kind(seq);
            int start = arenaLength;
            ensureArena(80 + name.length);
            if (chunkOpen) arena[arenaLength++] = '\n';
            if (kind == OutputBuffer.CLOSED) {
                put(CLOSED);
                put(name);
                arena[arenaLength++] = ':';
                putTime(q.timeMicros(seq));
                arena[arenaLength++] = ':';
                putLong(q.exitStatus());
                arena[arenaLength++] = '\n';
                header(start);
                chunkOpen = false; // the closed header ends in its own newline
            } else {
                byte[] chunk = q.chunk(seq);
                put(kind == OutputBuffer.OUT ? OUT : ERR);
                put(name);
                arena[arenaLength++] = ':';
                putTime(q.timeMicros(seq));
                arena[arenaLength++] = ':';
                putLong(chunk.length);
                arena[arenaLength++] = '\n';
                header(start);
                segment(0, chunk.length, chunk);
                chunkOpen = true;
            }
        }
        return end;
    }

    /** Ends the batch: the newline after the last chunk, then {@code "] "}. */
    public void finish() {
        int start = arenaLength;
        ensureArena(3);
        if (chunkOpen) arena[arenaLength++] = '\n';
        arena[arenaLength++] = ']';
        arena[arenaLength++] = ' ';
        header(start);
        chunkOpen = false;
    }

    /** Bytes of the whole batch. */
    public long totalBytes() {
        return totalBytes;
    }

    /**
     * Copies the next part of the batch into {@code out} (from its position to its limit);
     * returns true once the whole batch has been copied.
     */
    public boolean fill(ByteBuffer out) {
        while (cursorSeg < segments) {
            int room = out.remaining();
            if (room == 0) return false;
            byte[] chunk = segChunk[cursorSeg];
            byte[] src = chunk != null ? chunk : arena;
            int off = segOffset[cursorSeg] + cursorOff;
            int left = segLength[cursorSeg] - cursorOff;
            int n = Math.min(room, left);
            out.put(src, off, n);
            if (n == left) {
                cursorSeg++;
                cursorOff = 0;
            } else {
                cursorOff += n;
            }
        }
        return true;
    }

    /** After the batch was sent: forget the chunk references so acknowledged chunks can be collected. */
    public void release() {
        begin();
    }

    private void header(int start) {
        int len = arenaLength - start;
        // merge with the previous header segment when adjacent (e.g. "closed" after "closed")
        if (segments > 0 && segChunk[segments - 1] == null
                && segOffset[segments - 1] + segLength[segments - 1] == start) {
            segLength[segments - 1] += len;
            totalBytes += len;
            return;
        }
        segment(start, len, null);
    }

    private void segment(int off, int len, byte[] chunk) {
        if (segments == segOffset.length) {
            int n = segments * 2;
            segOffset = java.util.Arrays.copyOf(segOffset, n);
            segLength = java.util.Arrays.copyOf(segLength, n);
            segChunk = java.util.Arrays.copyOf(segChunk, n);
        }
        segOffset[segments] = off;
        segLength[segments] = len;
        segChunk[segments] = chunk;
        segments++;
        totalBytes += len;
    }

    private void ensureArena(int more) {
        if (arenaLength + more > arena.length) arena = java.util.Arrays.copyOf(arena, Math.max(arena.length * 2, arenaLength + more));
    }

    private void put(byte[] b) {
        ensureArena(b.length);
        System.arraycopy(b, 0, arena, arenaLength, b.length);
        arenaLength += b.length;
    }

    /** Seconds with six decimals, as {@code WallClock.append}; the seconds digits are cached. */
    private void putTime(long micros) {
        long secs = micros / 1_000_000L;
        int frac = (int) (micros % 1_000_000L);
        if (secs != cachedSecs || cachedSecsLength == 0) {
            int start = arenaLength;
            putLong(secs);
            cachedSecsLength = arenaLength - start;
            System.arraycopy(arena, start, cachedSecsDigits, 0, cachedSecsLength);
            cachedSecs = secs;
        } else {
            System.arraycopy(cachedSecsDigits, 0, arena, arenaLength, cachedSecsLength);
            arenaLength += cachedSecsLength;
        }
        arena[arenaLength++] = '.';
        for (int i = arenaLength + 5; i >= arenaLength; i--) {
            arena[i] = (byte) ('0' + frac % 10);
            frac /= 10;
        }
        arenaLength += 6;
    }

    private long cachedSecs;
    private final byte[] cachedSecsDigits = new byte[20];
    private int cachedSecsLength;

    private void putLong(long v) {
        if (v < 0) {
            arena[arenaLength++] = '-';
            if (v == Long.MIN_VALUE) { put("9223372036854775808".getBytes(java.nio.charset.StandardCharsets.US_ASCII)); return; }
            v = -v;
        }
        int digits = 1;
        for (long t = v; t >= 10; t /= 10) digits++;
        int end = arenaLength + digits;
        for (int i = end - 1; i >= arenaLength; i--) {
            arena[i] = (byte) ('0' + (v % 10));
            v /= 10;
        }
        arenaLength = end;
    }
}
