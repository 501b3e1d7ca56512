package dev.papa.client;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One session with the daemon: a non-blocking socket channel (TCP or Unix) with a selector, so
 * that every read can have a deadline, and an input buffer that parsers look into without
 * consuming until a whole reply is there.
 */
final class Connection implements Closeable {
    static final long FOREVER = Long.MAX_VALUE;
    private static final byte[] PROMPT_END = {'\n', '>', ' '};

    private final SocketChannel channel;
    private final Selector selector;
    private final SelectionKey key;
    private final Endpoint endpoint;
    byte[] buf = new byte[16384];
    int start;
    int end;

    private Connection(Endpoint endpoint, SocketChannel channel, Selector selector) throws IOException {
        this.endpoint = endpoint;
        this.channel = channel;
        this.selector = selector;
        this.key = channel.register(selector, SelectionKey.OP_READ);
    }

    /** Connects (without reading the greeting). */
    static Connection open(Endpoint endpoint) throws IOException {
        SocketChannel ch = SocketChannel.open(endpoint.family());
        Selector sel = null;
        try {
            ch.connect(endpoint.address());
            ch.configureBlocking(false);
            sel = Selector.open();
            return new Connection(endpoint, ch, sel);
        } catch (IOException | RuntimeException e) {
            ch.close();
            if (sel != null) {
                sel.close();
            }
            throw e;
        }
    }

    Endpoint endpoint() {
        return endpoint;
    }

    SocketChannel channel() {
        return channel;
    }

    SocketAddress localAddress() throws IOException {
        return channel.getLocalAddress();
    }

    boolean isOpen() {
        return channel.isOpen();
    }

    int available() {
        return end - start;
    }

    static long deadline(long timeoutNanos) {
        if (timeoutNanos < 0) {
            return FOREVER;
        }
        long d = System.nanoTime() + timeoutNanos;
        return d == FOREVER ? FOREVER - 1 : d;
    }

    /** Sends one line (a newline is appended). */
    void sendLine(String line) throws IOException {
        byte[] b = (line + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuffer bb = ByteBuffer.wrap(b);
        while (bb.hasRemaining()) {
            if (channel.write(bb) == 0) {
                key.interestOps(SelectionKey.OP_WRITE);
                try {
                    select(0);
                } finally {
                    key.interestOps(SelectionKey.OP_READ);
                }
            }
        }
    }

    private void select(long millis) throws IOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("Interrupted while talking to papa");
        }
        selector.select(millis);
        selector.selectedKeys().clear();
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("Interrupted while talking to papa");
        }
    }

    /**
     * Reads what the socket has, waiting until {@code deadline} (a {@link System#nanoTime()} value,
     * or {@link #FOREVER}) for at least one byte. Returns false on timeout; throws on end of stream.
     */
    boolean fill(long deadline) throws IOException {
        makeRoom();
        while (true) {
            int n = channel.read(ByteBuffer.wrap(buf, end, buf.length - end));
            if (n > 0) {
                end += n;
                return true;
            }
            if (n < 0) {
                throw new EOFException("Lost connection to papa at " + endpoint);
            }
            long wait;
            if (deadline == FOREVER) {
                wait = 0;
            } else {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                wait = Math.max(1, (left + 999_999) / 1_000_000);
            }
            select(wait);
        }
    }

    /** Reads whatever is there without waiting. Returns false when nothing was there. */
    boolean fillNow() throws IOException {
        makeRoom();
        int n = channel.read(ByteBuffer.wrap(buf, end, buf.length - end));
        if (n < 0) {
            throw new EOFException("Lost connection to papa at " + endpoint);
        }
        end += n;
        return n > 0;
    }

    private void makeRoom() {
        if (start == end) {
            start = end = 0;
        }
        if (end == buf.length) {
            if (start > 0) {
                System.arraycopy(buf, start, buf, 0, end - start);
                end -= start;
                start = 0;
            } else {
                buf = Arrays.copyOf(buf, buf.length * 2);
            }
        }
    }

    /** Index of {@code b} at or after {@code from}, or -1. */
    int indexOf(byte b, int from) {
        for (int i = from; i < end; i++) {
            if (buf[i] == b) {
                return i;
            }
        }
        return -1;
    }

    String string(int from, int to) {
        return new String(buf, from, to - from, StandardCharsets.UTF_8);
    }

    private boolean endsWithPrompt() {
        int n = end - start;
        if (n < 3) {
            return false;
        }
        return buf[end - 3] == PROMPT_END[0] && buf[end - 2] == PROMPT_END[1] && buf[end - 1] == PROMPT_END[2];
    }

    /**
     * Reads a whole command reply (up to and including {@code "\n> "}) and returns its text
     * without that ending; an {@code Error:} reply is thrown as a {@link PapaException}.
     */
    String readReply(long deadline) throws IOException {
        while (!endsWithPrompt()) {
            if (!fill(deadline)) {
                throw new PapaException(PapaException.Kind.CONNECTION,
                        "Timed out waiting for a reply from papa at " + endpoint);
            }
        }
        String text = string(start, end - 3);
        start = end = 0;
        return checkError(text);
    }

    static String checkError(String text) throws PapaException {
        if (text.startsWith("Error:")) {
            String msg = text.substring(6);
            if (msg.startsWith(" ")) {
                msg = msg.substring(1);
            }
            throw PapaException.daemonError(msg);
        }
        return text;
    }

    /**
     * Reads one line (without its newline). When the line is an {@code Error:} line, the prompt
     * after it is read too and the error thrown.
     */
    String readLine(long deadline) throws IOException {
        int nl;
        while ((nl = indexOf((byte) '\n', start)) < 0) {
            if (!fill(deadline)) {
                throw new PapaException(PapaException.Kind.CONNECTION,
                        "Timed out waiting for a reply from papa at " + endpoint);
            }
        }
        String line = string(start, nl);
        start = nl + 1;
        if (line.startsWith("Error:")) {
            expect("> ", deadline);
            checkError(line);
        }
        return line;
    }

    /** Reads exactly the given text, or fails. */
    void expect(String text, long deadline) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        while (end - start < b.length) {
            if (!fill(deadline)) {
                throw new PapaException(PapaException.Kind.CONNECTION,
                        "Timed out waiting for a reply from papa at " + endpoint);
            }
        }
        for (int i = 0; i < b.length; i++) {
            if (buf[start + i] != b[i]) {
                throw new PapaException(PapaException.Kind.PROTOCOL,
                        "Expected \"" + text.replace("\n", "\\n") + "\" from papa, got \""
                                + string(start, Math.min(end, start + 80)).replace("\n", "\\n") + "\"");
            }
        }
        start += b.length;
    }

    /** Reads until the peer closes the connection; returns what came. */
    String readToEnd(long deadline) throws IOException {
        try {
            while (fill(deadline)) {
                // keep reading
            }
        } catch (EOFException eof) {
            // expected
        }
        String s = string(start, end);
        start = end = 0;
        return s;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing to do
        }
        try {
            selector.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
