package dev.papa.daemon.hardening;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A raw protocol client for tests: blocking, every read bounded by a timeout. */
final class Conn implements AutoCloseable {
    static final String GREETING = "Papa is home. Type \"help\" for commands.\n> ";

    private final Socket socket;          // TCP
    private final SocketChannel channel;  // unix
    private final InputStream in;
    private final OutputStream out;
    private final int timeoutMillis;
    private Process relay;                // asUser: the process that holds the connection

    private Conn(Socket socket, SocketChannel channel, InputStream in, OutputStream out, int timeoutMillis) {
        this.socket = socket;
        this.channel = channel;
        this.in = in;
        this.out = out;
        this.timeoutMillis = timeoutMillis;
    }

    static Conn tcp(int port) throws IOException {
        return tcp(port, 20_000);
    }

    static Conn tcp(int port, int timeoutMillis) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), timeoutMillis);
        s.setSoTimeout(timeoutMillis);
        s.setTcpNoDelay(true);
        return new Conn(s, null, new java.io.BufferedInputStream(s.getInputStream(), 65536), s.getOutputStream(), timeoutMillis);
    }

    /** Unix socket: reads are bounded by polling with a deadline (no SO_TIMEOUT on channels). */
    static Conn unix(Path path) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(path));
        return new Conn(null, ch, Channels.newInputStream(ch), Channels.newOutputStream(ch), 20_000);
    }

    /**
     * A connection made by a process running as {@code uid} (setpriv, no groups but the user's
     * own from the user database): the daemon sees that uid, through SO_PEERCRED or the TCP
     * peer's owner. The process relays bytes between this Conn and the connection. Checks the greeting.
     */
    static Conn asUser(String user, String target) throws IOException {
        Process p = new ProcessBuilder("setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups",
                "/usr/bin/python3", "-c", RELAY, target).start();
        Conn c = new Conn(null, null, p.getInputStream(), p.getOutputStream(), 20_000);
        c.relay = p;
        try {
            c.expectGreeting();
        } catch (IOException e) {
            try {
                p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            byte[] err = p.getErrorStream().readNBytes(p.getErrorStream().available()); // destroy() closes the streams
            c.close();
            throw new IOException("client as " + user + ": " + new String(err, StandardCharsets.UTF_8), e);
        }
        return c;
    }

    private static final String RELAY = String.join("\n",
            "import os, socket, sys, threading",
            "a = sys.argv[1]",
            "if a.startswith('/'):",
            "    s = socket.socket(socket.AF_UNIX); s.connect(a)",
            "else:",
            "    s = socket.create_connection(('127.0.0.1', int(a)))",
            "def up():",
            "    while True:",
            "        d = os.read(0, 65536)",
            "        if not d:",
            "            s.shutdown(socket.SHUT_WR); return",
            "        s.sendall(d)",
            "threading.Thread(target=up, daemon=True).start()",
            "while True:",
            "    d = s.recv(65536)",
            "    if not d: break",
            "    os.write(1, d)",
            "");

    /** Connects and checks the greeting. */
    static Conn open(int port) throws IOException {
        Conn c = tcp(port);
        c.expectGreeting();
        return c;
    }

    void expectGreeting() throws IOException {
        String g = readUntilPrompt();
        if (!g.equals(GREETING)) throw new IOException("unexpected greeting: " + g);
    }

    void send(String text) throws IOException {
        sendBytes(text.getBytes(StandardCharsets.UTF_8));
    }

    void sendBytes(byte[] b) throws IOException {
        out.write(b);
        out.flush();
    }

    /** Sends one request line and returns the whole reply, prompt included. */
    String cmd(String line) throws IOException {
        send(line + "\n");
        return readUntilPrompt();
    }

    /** Sends one request line and returns the reply without the trailing {@code \n> } (or {@code > }). */
    String result(String line) throws IOException {
        String r = cmd(line);
        if (r.endsWith("\n> ")) return r.substring(0, r.length() - 3);
        return r.substring(0, r.length() - 2);
    }

    int read() throws IOException {
        int b = in.read();
        if (b < 0) throw new EOFException("connection closed by the daemon");
        return b;
    }

    /** Reads until the data read so far ends in "> " after a newline (or is just "> "). */
    String readUntilPrompt() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int prev2 = -1, prev = -1;
        for (;;) {
            int b = read();
            buf.write(b);
            if (b == ' ' && prev == '>' && (prev2 == '\n' || buf.size() == 2)) {
                return buf.toString(StandardCharsets.UTF_8);
            }
            prev2 = prev;
            prev = b;
        }
    }

    /** Reads everything until the daemon closes the connection (bounded by the timeout). */
    String readToEof() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            for (;;) {
                int b = in.read();
                if (b < 0) return buf.toString(StandardCharsets.UTF_8);
                buf.write(b);
            }
        } catch (java.net.SocketException e) {
            return buf.toString(StandardCharsets.UTF_8); // reset counts as closed
        }
    }

    String readLine() throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        for (;;) {
            int b = read();
            if (b == '\n') return buf.toString(StandardCharsets.UTF_8);
            buf.write(b);
        }
    }

    /** One byte, or -1 at end of stream; SocketTimeoutException after {@code millis} of silence (TCP only). */
    int readWithin(int millis) throws IOException {
        socket.setSoTimeout(millis);
        try {
            return in.read();
        } finally {
            socket.setSoTimeout(timeoutMillis);
        }
    }

    int available() throws IOException {
        return in.available();
    }

    byte[] readN(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length != n) throw new EOFException("short read");
        return b;
    }

    /** One watch item. */
    record Item(String kind, String name, String time, byte[] data, int exitStatus) {}

    /** Reads one watch batch up to and including {@code "] "}. */
    List<Item> readBatch() throws IOException {
        List<Item> items = new ArrayList<>();
        for (;;) {
            int b = read();
            if (b == ']') {
                int sp = read();
                if (sp != ' ') throw new IOException("bad batch end");
                return items;
            }
            if (b == '\n') continue; // the newline that follows a chunk's bytes
            String header = (char) b + readLine();
            String[] f = header.split(":", 4);
            if (f.length != 4) throw new IOException("bad header: " + header);
            if (f[0].equals("closed")) {
                items.add(new Item("closed", f[1], f[2], null, Integer.parseInt(f[3])));
            } else if (f[0].equals("out") || f[0].equals("err")) {
                byte[] data = readN(Integer.parseInt(f[3]));
                items.add(new Item(f[0], f[1], f[2], data, 0));
            } else {
                throw new IOException("bad header: " + header);
            }
        }
    }

    void shutdownOutput() throws IOException {
        if (relay != null) out.close();
        else if (socket != null) socket.shutdownOutput();
        else channel.shutdownOutput();
    }

    /** Closes with RST instead of FIN (SO_LINGER 0): the abrupt end of a killed client. */
    void abort() throws IOException {
        if (socket != null) socket.setSoLinger(true, 0);
        close();
    }

    @Override
    public void close() throws IOException {
        if (relay != null) {
            relay.destroyForcibly();
            try {
                relay.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else if (socket != null) socket.close();
        else channel.close();
    }
}
