package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A raw protocol client: one TCP or unix-socket connection to the daemon, with every read bounded
 * by a deadline so that a broken daemon fails the test instead of hanging it.
 */
final class ProtocolClient implements AutoCloseable {
    static final String GREETING = "Papa is home. Type \"help\" for commands.\n> ";
    static final long DEFAULT_TIMEOUT_MS = 10_000;

    /** One item of a watch batch. {@code data} is null for closed items, {@code status} is null for chunks. */
    record Item(String kind, String name, String timestamp, byte[] data, Integer status) {
        String text() { return data == null ? null : new String(data, StandardCharsets.UTF_8); }
        double time() { return Double.parseDouble(timestamp); }
        @Override public String toString() {
            return kind + ":" + name + ":" + timestamp + ":" + (data != null ? "[" + text() + "]" : status);
        }
    }

    private static final Pattern HEADER =
            Pattern.compile("(out|err):([^:\\s]+):(\\d+\\.\\d+):(\\d+)|closed:([^:\\s]+):(\\d+\\.\\d+):(-?\\d+)");

    private final SocketChannel channel;
    private final Selector selector;
    private byte[] buf = new byte[0];
    private int pos = 0;
    private boolean eof = false;
    long timeoutMs = DEFAULT_TIMEOUT_MS;

    private ProtocolClient(SocketChannel channel) throws IOException {
        this.channel = channel;
        channel.configureBlocking(false);
        this.selector = Selector.open();
        channel.register(selector, SelectionKey.OP_READ);
    }

    static ProtocolClient tcp(int port) throws IOException {
        ProtocolClient c = tcpNoGreeting(port);
        c.expectGreeting();
        return c;
    }

    static ProtocolClient tcpNoGreeting(int port) throws IOException {
        return open(SocketChannel.open(StandardProtocolFamily.INET), new InetSocketAddress("127.0.0.1", port));
    }

    static ProtocolClient unix(Path path) throws IOException {
        ProtocolClient c = open(SocketChannel.open(StandardProtocolFamily.UNIX), UnixDomainSocketAddress.of(path));
        c.expectGreeting();
        return c;
    }

    private static ProtocolClient open(SocketChannel ch, SocketAddress addr) throws IOException {
        try {
            ch.connect(addr);
            return new ProtocolClient(ch);
        } catch (IOException e) {
            ch.close();
            throw e;
        }
    }

    void expectGreeting() throws IOException {
        assertEquals(GREETING, readString(GREETING.length()), "greeting");
    }

    // ---------------------------------------------------------------- writing

    void write(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (b.hasRemaining()) {
            if (channel.write(b) == 0) {
                if (System.currentTimeMillis() > deadline) fail("timed out writing to the daemon");
                Thread.onSpinWait();
                try { Thread.sleep(1); } catch (InterruptedException e) { throw new IOException(e); }
            }
        }
    }

    void write(String s) throws IOException { write(s.getBytes(StandardCharsets.UTF_8)); }

    void writeLine(String line) throws IOException { write(line + "\n"); }

    /** Sends one request line and returns the whole reply, up to and including the prompt. */
    String send(String line) throws IOException {
        writeLine(line);
        return readReply();
    }

    /** Sends raw bytes (which should end in a newline) and returns the reply up to the prompt. */
    String sendBytes(byte[] line) throws IOException {
        write(line);
        return readReply();
    }

    /** Sends a request that must succeed; returns the result text without its trailing "\n> ". */
    String ok(String line) throws IOException {
        String reply = send(line);
        assertTrue(reply.endsWith("\n> ") && !reply.startsWith("Error:"),
                () -> "expected success for [" + line + "] but got [" + reply + "]");
        return reply.substring(0, reply.length() - 3);
    }

    /** Sends a request that must fail with one "Error: ..." line; returns the message. */
    String error(String line) throws IOException {
        String reply = send(line);
        assertErrorLine(line, reply);
        return reply.substring("Error: ".length(), reply.length() - 3);
    }

    static void assertErrorLine(String request, String reply) {
        String shown = request.length() > 200 ? request.substring(0, 200) + "..." : request;
        assertTrue(reply.startsWith("Error: ") && reply.endsWith("\n> ")
                        && reply.indexOf('\n') == reply.length() - 3 && reply.length() > "Error: \n> ".length(),
                () -> "expected a one-line Error for [" + shown + "] but got [" + reply + "]");
    }

    // ---------------------------------------------------------------- reading

    private int available() { return buf.length - pos; }

