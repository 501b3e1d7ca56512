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
            assertEquals("", c.result("set big " + value)); // exactly 65536 bytes: accepted
            assertEquals(value, c.result("get big"));
            assertEquals("Error: Request line is too long (over 65536 bytes)", c.result("set big x" + value));
            assertEquals("Error: Request line is too long (over 65536 bytes)", c.result("x".repeat(5_000_000)));
            assertEquals(value, c.result("get big")); // the session goes on
            assertEquals("", c.result("set big"));
        }
    }

    @Test
    void sessionCount() throws Exception {
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).maxSessions(3))) {
            Conn[] open = {Conn.open(d.port()), Conn.open(d.port()), Conn.open(d.port())};
            try (Conn c = Conn.tcp(d.port())) {
                assertEquals("Error: too many sessions (limit 3)\n", c.readToEof());
            }
            open[0].close();
            Thread.sleep(100);
            try (Conn c = Conn.open(d.port())) {
                assertEquals("1", c.result("help").isEmpty() ? "0" : "1");
            }
            for (Conn c : open) c.close();
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
            assertEquals("Error: Value name \"a\\x09b\" is invalid" + bad, c.result("set a\tb 1"));
            assertEquals("Error: Value name \"a\\x01\" is invalid" + bad, c.result("set a\u0001 1"));
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
            assertEquals("Error: bufsize \"99999999999999999999g\" is over the maximum of 1g".length() > 0, true);
            assertTrue(c.result("make process b bufsize=99999999999999999999g /bin/true").startsWith("Error: "));
            assertTrue(c.result("make process b bufsize=1g /bin/true").startsWith("b pid="));
            assertEquals("", c.result("remove processes b"));
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
     * A client that sends requests and never reads: the daemon stops reading from it past
     * 1 MiB of unsent replies (so it costs bounded memory), other sessions go on, and once it
     * reads, every request is answered.
     */
    @Test
    void slowConsumerIsBoundedAndOthersUnaffected() throws Exception {
        try (SocketChannel slow = SocketChannel.open(new InetSocketAddress("127.0.0.1", daemon.port()));
             Conn other = Conn.open(daemon.port())) {
            slow.configureBlocking(false);
            byte[] req = "help\n".getBytes(StandardCharsets.US_ASCII);
            ByteBuffer many = ByteBuffer.allocate(req.length * 1000);
            for (int i = 0; i < 1000; i++) many.put(req);
            long written = 0;
            long stalledSince = 0;
            while (true) {
                many.clear();
                int n = slow.write(many);
                written += n;
                if (n == 0) {
                    if (stalledSince == 0) stalledSince = System.nanoTime();
                    else if (System.nanoTime() - stalledSince > 500_000_000L) break; // stalled for 0.5 s
                    Thread.sleep(20);
                } else {
                    stalledSince = 0;
                }
                assertTrue(written < 64L << 20, "the daemon kept reading from a client that never reads");
            }
            long requests = written / req.length;
            long t0 = System.nanoTime();
            assertEquals("", other.result("set k v"));
            assertEquals("v", other.result("get k"));
            assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "other sessions slowed down");
            // now read: the daemon resumes (reading all of the ~1 GB of replies would take too long:
            // check the first 32 MiB, which need the daemon to resume reading requests many times)
            String help = other.cmd("help");
            byte[] expected = (Conn.GREETING + help.repeat((int) ((32L << 20) / help.length() + 1))).getBytes(StandardCharsets.UTF_8);
            ByteBuffer in = ByteBuffer.allocate(expected.length);
            long deadline = System.nanoTime() + 30_000_000_000L;
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

    /** A client that leaves over 1 MiB unread and reads nothing for the slow-client timeout is disconnected. */
    @Test
    void stalledSlowConsumerIsDisconnected() throws Exception {
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).slowClientTimeout(java.time.Duration.ofMillis(500)));
             SocketChannel slow = SocketChannel.open(new InetSocketAddress("127.0.0.1", d.port()));
             Conn other = Conn.open(d.port())) {
            slow.configureBlocking(false);
            ByteBuffer many = ByteBuffer.wrap("help\n".repeat(1000).getBytes(StandardCharsets.US_ASCII));
            long deadline = System.nanoTime() + 20_000_000_000L;
            int idleRounds = 0;
            while (idleRounds < 10 && System.nanoTime() < deadline) { // until the daemon stops reading
                many.clear();
                if (slow.write(many) == 0) {
                    idleRounds++;
                    Thread.sleep(20);
                } else {
                    idleRounds = 0;
                }
            }
            Thread.sleep(1500); // past the timeout, reading nothing
            ByteBuffer in = ByteBuffer.allocate(1 << 20);
            boolean eof = false;
            while (!eof && System.nanoTime() < deadline) { // what the kernel had buffered, then EOF
                in.clear();
                int n;
                try {
                    n = slow.read(in);
                } catch (java.io.IOException reset) {
                    break; // a reset is a disconnection too
                }
                if (n < 0) eof = true;
                else if (n == 0) Thread.sleep(5);
            }
            assertTrue(eof || System.nanoTime() < deadline, "the stalled client was not disconnected");
            assertEquals("", other.result("set k v")); // others are unaffected
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
