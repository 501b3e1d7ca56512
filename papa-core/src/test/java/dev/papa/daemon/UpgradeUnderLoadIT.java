package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * 20 upgrades in a row while a ticker writes a numbered line every 5 ms and a watcher follows
 * it (reconnecting when its session is closed), a client connects every 5 ms, and an HTTP
 * server on a papa socket is polled. Nothing may be lost or refused.
 */
class UpgradeUnderLoadIT {
    static final int UPGRADES = 20;

    @TempDir
    Path dir;

    @Test
    void twentyUpgradesUnderLoad() throws Exception {
        Path jarA = JarDaemon.jar();
        Path jarB = Files.copy(jarA, dir.resolve("papa-b.jar"));
        Path ticker = Files.writeString(dir.resolve("ticker.py"), String.join("\n",
                "import itertools, sys, time",
                "for i in itertools.count():",
                "    sys.stdout.write('%d\\n' % i)",
                "    sys.stdout.flush()",
                "    time.sleep(0.005)", ""));
        Path http = Files.writeString(dir.resolve("web_server.py"), String.join("\n",
                "import http.server, socket, sys",
                "class H(http.server.BaseHTTPRequestHandler):",
                "    def do_GET(self):",
                "        self.send_response(200)",
                "        self.send_header('Content-Length', '3')",
                "        self.end_headers()",
                "        self.wfile.write(b'ok\\n')",
                "    def log_message(self, *args):",
                "        pass",
                "s = http.server.HTTPServer(('127.0.0.1', 0), H, bind_and_activate=False)",
                "s.socket.close()",
                "s.socket = socket.socket(fileno=int(sys.argv[1]))",
                "s.serve_forever()", ""));
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jarA, List.of())) {
            String values;
            String sockets;
            String processes;
            try (ProtocolClient c = d.connect()) {
                c.ok("set a 1");
                c.ok("set b two words");
                c.ok("make socket web port=0");
                sockets = c.ok("list sockets");
                c.ok("make process ticker /usr/bin/python3 -u " + ticker);
                c.ok("make process http stdout=0 /usr/bin/python3 " + http + " $(socket.web.fileno)");
                values = c.ok("list values");
                processes = c.ok("list processes");
            }
            int fileno = UpgradeIT.number(Pattern.FILENO, sockets);
            int port = UpgradeIT.number(Pattern.PORT, sockets);
            String inode = d.descriptor(fileno);
            List<Integer> pids = new ArrayList<>();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(" pid=(\\d+) ").matcher(processes);
            while (m.find()) pids.add(d.hosted(Integer.parseInt(m.group(1))));
            assertEquals(2, pids.size(), processes);

            Load load = new Load(d.port, port);
            load.start();
            try {
                for (int i = 0; i < UPGRADES; i++) {
                    int sessions = load.watcher.sessions.get();
                    Path jar = i % 2 == 0 ? jarB : jarA;
                    String reply = d.upgrade(jar.toString());
                    assertTrue(reply.startsWith("Upgrading to papa "), "upgrade " + i + ": " + reply);
                    load.awaitNewSession(sessions); // served again, and the watcher follows
                }
                load.awaitHttp();
            } finally {
                load.stop();
            }
            load.rethrow();

            try (ProtocolClient c = d.connect()) {
                assertEquals(values, c.ok("list values"));
                assertEquals(sockets, c.ok("list sockets"));
                assertEquals(processes.replaceAll("running=\\w+", ""), c.ok("list processes").replaceAll("running=\\w+", ""));
                assertEquals(2, c.ok("list processes").split("running=True", -1).length - 1, "both still running");
            }
            assertTrue(d.process.isAlive());
            assertEquals(inode, d.descriptor(fileno), "the same socket at the same number");
            for (int pid : pids) assertEquals(d.pid(), JarDaemon.parentOf(pid), "process " + pid + " is still the daemon's child");

            Watcher w = load.watcher;
            int highest = (int) w.highest.get();
            synchronized (w.seen) {
                assertEquals(highest + 1, w.seen.cardinality(), "lines missing: " + missing(w.seen, highest));
            }
            assertEquals(0, load.refused.get(), "refused control connections");
            assertEquals(0, load.cut.get(), "control connections closed before their greeting");
            assertEquals(0, load.httpFailed.get(), "HTTP requests that failed");
            assertTrue(load.httpOk.get() >= 20, "HTTP requests answered: " + load.httpOk.get());
            System.out.printf("upgrade under load: %d upgrades, %d lines (0..%d), %d redelivered, %d watcher sessions, "
                            + "%d control connections, %d HTTP requests%n", UPGRADES, highest + 1, highest,
                    w.redelivered.get(), w.sessions.get(), load.connections.get(), load.httpOk.get());
        }
    }

    static String missing(BitSet seen, int highest) {
        List<Integer> gaps = new ArrayList<>();
        for (int i = seen.nextClearBit(0); i <= highest && gaps.size() < 20; i = seen.nextClearBit(i + 1)) gaps.add(i);
        return gaps.toString();
    }

    private static final class Pattern {
        static final java.util.regex.Pattern FILENO = java.util.regex.Pattern.compile(" fileno=(\\d+)");
        static final java.util.regex.Pattern PORT = java.util.regex.Pattern.compile(" port=(\\d+)");
    }

    /** The three loads, each on its own thread. */
    static final class Load {
        final int controlPort;
        final int httpPort;
        final Watcher watcher;
        final AtomicInteger refused = new AtomicInteger();
        /** Connections accepted and then closed before the whole greeting: the daemon that accepted them died. */
        final AtomicInteger cut = new AtomicInteger();
        final AtomicInteger connections = new AtomicInteger();
        final AtomicInteger httpOk = new AtomicInteger();
        final AtomicInteger httpFailed = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final List<Thread> threads = new ArrayList<>();
        private volatile boolean stopping;

        Load(int controlPort, int httpPort) {
            this.controlPort = controlPort;
            this.httpPort = httpPort;
            this.watcher = new Watcher(controlPort, this);
        }

        void start() {
            threads.add(new Thread(watcher::run, "watcher"));
            threads.add(new Thread(this::connectEvery5ms, "connector"));
            threads.add(new Thread(this::pollHttp, "http"));
            for (Thread t : threads) t.start();
        }

        boolean stopping() {
            return stopping;
        }

        void stop() throws InterruptedException {
            stopping = true;
            for (Thread t : threads) t.join(JarDaemon.TIMEOUT_MS);
        }

        void rethrow() throws Exception {
            Throwable t = failure.get();
            if (t instanceof Exception) throw (Exception) t;
            if (t != null) throw new AssertionError(t);
        }

        /** Until the watcher has a session after {@code sessions} and received lines in it. */
        void awaitNewSession(int sessions) throws Exception {
            long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
            while (watcher.sessions.get() <= sessions || watcher.linesInSession.get() < 20) {
                rethrow();
                if (System.currentTimeMillis() > deadline) throw new AssertionError("the watcher is stuck at " + watcher.highest.get());
                Thread.sleep(5);
            }
        }

        void awaitHttp() throws Exception {
            long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
            while (httpOk.get() < 20 && System.currentTimeMillis() < deadline) Thread.sleep(5);
        }

        /** Connects, reads the greeting, closes; a refused or failed connection counts. */
        private void connectEvery5ms() {
            byte[] greeting = ProtocolClient.GREETING.getBytes(StandardCharsets.US_ASCII);
            while (!stopping) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", controlPort), 10_000);
                    s.setSoTimeout((int) JarDaemon.TIMEOUT_MS);
                    byte[] got = s.getInputStream().readNBytes(greeting.length);
                    if (got.length == greeting.length) connections.incrementAndGet();
                    else cut.incrementAndGet();
                } catch (java.net.ConnectException e) {
                    refused.incrementAndGet();
                } catch (IOException e) {
                    cut.incrementAndGet();
                }
                pause(5);
            }
        }

        private void pollHttp() {
            while (!stopping) {
                try {
                    HttpURLConnection c = (HttpURLConnection) new URL("http://127.0.0.1:" + httpPort + "/").openConnection();
                    c.setConnectTimeout(10_000);
                    c.setReadTimeout(30_000);
                    try (InputStream in = c.getInputStream()) {
                        if (c.getResponseCode() == 200 && new String(in.readAllBytes(), StandardCharsets.US_ASCII).equals("ok\n")) {
                            httpOk.incrementAndGet();
                        } else {
                            httpFailed.incrementAndGet();
                        }
                    }
                    c.disconnect();
                } catch (IOException e) {
                    httpFailed.incrementAndGet();
                }
                pause(20);
            }
        }

        private static void pause(long ms) {
            try {
                Thread.sleep(ms); // the load's own pace, not a wait for a condition
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Follows the ticker through plain blocking sockets, acknowledging every batch; a session
     * the daemon closes (an upgrade) is reopened. Every number seen is recorded once, every
     * repeat counted as a redelivery.
     */
    static final class Watcher {
        final int port;
        final Load load;
        final BitSet seen = new BitSet();
        final AtomicLong highest = new AtomicLong(-1);
        final AtomicInteger redelivered = new AtomicInteger();
        final AtomicInteger sessions = new AtomicInteger();
        final AtomicInteger linesInSession = new AtomicInteger();

        Watcher(int port, Load load) {
            this.port = port;
            this.load = load;
        }

        void run() {
            try {
                while (!load.stopping()) {
                    try (Socket s = new Socket("127.0.0.1", port)) {
                        s.setSoTimeout((int) JarDaemon.TIMEOUT_MS);
                        linesInSession.set(0);
                        sessions.incrementAndGet();
                        follow(new DataInputStream(new BufferedInputStream(s.getInputStream())), s.getOutputStream());
                    } catch (EOFException | java.net.SocketException closedByUpgrade) {
                        // the daemon closed the session: watch again
                    }
                }
            } catch (Throwable t) {
                load.failure.compareAndSet(null, t);
            }
        }

        private void follow(DataInputStream in, OutputStream out) throws IOException {
            expect(in, ProtocolClient.GREETING);
            out.write("watch processes ticker\n".getBytes(StandardCharsets.US_ASCII));
            String watching = line(in);
            if (!watching.equals("Watching 1")) throw new AssertionError("watch reply: " + watching);
            while (!load.stopping()) {
                List<byte[]> chunks = new ArrayList<>();
                while (true) {
                    int b = in.readUnsignedByte();
                    if (b == ']') {
                        if (in.readUnsignedByte() != ' ') throw new AssertionError("bad batch end");
                        break;
                    }
                    String header = (char) b + line(in);
                    String[] f = header.split(":");
                    if (!f[0].equals("out") || f.length != 4) throw new AssertionError("unexpected item " + header);
                    byte[] data = new byte[Integer.parseInt(f[3])];
                    in.readFully(data);
                    if (in.readUnsignedByte() != '\n') throw new AssertionError("chunk not followed by \\n");
                    chunks.add(data);
                }
                record(chunks); // a whole batch: what a batch cut by the upgrade held comes again
                out.write('\n');
            }
            out.write("q\n".getBytes(StandardCharsets.US_ASCII));
        }

        private void record(List<byte[]> chunks) {
            synchronized (seen) {
                for (byte[] c : chunks) {
                    String text = new String(c, StandardCharsets.US_ASCII);
                    if (!text.endsWith("\n")) throw new AssertionError("a chunk with a partial line: " + text);
                    for (String n : text.split("\n")) {
                        int i = Integer.parseInt(n);
                        if (seen.get(i)) redelivered.incrementAndGet();
                        seen.set(i);
                        highest.accumulateAndGet(i, Math::max);
                        linesInSession.incrementAndGet();
                    }
                }
            }
        }

        private static void expect(DataInputStream in, String text) throws IOException {
            byte[] b = new byte[text.length()];
            in.readFully(b);
            if (!new String(b, StandardCharsets.US_ASCII).equals(text)) throw new AssertionError("expected " + text);
        }

        private static String line(DataInputStream in) throws IOException {
            StringBuilder sb = new StringBuilder();
            int b;
            while ((b = in.readUnsignedByte()) != '\n') sb.append((char) b);
            return sb.toString();
        }
    }
}
