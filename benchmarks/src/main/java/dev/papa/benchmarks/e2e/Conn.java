package dev.papa.benchmarks.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A raw-protocol client session (PROTOCOL.md Part 1) with its own buffered byte reader, fast
 * enough to read a watch stream at memory speed. Every read has a socket timeout, so nothing in
 * the harness can hang forever.
 */
final class Conn implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] buf;
    private int pos;
    private int lim;
    private byte[] line = new byte[256];
    private int lineLength;

    Conn(int port, int timeoutMillis, int bufferSize) throws IOException {
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.setReceiveBufferSize(Math.max(bufferSize, 65536));
        socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), timeoutMillis);
        socket.setSoTimeout(timeoutMillis);
        in = socket.getInputStream();
        out = socket.getOutputStream();
        buf = new byte[bufferSize];
    }

    /** Connects and reads the greeting. */
    static Conn open(int port, int timeoutMillis) throws IOException {
        Conn c = new Conn(port, timeoutMillis, 64 * 1024);
        c.readReply();
        return c;
    }

    private boolean fill() throws IOException {
        if (pos < lim) return true;
        int n = in.read(buf, 0, buf.length);
        if (n < 0) return false;
        pos = 0;
        lim = n;
        return true;
    }

    int readByte() throws IOException {
        if (!fill()) throw new IOException("daemon closed the connection");
        return buf[pos++] & 0xff;
    }

    int peekByte() throws IOException {
        if (!fill()) throw new IOException("daemon closed the connection");
        return buf[pos] & 0xff;
    }

    /** Reads up to '\n' (not included) into the line buffer; returns its length. */
    int readLine() throws IOException {
        lineLength = 0;
        for (;;) {
            if (!fill()) throw new IOException("daemon closed the connection");
            int start = pos;
            while (pos < lim && buf[pos] != '\n') pos++;
            append(buf, start, pos - start);
            if (pos < lim) {
                pos++; // the newline
                return lineLength;
            }
        }
    }

    private void append(byte[] b, int off, int len) {
        if (lineLength + len > line.length) line = java.util.Arrays.copyOf(line, Math.max(line.length * 2, lineLength + len));
        System.arraycopy(b, off, line, lineLength, len);
        lineLength += len;
    }

    byte[] line() { return line; }

    String lineText() { return new String(line, 0, lineLength, StandardCharsets.UTF_8); }

    /** Reads n bytes, handing each contiguous piece to sink (may be null); returns n. */
    long readBytes(long n, Sink sink) throws IOException {
        long left = n;
        while (left > 0) {
            if (!fill()) throw new IOException("daemon closed the connection");
            int k = (int) Math.min(left, lim - pos);
            if (sink != null) sink.accept(buf, pos, k);
            pos += k;
            left -= k;
        }
        return n;
    }

    interface Sink {
        void accept(byte[] b, int off, int len);
    }

    /** Reads a command reply up to the prompt; returns the text without "\n> " (or "> "). */
    String readReply() throws IOException {
        lineLength = 0;
        for (;;) {
            int b = readByte();
            append1((byte) b);
            if (b == ' ' && lineLength >= 2 && line[lineLength - 2] == '>'
                    && (lineLength == 2 || line[lineLength - 3] == '\n')) {
                int end = lineLength == 2 ? 0 : lineLength - 3;
                return new String(line, 0, end, StandardCharsets.UTF_8);
            }
        }
    }

    private void append1(byte b) {
        if (lineLength == line.length) line = java.util.Arrays.copyOf(line, line.length * 2);
        line[lineLength++] = b;
    }

    void send(String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Sends a command, returns the reply; an {@code Error:} reply is an exception. */
    String command(String line) throws IOException {
        send(line + "\n");
        String r = readReply();
        if (r.startsWith("Error: ")) throw new IOException("papa: " + r + " (for: " + line + ")");
        return r;
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
