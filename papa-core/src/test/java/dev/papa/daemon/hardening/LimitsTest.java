package dev.papa.daemon.hardening;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every documented limit (docs/SECURITY.md), hit through the protocol, with its exact error. */
@Timeout(60)
class LimitsTest {
    static Daemon daemon;

    @BeforeAll
    static void start() throws Exception {
        daemon = Daemon.start(new DaemonConfig().port(0));
    }

    @AfterAll
    static void stop() {
        daemon.close();
    }

    @Test
    void requestLineLength() throws Exception {
        try (Conn c = Conn.open(daemon.port())) {
            String value = "v".repeat(65536 - "set big ".length());
            String padding = " ".repeat(262144 - 65536); // trailing white space is stripped
            assertEquals("", c.result("set big " + value + padding)); // exactly 256 KiB: accepted
            assertEquals(value, c.result("get big"));
            assertEquals("Error: Request line is too long (over 262144 bytes)", c.result("set big x" + value + padding));
            assertEquals("Error: Request line is too long (over 262144 bytes)", c.result("x".repeat(5_000_000)));
            assertEquals(value, c.result("get big")); // the session goes on
            assertEquals("", c.result("set big"));
        }
    }

    @Test
    void sessionCount() throws Exception {
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).maxSessions(3))) {
            Conn[] open = {Conn.open(d.port()), Conn.open(d.port()), Conn.open(d.port())};
            for (int i = 0; i < 5; i++) {
                try (Conn c = Conn.tcp(d.port())) {
                    assertEquals("Error: too many sessions (limit 3)\n", c.readToEof());
                }
            }
            // the refused connections cost no session: the three still work, and one more after one leaves
            for (int i = 0; i < open.length; i++) assertEquals("", open[i].result("set s" + i + " " + i));
            open[0].close();
            try (Conn c = openWhenAdmitted(d.port())) {
                assertEquals("1", c.result("get s1"));
                assertEquals("s0 0\ns1 1\ns2 2", c.result("list values"));
            }
            for (Conn c : open) c.close();
        }
    }

    /** Connects until the daemon has noticed a closed session and admits a new one (bounded). */
    static Conn openWhenAdmitted(int port) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (true) {
            Conn c = Conn.tcp(port);
            try {
                c.expectGreeting();
                return c;
            } catch (java.io.EOFException refused) { // "Error: too many sessions", then closed
                c.close();
            }
            assertTrue(System.nanoTime() < deadline, "the closed session was never released");
            Thread.sleep(10); // poll interval
        }
    }

    @Test
    void names() throws Exception {
        try (Conn c = Conn.open(daemon.port())) {
            String tooLong = "n".repeat(256);
            assertEquals("Error: Value name is too long (over 255 characters)", c.result("set " + tooLong + " 1"));
            assertEquals("Error: Process name is too long (over 255 characters)", c.result("make process " + tooLong + " true"));
            assertEquals("Error: Socket name is too long (over 255 characters)", c.result("make socket " + tooLong));
            assertEquals("", c.result("set " + "n".repeat(255) + " 1"));
            assertEquals("", c.result("set " + "n".repeat(255)));
            String bad = ": names may not contain spaces, \":\", \"*\", \"=\" or control characters";
            assertEquals("Error: Process name \"a:b\" is invalid" + bad, c.result("make process a:b true"));
            assertEquals("Error: Socket name \"a*\" is invalid" + bad, c.result("make socket a*"));
            assertEquals("Error: Socket name \"family=inet6\" is invalid" + bad, c.result("make socket family=inet6"));
            String badValue = ": names may not contain control characters"; // a value's name may hold : * = and spaces
            assertEquals("Error: Value name \"a\\x09b\" is invalid" + badValue, c.result("set a\tb 1"));
            assertEquals("Error: Value name \"a\\x01\" is invalid" + badValue, c.result("set a\u0001 1"));
            assertEquals("Error: Process name \"a b\" is invalid" + bad, c.result("make process a\\ b true"));
            assertEquals("Error: Request is not valid UTF-8", new String(cmdBytes(c, new byte[] {'s', 'e', 't', ' ', (byte) 0xff, ' ', '1', '\n'}), StandardCharsets.UTF_8).replace("\n> ", ""));
            assertEquals("", c.result("list values a*"));
        }
    }

    private static byte[] cmdBytes(Conn c, byte[] line) throws Exception {
        c.sendBytes(line);
        return c.readUntilPrompt().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void envCountAndBufsize() throws Exception {
        try (Conn c = Conn.open(daemon.port())) {
            StringBuilder sb = new StringBuilder("make process e");
            for (int i = 0; i <= 4096; i++) sb.append(" env.V").append(i).append('=');
            sb.append(" /bin/true");
            assertEquals("Error: Too many env.* options (at most 4096)", c.result(sb.toString()));
            assertEquals("Error: bufsize \"2g\" is over the maximum of 1g", c.result("make process b bufsize=2g /bin/true"));
            assertEquals("Error: bufsize \"1073741825\" is over the maximum of 1g", c.result("make process b bufsize=1073741825 /bin/true"));
            assertEquals("Error: bufsize \"99999999999999999999g\" is over the maximum of 1g",
                    c.result("make process b bufsize=99999999999999999999g /bin/true"));
            assertEquals("Error: Invalid bufsize \"1x\" - must be a number of bytes, optionally with suffix k, m or g",
                    c.result("make process b bufsize=1x /bin/true"));
            assertEquals("", c.result("list processes"), "refused requests started nothing");
            assertTrue(c.result("make process b bufsize=1g /bin/true").startsWith("b pid="));
            assertEquals("", c.result("remove processes b"));
            // it leaves the table once it has exited: the next test of this daemon starts with none
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!c.result("list processes").isEmpty() && System.nanoTime() < deadline) Thread.sleep(10);
            assertEquals("", c.result("list processes"));
        }
    }

    @Test
    void systemErrorsBecomeErrorReplies() throws Exception {
        try (Conn c = Conn.open(daemon.port())) {
            assertEquals("Error: Bad command - [Errno 2] No such file or directory: '/nonexistent/x'",
                    c.result("make process p /nonexistent/x"));
            assertEquals("Error: Bad working_dir - [Errno 2] No such file or directory: '/nonexistent'",
                    c.result("make process p working_dir=/nonexistent /bin/true"));
            assertEquals("Error: Bad working_dir - [Errno 20] Not a directory: '/etc/passwd'",
                    c.result("make process p uid=nobody working_dir=/etc/passwd /bin/true"));
            assertTrue(c.result("make socket s port=1 host=203.0.113.1").startsWith("Error: Bind failed on 203.0.113.1:1: "));
            assertEquals("", c.result("list processes"));
            assertEquals("", c.result("list sockets"));
        }
    }

    /**
     * A client that sends requests and never reads: the daemon stops reading from it once over
     * 1 MiB of replies waits unsent (so it costs bounded memory), other sessions go on, and once
     * it reads, every request is answered.
     */
    @Test
    void slowConsumerIsBoundedAndOthersUnaffected() throws Exception {
        try (SocketChannel slow = SocketChannel.open(new InetSocketAddress("127.0.0.1", daemon.port()));
             Conn other = Conn.open(daemon.port())) {
            slow.configureBlocking(false);
            String help = other.cmd("help");
            byte[] req = "help\n".getBytes(StandardCharsets.US_ASCII);
            ByteBuffer many = ByteBuffer.allocate(req.length * 1000);
            for (int i = 0; i < 1000; i++) many.put(req);
            long written = 0;
            int clientPort = ((InetSocketAddress) slow.getLocalAddress()).getPort();
            long[] queues = null;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (true) {
                many.clear();
                int n = slow.write(many);
                written += n;
                if (n == 0) {
                    // every buffer is full when neither socket's queues change between two looks
                    long[] now = TcpQueues.of(clientPort, daemon.port());
                    if (java.util.Arrays.equals(now, queues)) break;
                    queues = now;
                    Thread.sleep(50); // poll interval
                }
                assertTrue(System.nanoTime() < deadline, "the daemon kept reading from a client that never reads");
            }
            // queues = {client's unsent requests, daemon's unread requests, daemon's unsent replies, client's unread replies}
            long taken = written - queues[0] - queues[1];
            long inKernel = queues[2] + queues[3];
            long bound = ((inKernel + Conn.GREETING.length() + (1 << 20)) / help.length() + 1) * req.length + 16384;
            assertTrue(taken <= bound, "the daemon took " + taken + " bytes of requests: their replies beyond what the kernel"
                    + " holds (" + inKernel + ") exceed 1 MiB + one read (bound " + bound + ")");
            assertTrue(queues[1] > 0, "the daemon left requests unread");
            assertEquals("", other.result("set k v"));
            assertEquals("v", other.result("get k"));
            // now read: the daemon resumes (reading the replies to all of the requests written would
            // take too long: check the first 32 MiB, which need the daemon to resume many times)
            long requests = written / req.length;
            byte[] expected = (Conn.GREETING + help.repeat((int) ((32L << 20) / help.length() + 1))).getBytes(StandardCharsets.UTF_8);
            ByteBuffer in = ByteBuffer.allocate(expected.length);
            deadline = System.nanoTime() + 30_000_000_000L;
            while (in.hasRemaining() && System.nanoTime() < deadline) {
                int n = slow.read(in);
                if (n < 0) break;
                if (n == 0) Thread.sleep(2);
            }
            assertEquals(expected.length, in.position(), "written " + written + " requests " + requests);
            assertTrue(java.util.Arrays.equals(expected, in.array()), "replies differ");
            assertEquals("", other.result("set k"));
        }
    }

    /**
     * A watcher that leaves over 1 MiB unread and reads nothing for the slow-client timeout is
     * disconnected with a WARNING; what it was sent but never acknowledged stays queued, and the
     * next watcher receives all of it.
     */
    @Test
    void stalledSlowConsumerIsDisconnectedAndItsOutputStaysQueued() throws Exception {
        java.util.List<java.util.logging.LogRecord> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override public void publish(java.util.logging.LogRecord r) {
                if (r.getLevel() == java.util.logging.Level.WARNING) warnings.add(r);
            }
            @Override public void flush() {}
            @Override public void close() {}
        };
        java.util.logging.Logger sessionLog = java.util.logging.Logger.getLogger(dev.papa.daemon.session.Session.class.getName());
        sessionLog.addHandler(capture);
        int size = 16 << 20; // more than the loopback socket buffers take: over 1 MiB stays in the daemon
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).slowClientTimeout(java.time.Duration.ofMillis(500)));
             Conn other = Conn.open(d.port())) {
            String made = other.result("make process big bufsize=32m /usr/bin/head -c " + size + " /dev/zero");
            assertTrue(made.startsWith("big pid="), made);
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!other.result("list processes big").contains(" running=False ")) { // all of it captured
                assertTrue(System.nanoTime() < deadline, "the writer did not finish");
                Thread.sleep(20);
            }
            try (SocketChannel slow = SocketChannel.open()) {
                // a small receive buffer (no autotuning): the kernel cannot take most of the output
                slow.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 64 << 10);
                slow.connect(new InetSocketAddress("127.0.0.1", d.port()));
                slow.write(ByteBuffer.wrap("watch processes big\n".getBytes(StandardCharsets.US_ASCII)));
                while (warnings.stream().noneMatch(r -> r.getMessage() != null && r.getMessage().contains(": it read nothing for 500 ms"))) {
                    assertTrue(System.nanoTime() < deadline, "no WARNING about the stalled client: " + warnings);
                    Thread.sleep(20); // poll interval; the client reads nothing meanwhile
                }
                slow.configureBlocking(false);
                ByteBuffer in = ByteBuffer.allocate(1 << 20);
                long got = 0;
                boolean eof = false;
                while (!eof) { // what the kernel had buffered, then EOF
                    in.clear();
                    int n;
                    try {
                        n = slow.read(in);
                    } catch (java.io.IOException reset) {
                        break; // a reset is a disconnection too
                    }
                    if (n < 0) eof = true;
                    else if (n == 0) Thread.sleep(5);
                    else got += n;
                    assertTrue(System.nanoTime() < deadline, "the stalled client was not disconnected");
                }
                assertTrue(got < size, "the stalled client received everything (" + got + "): nothing was held back");
            }
            // its output stays queued: the next watcher gets every byte, then the exit
            try (dev.papa.client.Papa papa = dev.papa.client.Papa.builder().port(d.port()).autoStart(false).connect();
                 dev.papa.client.Watcher w = papa.watchProcesses("big")) {
                long received = 0;
                boolean onlyZeros = true;
                while (w.isActive()) {
                    var batch = w.read(java.time.Duration.ofSeconds(20));
                    assertTrue(batch.isPresent(), "watch stalled after " + received + " bytes");
                    for (var c : batch.get().out()) {
                        received += c.data().length;
                        for (byte b : c.data()) onlyZeros &= b == 0;
                    }
                    w.acknowledge();
                }
                assertEquals(size, received);
                assertTrue(onlyZeros);
                assertEquals(java.util.Map.of("big", 0), w.exitCodes());
            }
            assertEquals("", other.result("set k v")); // others are unaffected
        } finally {
            sessionLog.removeHandler(capture);
        }
    }

    /** All values together are bounded by their heap cost; past the bound a set is refused and nothing changes. */
    @Test
    void totalValueSize() throws Exception {
        long limit = 8L << 20;
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).valuesLimit(limit)); Conn c = Conn.open(d.port())) {
            String value = "v".repeat(65_000);
            int stored = 0;
            String reply = "";
            while (stored < 2000 && (reply = c.result("set k" + stored + " " + value)).isEmpty()) stored++;
            assertEquals("Error: Too much stored: values may take 8388608 bytes of memory in all", reply);
            assertEquals(limit / dev.papa.daemon.table.ValueTable.cost("k0", value), stored); // names k0..k999 cost the same
            assertEquals("", c.result("get k" + stored));
            assertEquals("", c.result("set k0"));            // deleting frees room
            assertEquals("", c.result("set k" + stored + " " + value));
        }
    }

    /** A flood of tiny values is bounded by what their objects cost, not by their characters. */
    @Test
    void tinyValuesCostTheirObjects() throws Exception {
        long limit = 1L << 20;
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).valuesLimit(limit)); Conn c = Conn.open(d.port())) {
            StringBuilder batch = new StringBuilder();
            for (int i = 0; i < 10_000; i++) batch.append("set k").append(i).append(" x\n");
            c.send(batch.toString());
            int ok = 0;
            String first = null;
            for (int i = 0; i < 10_000; i++) {
                String r = c.readUntilPrompt();
                if (r.equals("\n> ")) ok++;
                else if (first == null) first = r;
            }
            // names k0..k9999 are at most 8 characters: every entry costs the same
            assertEquals(limit / dev.papa.daemon.table.ValueTable.cost("k0", "x"), ok);
            assertEquals("Error: Too much stored: values may take 1048576 bytes of memory in all\n> ", first);
        }
    }
}
