package dev.papa.daemon.state;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * One frame of the keeper's journal, appended after a state's end entry: {@code i32 length,
 * i32 crc32c of the payload, payload}, the payload being state entries (no end entry). A JVM
 * killed in the middle of a write leaves a frame whose length or checksum does not hold; the
 * journal ends there, and everything before it is whole.
 */
final class JournalFrame {
    /** Larger lengths are damage: a frame is cut at about {@link #SPLIT} bytes, plus at most one entry. */
    static final int MAX = 64 << 20;
    /** A frame being built is closed once its payload passes this size (between entries). */
    static final int SPLIT = 1 << 20;
    static final int OVERHEAD = 8;

    private JournalFrame() {}

    /** The frame carrying {@code payload}. */
    static byte[] encode(byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(OVERHEAD + payload.length);
        b.putInt(payload.length).putInt(crc(payload, payload.length)).put(payload);
        return b.array();
    }

    private static int crc(byte[] b, int length) {
        CRC32C c = new CRC32C();
        c.update(b, 0, length);
        return (int) c.getValue();
    }

    /** Reads frames in order until the end of the journal. */
    static final class Reader {
        private final DataInputStream in;
        private final StateFormat.Counting counted;
        private int frames;
        private String cut;
        private long end;

        /** Frames from the start of {@code in}. */
        static Reader of(java.io.InputStream in) {
            StateFormat.Counting counted = new StateFormat.Counting(new java.io.BufferedInputStream(in, 1 << 16));
            return new Reader(new DataInputStream(counted), counted);
        }

        /** Frames from {@code in}, which reads through {@code counted}. */
        Reader(DataInputStream in, StateFormat.Counting counted) {
            this.in = in;
            this.counted = counted;
            this.end = counted.count();
        }

        /** The next frame's payload; null at the end: end of file, or a cut or damaged frame ({@link #cut()}). */
        byte[] next() throws StateException {
            if (cut != null) return null;
            try {
                int first = in.read();
                if (first < 0) return null; // the journal ends between frames
                int length = first << 24 | in.readUnsignedByte() << 16 | in.readUnsignedByte() << 8 | in.readUnsignedByte();
                int crc = in.readInt();
                if (length <= 0 || length > MAX) return cut("frame " + frames + " has length " + length);
                byte[] payload = new byte[length];
                in.readFully(payload);
                if (crc(payload, length) != crc) return cut("frame " + frames + " fails its checksum");
                frames++;
                end = counted.count();
                return payload;
            } catch (EOFException e) {
                return cut("frame " + frames + " is cut short");
            } catch (IOException e) {
                throw new StateException("cannot read the journal: " + e.getMessage(), e);
            }
        }

        private byte[] cut(String why) {
            cut = why;
            return null;
        }

        /** Whole frames read. */
        int frames() { return frames; }

        /** Where the last whole frame read ends, counted from the start of the stream (the state's first byte). */
        long end() { return end; }

        /** Why the journal ended before the end of the file (a write cut by a kill), or null. */
        String cut() { return cut; }
    }
}