    /** Reads more bytes, waiting until the deadline; returns false on EOF. */
    private boolean fill(long deadline) throws IOException {
        if (eof) return false;
        ByteBuffer tmp = ByteBuffer.allocate(65536);
        while (true) {
            int n = channel.read(tmp);
            if (n < 0) { eof = true; return false; }
            if (n > 0) {
                byte[] nb = new byte[available() + n];
                System.arraycopy(buf, pos, nb, 0, available());
                System.arraycopy(tmp.array(), 0, nb, available(), n);
                buf = nb;
                pos = 0;
                return true;
            }
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                fail("timed out waiting for the daemon; unread bytes so far: ["
                        + new String(buf, pos, available(), StandardCharsets.UTF_8) + "]");
            }
            selector.select(left);
            selector.selectedKeys().clear();
        }
    }

    private void need(int n, long deadline) throws IOException {
        while (available() < n) {
            if (!fill(deadline)) {
                fail("connection closed by the daemon; wanted " + n + " bytes, have ["
                        + new String(buf, pos, available(), StandardCharsets.UTF_8) + "]");
            }
        }
    }

    byte[] readExactly(int n) throws IOException {
        need(n, System.currentTimeMillis() + timeoutMs);
        byte[] r = Arrays.copyOfRange(buf, pos, pos + n);
        pos += n;
        return r;
    }

    String readString(int n) throws IOException { return new String(readExactly(n), StandardCharsets.UTF_8); }

    private int indexOf(byte[] pattern, int from) {
        outer:
        for (int i = from; i <= buf.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) if (buf[i + j] != pattern[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** Reads up to and including the next "\n"; returns the line without it. */
    String readLine() throws IOException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            int i = indexOf(new byte[] {'\n'}, pos);
            if (i >= 0) {
                String s = new String(buf, pos, i - pos, StandardCharsets.UTF_8);
                pos = i + 1;
                return s;
            }
            if (!fill(deadline)) fail("connection closed while reading a line");
        }
    }

    /** Reads up to and including the first occurrence of {@code terminator}. */
    String readUntil(String terminator) throws IOException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        byte[] t = terminator.getBytes(StandardCharsets.UTF_8);
        while (true) {
            int i = indexOf(t, pos);
            if (i >= 0) {
                String s = new String(buf, pos, i + t.length - pos, StandardCharsets.UTF_8);
                pos = i + t.length;
                return s;
            }
            if (!fill(deadline)) fail("connection closed before [" + terminator + "]");
        }
    }

    /** Reads a reply: everything up to and including the prompt ("> " alone, or the first "\n> "). */
    String readReply() throws IOException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        byte[] prompt = {'\n', '>', ' '};
        while (true) {
            if (available() >= 2 && buf[pos] == '>' && buf[pos + 1] == ' ') {
                pos += 2;
                return "> ";
            }
            int i = indexOf(prompt, pos);
            if (i >= 0) {
                String s = new String(buf, pos, i + 3 - pos, StandardCharsets.UTF_8);
                pos = i + 3;
                return s;
            }
            if (!fill(deadline)) {
                fail("connection closed before the prompt; got ["
                        + new String(buf, pos, available(), StandardCharsets.UTF_8) + "]");
            }
        }
    }

    /** Reads one watch batch: items until the closing "] ". */
    List<Item> readBatch() throws IOException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        List<Item> items = new ArrayList<>();
        while (true) {
            need(2, deadline);
            if (buf[pos] == ']' && buf[pos + 1] == ' ') {
                pos += 2;
                assertFalse(items.isEmpty(), "a batch must not be empty");
                return items;
            }
            String header = readLine();
            Matcher m = HEADER.matcher(header);
            assertTrue(m.matches(), () -> "bad watch header [" + header + "] after items " + items);
            if (m.group(1) != null) {
                byte[] data = readExactly(Integer.parseInt(m.group(4)));
                assertEquals("\n", readString(1), "a chunk is followed by \\n");
                items.add(new Item(m.group(1), m.group(2), m.group(3), data, null));
            } else {
                items.add(new Item("closed", m.group(5), m.group(6), null, Integer.parseInt(m.group(7))));
            }
        }
    }

    /** Acknowledges batches until every watched process is gone; returns all items seen, in order. */
    List<Item> watchToEnd() throws IOException {
        List<Item> all = new ArrayList<>();
        while (true) {
            need(1, System.currentTimeMillis() + timeoutMs);
            if (buf[pos] == 'N') {
                assertEquals("Nothing left to watch\n> ", readReply());
                return all;
            }
            all.addAll(readBatch());
            writeLine("");
        }
    }

    /** True once the daemon has closed the connection (reading EOF before the deadline). */
    void expectEof() throws IOException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (fill(deadline)) {
            // keep reading; unexpected data is reported below
        }
        assertEquals("", new String(buf, pos, available(), StandardCharsets.UTF_8), "unexpected bytes before EOF");
    }

    /** Bytes the daemon sent that nobody read yet (without waiting). */
    String pending() throws IOException {
        ByteBuffer tmp = ByteBuffer.allocate(65536);
        int n;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(buf, pos, available());
        while ((n = channel.read(tmp)) > 0) {
            out.write(tmp.array(), 0, n);
            tmp.clear();
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        try { selector.close(); } catch (IOException ignored) { }
        try { channel.close(); } catch (IOException ignored) { }
    }

    // ---------------------------------------------------------------- helpers over items

    static String out(List<Item> items) { return join(items, "out"); }
    static String err(List<Item> items) { return join(items, "err"); }

    static byte[] outBytes(List<Item> items) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (Item i : items) if (i.kind().equals("out")) o.writeBytes(i.data());
        return o.toByteArray();
    }

    private static String join(List<Item> items, String kind) {
        StringBuilder sb = new StringBuilder();
        for (Item i : items) if (i.kind().equals(kind)) sb.append(i.text());
        return sb.toString();
    }

    static Item closedItem(List<Item> items, String name) {
        return items.stream().filter(i -> i.kind().equals("closed") && i.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no closed item for " + name + " in " + items));
    }
}
