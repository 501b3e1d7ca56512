package dev.papa.daemon.session;

import dev.papa.daemon.buffer.OutputBuffer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * What a session still has to send, as a queue of byte-array slices: replies, watch-batch
 * headers and the captured chunks themselves (referenced, never copied into the queue).
 *
 * <p>Batch headers are encoded as ASCII straight into a reusable arena, so a steady stream of
 * batches allocates nothing beyond the captured bytes. The session sends by {@link #fill}ing
 * one shared direct buffer (one copy, one syscall per 64 KiB however small the slices) and
 * {@link #consume}-ing what the kernel took.
 */
public final class Outbox {
    private static final byte[] BATCH_END = "] ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] OUT = "out:".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ERR = "err:".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CLOSED = "closed:".getBytes(StandardCharsets.US_ASCII);

    private byte[][] arrays = new byte[16][];
    private int[] starts = new int[16];
    private int[] ends = new int[16];
    private int head;      // ring index of the first slice
    private int count;     // slices queued
    private long bytes;    // bytes queued

    private byte[] arena = new byte[1024];
    private int arenaUsed;

    public boolean isEmpty() { return count == 0; }
    public long bytes() { return bytes; }

    /** Queues {@code a} whole; it must not change until sent. */
    public void add(byte[] a) {
        add(a, 0, a.length);
    }

    public void add(byte[] a, int from, int to) {
        if (to <= from) return;
        if (count == arrays.length) grow();
        int i = (head + count) & (arrays.length - 1);
        arrays[i] = a;
        starts[i] = from;
        ends[i] = to;
        count++;
        bytes += to - from;
    }

    /**
     * Queues one watch batch: every item queued in {@code queues[i]}, named {@code names[i]}
     * (UTF-8), in order, then {@code "] "}. Returns false, queuing nothing, when all are empty.
     */
    public boolean addBatch(OutputBuffer[] queues, byte[][] names, int n) {
        boolean any = false;
        boolean chunkOpen = false; // the last item was a chunk: its bytes need a closing newline
        for (int i = 0; i < n; i++) {
            OutputBuffer q = queues[i];
            long end = q.endSeq();
            for (long seq = q.headSeq(); seq < end; seq++) {
                any = true;
                int mark = reserve(names[i].length + 64);
                if (chunkOpen) arena[arenaUsed++] = '\n';
                byte kind = q.kind(seq);
                if (kind == OutputBuffer.CLOSED) {
                    put(CLOSED);
                    put(names[i]);
                    arena[arenaUsed++] = ':';
                    putTime(q.timeMicros(seq));
                    arena[arenaUsed++] = ':';
                    putLong(q.exitStatus());
                    arena[arenaUsed++] = '\n';
                    add(arena, mark, arenaUsed);
                    chunkOpen = false;
                } else {
                    byte[] chunk = q.chunk(seq);
                    put(kind == OutputBuffer.OUT ? OUT : ERR);
                    put(names[i]);
                    arena[arenaUsed++] = ':';
                    putTime(q.timeMicros(seq));
                    arena[arenaUsed++] = ':';
                    putLong(chunk.length);
                    arena[arenaUsed++] = '\n';
                    add(arena, mark, arenaUsed);
                    add(chunk);
                    chunkOpen = true;
                }
            }
        }
        if (!any) return false;
        int mark = reserve(3);
        if (chunkOpen) arena[arenaUsed++] = '\n';
        put(BATCH_END);
        add(arena, mark, arenaUsed);
        return true;
    }

    /** Copies queued bytes into {@code dst} (from its position) without consuming them. */
    public void fill(ByteBuffer dst) {
        int mask = arrays.length - 1;
        for (int k = 0; k < count && dst.hasRemaining(); k++) {
            int i = (head + k) & mask;
            int len = Math.min(ends[i] - starts[i], dst.remaining());
            dst.put(arrays[i], starts[i], len);
        }
    }

    /** Drops the first {@code n} queued bytes (what the kernel accepted). */
    public void consume(long n) {
        bytes -= n;
        int mask = arrays.length - 1;
        while (n > 0) {
            int len = ends[head] - starts[head];
            if (n < len) {
                starts[head] += (int) n;
                return;
            }
            n -= len;
            arrays[head] = null;
            head = (head + 1) & mask;
            count--;
        }
        if (count == 0) {
            head = 0;
            arenaUsed = 0; // nothing refers to the arena any more
        }
    }

    public void clear() {
        consume(bytes);
    }

    /** Makes room for {@code n} more arena bytes; returns where they start. */
    private int reserve(int n) {
        if (arenaUsed + n > arena.length) {
            // Queued slices keep referring to the old arena, which stays valid until they are sent.
            arena = new byte[Math.max(arena.length * 2, n + 1024)];
            arenaUsed = 0;
        }
        return arenaUsed;
    }

    private void put(byte[] b) {
        System.arraycopy(b, 0, arena, arenaUsed, b.length);
        arenaUsed += b.length;
    }

    /** Seconds since the epoch with six decimals, like every protocol timestamp. */
    private void putTime(long micros) {
        putLong(micros / 1_000_000L);
        arena[arenaUsed++] = '.';
        int frac = (int) (micros % 1_000_000L);
        for (int d = 100_000; d >= 1; d /= 10) {
            arena[arenaUsed++] = (byte) ('0' + frac / d % 10);
        }
    }

    private void putLong(long v) {
        if (v < 0) {
            arena[arenaUsed++] = '-';
            v = -v;
        }
        int start = arenaUsed;
        do {
            arena[arenaUsed++] = (byte) ('0' + v % 10);
            v /= 10;
        } while (v != 0);
        for (int a = start, b = arenaUsed - 1; a < b; a++, b--) {
            byte t = arena[a];
            arena[a] = arena[b];
            arena[b] = t;
        }
    }

    private void grow() {
        int cap = arrays.length;
        byte[][] a = new byte[cap * 2][];
        int[] s = new int[cap * 2];
        int[] e = new int[cap * 2];
        for (int k = 0; k < count; k++) {
            int i = (head + k) & (cap - 1);
            a[k] = arrays[i];
            s[k] = starts[i];
            e[k] = ends[i];
        }
        arrays = a;
        starts = s;
        ends = e;
        head = 0;
    }
}
