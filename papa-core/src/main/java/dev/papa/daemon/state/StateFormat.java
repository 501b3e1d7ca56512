package dev.papa.daemon.state;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The state file: {@code "papa-state\n"}, {@code u16 major}, {@code u16 minor}, then entries
 * {@code UTF kind, i32 length, record} ({@link RecordCodec}) up to an entry of kind {@code ""}.
 *
 * <p>Versioning: a reader refuses a major it does not know; within a major, a newer minor only
 * adds entry kinds (skipped by older readers) and record fields (skipped too), so an older papa
 * can take back a newer one's state (the fallback of a failed upgrade relies on it).
 *
 * <p>1.1: the keeper's state may go on after its end entry with journal frames
 * ({@link JournalFrame}) of entries, tombstones among them ({@code value-gone},
 * {@code socket-gone}, {@code process-gone}); {@link Replay} applies them. An upgrade's state
 * has none.
 *
 * <p>1.2: a frame may carry a {@code daemon} entry, the {@link Carried.Daemonwide} record in
 * place of the header's (a JVM that took an upgrade over goes on writing the state it was handed).
 */
public final class StateFormat {
    public static final int MAJOR = 1;
    public static final int MINOR = 2;
    /** Test hook: the major version written (a state that no papa reads). */
    static final String WRITE_MAJOR_PROPERTY = "papa.test.stateMajor";
    private static final byte[] MAGIC = "papa-state\n".getBytes(StandardCharsets.US_ASCII);
    /** Larger entries are corrupt: the biggest real one is a 64 KiB chunk. */
    private static final int MAX_ENTRY = 16 << 20;

    private StateFormat() {}

    public static String version() {
        return MAJOR + "." + MINOR;
    }

    /** Writes entries; {@link #close()} writes the end entry (not in a journal frame's payload) and flushes. */
    static final class Writer implements AutoCloseable {
        private final DataOutputStream out;
        private final boolean whole;

        /** A whole state: the magic and version first. */
        Writer(OutputStream os) throws IOException {
            this(os, true);
        }

        private Writer(OutputStream os, boolean whole) throws IOException {
            this.whole = whole;
            out = new DataOutputStream(whole ? new BufferedOutputStream(os, 1 << 16) : os);
            if (!whole) return;
            out.write(MAGIC);
            out.writeShort(Integer.getInteger(WRITE_MAJOR_PROPERTY, MAJOR));
            out.writeShort(MINOR);
        }

        /** Only entries: a journal frame's payload. */
        static Writer entries(OutputStream os) throws IOException {
            return new Writer(os, false);
        }

        void entry(String kind, Record r) throws IOException {
            byte[] payload = RecordCodec.encode(r);
            out.writeUTF(kind);
            out.writeInt(payload.length);
            out.write(payload);
        }

        @Override
        public void close() throws IOException {
            if (whole) {
                out.writeUTF("");
                out.writeInt(0);
            }
            out.flush();
        }
    }

    /** Reads entries in order; refuses an unknown major version. */
    /** An input stream that counts the bytes it delivered. */
    static final class Counting extends java.io.FilterInputStream {
        private long count;

        Counting(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) count++;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) count += n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long k = super.skip(n);
            count += k;
            return k;
        }

        long count() { return count; }
    }

    static final class Reader {
        private final DataInputStream in;
        final int major;
        final int minor;
        /** A journal frame's payload: its entries end with its bytes, not with an end entry. */
        private final boolean frame;
        private String kind;
        private ByteBuffer payload;

        /** The entries of a journal frame's payload. */
        static Reader entries(byte[] framePayload) {
            return new Reader(framePayload);
        }

        private Reader(byte[] framePayload) {
            counted = new Counting(new java.io.ByteArrayInputStream(framePayload));
            in = new DataInputStream(counted);
            major = MAJOR;
            minor = MINOR;
            frame = true;
        }

        /** Bytes read from the start of the state (a journal's frames are read through this reader's stream too). */
        private final Counting counted;

        Reader(InputStream is) throws StateException {
            frame = false;
            counted = new Counting(new BufferedInputStream(is, 1 << 16));
            in = new DataInputStream(counted);
            try {
                byte[] magic = new byte[MAGIC.length];
                in.readFully(magic);
                if (!Arrays.equals(magic, MAGIC)) throw new StateException("not a papa state");
                major = in.readUnsignedShort();
                minor = in.readUnsignedShort();
            } catch (IOException e) {
                throw new StateException("not a papa state (" + e.getMessage() + ")", e);
            }
            if (major != MAJOR) {
                throw new StateException("unknown state format " + major + "." + minor + " (this papa reads " + MAJOR + ".x)");
            }
        }

        /** Moves to the next entry; false at the end. */
        boolean next() throws StateException {
            try {
                if (frame && in.available() == 0) return false;
                kind = in.readUTF();
                int len = in.readInt();
                if (len < 0 || len > MAX_ENTRY) throw new StateException("corrupt state: entry of " + len + " bytes");
                byte[] b = new byte[len];
                in.readFully(b);
                payload = ByteBuffer.wrap(b);
                return !kind.isEmpty();
            } catch (EOFException e) {
                throw new StateException("truncated state", e);
            } catch (IOException e) {
                throw new StateException("cannot read the state: " + e.getMessage(), e);
            }
        }

        String kind() {
            return kind;
        }

        /** After the end entry: the journal frames that follow it (the keeper's state). */
        JournalFrame.Reader frames() {
            return new JournalFrame.Reader(in, counted);
        }

        <R extends Record> R read(Class<R> type) throws StateException {
            return RecordCodec.decode(type, payload);
        }
    }
}
