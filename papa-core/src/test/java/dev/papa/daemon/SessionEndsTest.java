package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** How a session behaves when its client half-closes, goes away, or reads slowly (issue 9, items 11, 13). */
@Timeout(120)
class SessionEndsTest extends DaemonTestBase {
    /** {@code printf 'w p x\n' | nc -N}: the client shut down its side; it still gets the whole watch. */
    @Test
    void halfClosedClientGetsTheWholeWatch() throws Exception {
        ProtocolClient c = connect();
        make(c, "x /bin/sh -c echo\\ a;sleep\\ 0.3;echo\\ b");
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port));
            s.setSoTimeout(20_000);
            s.getOutputStream().write("watch processes x\n".getBytes(StandardCharsets.US_ASCII));
            s.shutdownOutput();
            String all = readToEof(s.getInputStream());
            assertTrue(all.startsWith("Papa is home. Type \"help\" for commands.\n> Watching 1\n"), all);
            assertTrue(all.matches("(?s).*out:x:[0-9.]+:2\na\n.*out:x:[0-9.]+:2\nb\n.*closed:x:[0-9.]+:0\n\\] "
                    + "Nothing left to watch\n> "), all);
        }
        assertEquals("", c.ok("list processes x"), "delivered to the half-closed client, so forgotten");
    }

    /**
     * A client that closes its socket (FIN) after the Watching line, or after the batch too,
     * acknowledges nothing: the next watcher gets it all.
     */
    @Test
    void closedClientLosesNothing() throws Exception {
        ProtocolClient c = connect();
        Proc p = make(c, "y /bin/echo hi");
        awaitExited(c, "y");
        for (int i = 0; i < 20; i++) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port));
                InputStream in = s.getInputStream();
                String greeting = "Papa is home. Type \"help\" for commands.\n> ";
                s.getOutputStream().write("watch processes y\n".getBytes(StandardCharsets.US_ASCII));
                assertEquals(greeting + "Watching 1\n", new String(in.readNBytes(greeting.length() + 11), StandardCharsets.US_ASCII));
                if (i % 2 == 1) { // also read the batch, then close without acknowledging it
                    StringBuilder batch = new StringBuilder();
                    while (batch.length() < 2 || !batch.substring(batch.length() - 2).equals("] ")) batch.append((char) in.read());
                    assertTrue(batch.toString().startsWith("out:y:"), batch.toString());
                }
            }
        }
        assertEquals("hi\n", ProtocolClient.out(watchAll(c, "y", 1)));
        awaitReaped(p.pid());
    }

    /** However often a slow reader makes its session pause and resume, one stall check runs for it. */
    @Test
    void pausesDoNotPileUpStallChecks() throws Exception {
        ProtocolClient c = connect();
        String big = "v".repeat(50_000);
        long reply = 3; // "\n> "
        for (int i = 0; i < 200; i++) {
            assertEquals("", c.ok("set v" + i + " " + big));
            reply += ("v" + i).length() + 1 + big.length() + (i > 0 ? 1 : 0);
        }
        int before = timers();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port));
            s.setSoTimeout(20_000);
            InputStream in = s.getInputStream();
            assertEquals(42, in.readNBytes(42).length); // the greeting
            // Each reply is 10 MB, more than the kernel takes at once: the session pauses on every
            // one of them and resumes once the client has read it.
            for (int round = 0; round < 10; round++) {
                s.getOutputStream().write("list values\n".getBytes(StandardCharsets.US_ASCII));
                assertEquals(reply, in.readNBytes((int) reply).length);
            }
        }
        int after = timers();
        assertTrue(after - before <= 1, "stall checks scheduled: " + (after - before));
    }

    private int timers() throws Exception {
        CompletableFuture<Integer> n = new CompletableFuture<>();
        daemon.loop().execute(() -> n.complete(daemon.loop().timerCount()));
        return n.get(10, TimeUnit.SECONDS);
    }

    private static String readToEof(InputStream in) throws java.io.IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toString(StandardCharsets.UTF_8);
    }
}
