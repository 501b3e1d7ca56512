package dev.papa.daemon.store;

import java.nio.ByteBuffer;

/**
 * Items whose every byte follows from their sequence number: kind, time, length and contents,
 * so a reader can tell a complete item from a torn or misplaced one without any other record.
 * The crash test's writer (a child JVM) and its checker use the same rules.
 */
final class NumberedItems {
    private final int maxLen;

    NumberedItems(int maxLen) {
        this.maxLen = maxLen;
    }

    byte kind(long seq) {
        return seq % 3 == 2 ? OutputStore.ERR : OutputStore.OUT;
    }

    long time(long seq) {
        return 1_795_854_417_000_000L + seq * 1000;
    }

    int length(long seq) {
        long h = (seq * 0x9E3779B97F4A7C15L) >>> 33;
        return h % 50 == 0 ? maxLen : 1 + (int) (h % Math.min(maxLen, 3000));
    }

    byte at(long seq, int i) {
        return (byte) (seq * 31 + i * 7 + (i >>> 8));
    }

    /** Writes item {@code seq}'s contents into {@code buf} from its position (which stays). */
    void fill(long seq, ByteBuffer buf) {
        int len = length(seq);
        for (int i = 0; i < len; i++) buf.put(buf.position() + i, at(seq, i));
    }

    /** Appends item {@code seq} through the hot path (a direct read buffer). */
    void append(OutputStore s, long seq, ByteBuffer readBuffer) {
        fill(seq, readBuffer);
        s.append(kind(seq), time(seq), readBuffer, length(seq));
    }

    /** Null when every queued item of {@code s} is the numbered item of its sequence number, else what is wrong. */
    String check(OutputStore s) {
        for (long seq = s.headSeq(); seq < s.endSeq(); seq++) {
            if (s.kind(seq) == OutputStore.CLOSED) {
                if (seq != s.endSeq() - 1) return "closed item " + seq + " is not last";
                continue;
            }
            if (s.kind(seq) != kind(seq)) return "item " + seq + " kind " + s.kind(seq);
            if (s.timeMicros(seq) != time(seq)) return "item " + seq + " time " + s.timeMicros(seq);
            ByteBuffer c = s.chunk(seq);
            if (c.remaining() != length(seq)) return "item " + seq + " length " + c.remaining() + ", not " + length(seq);
            for (int i = 0; i < c.remaining(); i++) {
                if (c.get(i) != at(seq, i)) return "item " + seq + " byte " + i + " torn";
            }
        }
        return null;
    }
}
