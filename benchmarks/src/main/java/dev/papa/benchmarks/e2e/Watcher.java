package dev.papa.benchmarks.e2e;

import java.io.IOException;

/** Reads watch batches (PROTOCOL.md "Watching") off a {@link Conn}, item by item. */
final class Watcher {
    static final int OUT = 0, ERR = 1, CLOSED = 2;

    interface Items {
        /**
         * One item. For OUT/ERR, {@code value} is the chunk length and the handler must read
         * exactly that many bytes from {@code c}; for CLOSED it is the exit status.
         */
        void item(int kind, byte[] name, int nameLength, long timeMicros, long value, Conn c) throws IOException;
    }

    private Watcher() {}

    /**
     * Reads one batch. Returns true after its {@code "] "} (the caller acknowledges), false when
     * the daemon ended the watch ({@code Nothing left to watch} / {@code Stopped watching}).
     */
    static boolean readBatch(Conn c, Items items) throws IOException {
        for (int guard = 0; guard < 100_000_000; guard++) {
            int b = c.peekByte();
            if (b == ']') {
                c.readByte();
                if (c.readByte() != ' ') throw new IOException("bad batch end");
                return true;
            }
            if (b == 'N' || b == 'S') {
                c.readReply();
                return false;
            }
            int n = c.readLine();
            byte[] l = c.line();
            int c1 = indexOf(l, 0, n, (byte) ':');
            int c3 = lastIndexOf(l, n, (byte) ':');
            int c2 = lastIndexOf(l, c3, (byte) ':');
            if (c1 < 0 || c2 <= c1 || c3 <= c2) throw new IOException("bad header: " + c.lineText());
            int kind;
            if (c1 == 3 && l[0] == 'o') kind = OUT;
            else if (c1 == 3 && l[0] == 'e') kind = ERR;
            else if (c1 == 6 && l[0] == 'c') kind = CLOSED;
            else throw new IOException("bad header: " + c.lineText());
            long micros = parseMicros(l, c2 + 1, c3);
            long value = parseLong(l, c3 + 1, n);
            byte[] name = java.util.Arrays.copyOfRange(l, c1 + 1, c2);
            items.item(kind, name, name.length, micros, value, c);
            if (kind != CLOSED && c.readByte() != '\n') throw new IOException("no newline after chunk");
        }
        throw new IOException("batch too long");
    }

    static int indexOf(byte[] b, int from, int to, byte x) {
        for (int i = from; i < to; i++) if (b[i] == x) return i;
        return -1;
    }

    static int lastIndexOf(byte[] b, int before, byte x) {
        for (int i = before - 1; i >= 0; i--) if (b[i] == x) return i;
        return -1;
    }

    static long parseLong(byte[] b, int from, int to) {
        boolean neg = from < to && b[from] == '-';
        long v = 0;
        for (int i = neg ? from + 1 : from; i < to; i++) v = v * 10 + (b[i] - '0');
        return neg ? -v : v;
    }

    /** "1795854417.739433" → microseconds. */
    static long parseMicros(byte[] b, int from, int to) {
        int dot = indexOf(b, from, to, (byte) '.');
        if (dot < 0) return parseLong(b, from, to) * 1_000_000L;
        long secs = parseLong(b, from, dot);
        long frac = 0;
        int digits = 0;
        for (int i = dot + 1; i < to && digits < 6; i++, digits++) frac = frac * 10 + (b[i] - '0');
        for (; digits < 6; digits++) frac *= 10;
        return secs * 1_000_000L + frac;
    }
}
