package dev.papa.client;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A watch of process output, from {@link Papa#watchProcesses} or {@link Papa#makeProcessAndWatch}.
 *
 * <p>The watcher takes over its {@link Papa}'s connection (the daemon's session is in watch mode);
 * the {@code Papa} opens a fresh connection for its next command, and gets this one back when the
 * watcher ends cleanly: when the daemon says nothing is left to watch, or on {@link #close()}.
 *
 * <p>Each {@link #read()} returns the next batch. The items of a batch stay queued in the daemon
 * until they are acknowledged: explicitly with {@link #acknowledge()}, by the next {@code read},
 * or by {@code close()} (which sends {@code q}). A watcher that goes away without acknowledging
 * loses nothing: the next watcher receives the same items again.
 *
 * <p>A watcher is for one thread at a time. {@link #read(Duration)} and {@link #ready()} let one
 * thread serve many watchers.
 */
public final class Watcher implements AutoCloseable {
    private final Papa owner;
    private final int watched;
    private final ProcessInfo process;
    private Connection conn;
    private boolean needAck;
    private String endMessage;
    private final Map<String, Integer> exitCodes = new LinkedHashMap<>();
    private final Set<String> exited = new HashSet<>();

    Watcher(Papa owner, Connection conn, int watched, ProcessInfo process) {
        this.owner = owner;
        this.conn = conn;
        this.watched = watched;
        this.process = process;
    }

    /** The process made by {@link Papa#makeProcessAndWatch}, or null for {@link Papa#watchProcesses}. */
    public ProcessInfo process() {
        return process;
    }

    /** How many processes the daemon said it watches. */
    public int watchedCount() {
        return watched;
    }

    /**
     * Acknowledges the last batch if that is still owed, then waits for the next batch.
     *
     * @return the batch, or empty when the watch has ended (nothing is left to watch)
     */
    public Optional<WatchBatch> read() throws PapaException {
        return read(-1);
    }

    /**
     * Like {@link #read()}, waiting at most {@code timeout}.
     *
     * @return the batch, or empty on timeout or when the watch has ended (see {@link #isOpen()})
     */
    public Optional<WatchBatch> read(Duration timeout) throws PapaException {
        return read(timeout.isNegative() ? 0 : timeout.toNanos());
    }

    private Optional<WatchBatch> read(long timeoutNanos) throws PapaException {
        if (conn == null) {
            return Optional.empty();
        }
        acknowledge();
        long deadline = Connection.deadline(timeoutNanos);
        try {
            Object r;
            while ((r = tryParse()) == null) {
                if (!conn.fill(deadline)) {
                    return Optional.empty();
                }
            }
            return Optional.ofNullable(handle(r));
        } catch (IOException e) {
            throw fail(e);
        }
    }

    /**
     * True when a whole batch (or the end of the watch) has arrived, so that {@link #read()} will
     * not block. Does not wait. While the last batch is unacknowledged the daemon sends nothing,
     * so this stays false until {@link #acknowledge()}.
     */
    public boolean ready() throws PapaException {
        if (conn == null) {
            return false;
        }
        try {
            while (true) {
                if (tryParseCheck()) {
                    return true;
                }
                if (!conn.fillNow()) {
                    return false;
                }
            }
        } catch (IOException e) {
            throw fail(e);
        }
    }

    /** Acknowledges the last batch read, when that is owed: its items leave the daemon's queues. */
    public void acknowledge() throws PapaException {
        if (needAck && conn != null) {
            try {
                conn.sendLine("");
                needAck = false;
            } catch (IOException e) {
                throw fail(e);
            }
        }
    }

    /** True when the last batch read has not been acknowledged yet. */
    public boolean acknowledgementOwed() {
        return needAck && conn != null;
    }

    /**
     * False once every watched process has exited (its exit was read) or the watch has ended.
     */
    public boolean isActive() {
        return conn != null && exited.size() < watched;
    }

    /** False once the watch has ended or the watcher was closed. */
    public boolean isOpen() {
        return conn != null;
    }

    /** The exit status of every process whose exit was read so far, by name. */
    public Map<String, Integer> exitCodes() {
        return Collections.unmodifiableMap(exitCodes);
    }

    /** The daemon's last words of the watch ({@code Nothing left to watch}, ...), or null while it lasts. */
    public String endMessage() {
        return endMessage;
    }

    /**
     * Ends the watch. When the last batch is unacknowledged, sends {@code q} (which acknowledges it)
     * and gives the connection back to the {@code Papa}; when the daemon is waiting for output, the
     * connection is simply closed (nothing unacknowledged is lost).
     */
    @Override
    public void close() throws PapaException {
        Connection c = conn;
        if (c == null) {
            return;
        }
        if (!needAck) {
            conn = null;
            c.close();
            return;
        }
        try {
            c.sendLine("q");
            needAck = false;
            long deadline = Connection.deadline(owner.timeout().toNanos());
            Object r;
            while ((r = tryParse()) == null) {
                if (!c.fill(deadline)) {
                    throw new PapaException(PapaException.Kind.CONNECTION, "Timed out waiting for papa to stop watching");
                }
            }
            if (r instanceof WatchBatch) {
                throw new PapaException(PapaException.Kind.PROTOCOL, "papa sent a batch after q");
            }
            handle(r);
        } catch (IOException e) {
            throw fail(e);
        }
    }

    /**
     * Ends the watch without acknowledging anything: the connection is closed, and whatever was
     * read but not acknowledged stays queued in the daemon for the next watcher.
     */
    public void abandon() {
        Connection c = conn;
        conn = null;
        needAck = false;
        if (c != null) {
            c.close();
        }
    }

    private PapaException fail(IOException e) {
        if (e instanceof InterruptedIOException) {
            return new PapaException(PapaException.Kind.INTERRUPTED, e.getMessage(), e);
        }
        if (conn != null) {
            conn.close();
            conn = null;
        }
        if (e instanceof PapaException pe) {
            return pe;
        }
        return new PapaException(PapaException.Kind.CONNECTION, e.getMessage(), e);
    }

    private WatchBatch handle(Object r) throws PapaException {
        if (r instanceof WatchBatch b) {
            needAck = true;
            for (ProcessExit e : b.exits()) {
                exitCodes.put(e.name(), e.status());
                exited.add(e.name());
            }
            return b;
        }
        String line = (String) r;
        Connection c = conn;
        conn = null;
        endMessage = line;
        owner.giveBack(c);
        Connection.checkError(line);
        return null;
    }

    // ---- parsing, from the connection's buffer, consuming only whole batches ----

    /** True when a whole batch or end line is buffered. */
    private boolean tryParseCheck() throws PapaException {
        return scan(false) != null;
    }

    /** A whole batch or end line, consumed from the buffer; null when more bytes are needed. */
    private Object tryParse() throws PapaException {
        return scan(true);
    }

    private Object scan(boolean consume) throws PapaException {
        Connection c = conn;
        byte[] buf = c.buf;
        int pos = c.start;
        int end = c.end;
        List<WatchItem> items = consume ? new ArrayList<>() : null;
        while (true) {
            if (pos >= end) {
                return null;
            }
            if (buf[pos] == ']') {
                if (pos + 1 >= end) {
                    return null;
                }
                if (buf[pos + 1] != ' ') {
                    throw protocol(c, pos);
                }
                if (!consume) {
                    return Boolean.TRUE;
                }
                c.start = pos + 2;
                if (items.isEmpty()) {
                    throw new PapaException(PapaException.Kind.PROTOCOL, "papa sent an empty batch");
                }
                return new WatchBatch(items);
            }
            int nl = c.indexOf((byte) '\n', pos);
            if (nl < 0) {
                return null;
            }
            String line = c.string(pos, nl);
            boolean out = line.startsWith("out:");
            if (out || line.startsWith("err:")) {
                String[] p = line.split(":", 4);
                if (p.length != 4) {
                    throw protocol(c, pos);
                }
                int len;
                try {
                    len = Integer.parseInt(p[3]);
                } catch (NumberFormatException e) {
                    throw protocol(c, pos);
                }
                int dataStart = nl + 1;
                if ((long) dataStart + len + 1 > end) {
                    return null;
                }
                if (buf[dataStart + len] != '\n') {
                    throw protocol(c, pos);
                }
                if (consume) {
                    byte[] data = new byte[len];
                    System.arraycopy(buf, dataStart, data, 0, len);
                    items.add(new OutputChunk(p[1], out ? OutputChunk.Stream.OUT : OutputChunk.Stream.ERR,
                            Timestamps.micros(p[2]), data));
                }
                pos = dataStart + len + 1;
            } else if (line.startsWith("closed:")) {
                String[] p = line.split(":", 4);
                if (p.length != 4) {
                    throw protocol(c, pos);
                }
                if (consume) {
                    int status;
                    try {
                        status = Integer.parseInt(p[3].trim());
                    } catch (NumberFormatException e) {
                        throw protocol(c, pos);
                    }
                    items.add(new ProcessExit(p[1], Timestamps.micros(p[2]), status));
                }
                pos = nl + 1;
            } else {
                // The end of the watch ("Nothing left to watch", "Stopped watching", an error), then the prompt.
                if (pos != c.start) {
                    throw protocol(c, pos);
                }
                if (nl + 3 > end) {
                    return null;
                }
                if (buf[nl + 1] != '>' || buf[nl + 2] != ' ') {
                    throw protocol(c, pos);
                }
                if (consume) {
                    c.start = nl + 3;
                }
                return line;
            }
        }
    }

    private static PapaException protocol(Connection c, int pos) {
        String s = c.string(pos, Math.min(c.end, pos + 80)).replace("\n", "\\n");
        return new PapaException(PapaException.Kind.PROTOCOL, "Unexpected data from papa while watching: \"" + s + "\"");
    }
}
