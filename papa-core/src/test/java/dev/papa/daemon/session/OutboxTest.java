package dev.papa.daemon.session;

import dev.papa.daemon.buffer.OutputBuffer;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OutboxTest {

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Drains the outbox through a small buffer, consuming odd amounts, as partial writes do. */
    private static String drain(Outbox o, int window) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(window);
        while (!o.isEmpty()) {
            buf.clear();
            o.fill(buf);
            buf.flip();
            int take = Math.max(1, buf.remaining() * 2 / 3);
            out.write(buf.array(), 0, take);
            o.consume(take);
        }
        assertEquals(0, o.bytes());
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void encodesABatchExactlyAsTheProtocolSays() {
        OutputBuffer a = new OutputBuffer(1000);
        a.append(OutputBuffer.OUT, 1_700_000_000_000_001L, b("hi\n"));
        a.append(OutputBuffer.ERR, 1_700_000_000_500_000L, b("oops"));
        a.appendClosed(1_700_000_001_000_000L, -9);
        OutputBuffer c = new OutputBuffer(1000);
        c.append(OutputBuffer.OUT, 1_700_000_002_000_000L, b("x"));
        Outbox o = new Outbox();
        o.add(b("Watching 2\n"));
        assertTrue(o.addBatch(new OutputBuffer[] {a, c}, new byte[][] {b("web.1"), b("ünï")}, 2));
        assertEquals("Watching 2\n"
                + "out:web.1:1700000000.000001:3\nhi\n\n"
                + "err:web.1:1700000000.500000:4\noops\n"
                + "closed:web.1:1700000001.000000:-9\n"
                + "out:ünï:1700000002.000000:1\nx\n"
                + "] ", drain(o, 7));
    }

    @Test
    void aBatchOfOnlyAClosedItemHasNoBlankLine() {
        OutputBuffer a = new OutputBuffer(0);
        a.appendClosed(2_000_000L, 0);
        Outbox o = new Outbox();
        assertTrue(o.addBatch(new OutputBuffer[] {a}, new byte[][] {b("p")}, 1));
        assertEquals("closed:p:2.000000:0\n] ", drain(o, 64));
    }

    @Test
    void emptyQueuesMakeNoBatch() {
        Outbox o = new Outbox();
        assertFalse(o.addBatch(new OutputBuffer[] {new OutputBuffer(10)}, new byte[][] {b("p")}, 1));
        assertTrue(o.isEmpty());
    }

    @Test
    void manyBatchesReuseTheArenaAndKeepOrder() {
        Outbox o = new Outbox();
        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            OutputBuffer q = new OutputBuffer(100);
            q.append(OutputBuffer.OUT, i * 1_000_000L, b("line" + i));
            o.addBatch(new OutputBuffer[] {q}, new byte[][] {b("name-that-is-fairly-long-" + i)}, 1);
            expected.append("out:name-that-is-fairly-long-").append(i).append(':').append(i).append(".000000:")
                    .append(("line" + i).length()).append('\n').append("line").append(i).append("\n] ");
            if (i % 50 == 49) assertEquals(expected.toString(), drain(o, 100));
            if (i % 50 == 49) expected.setLength(0);
        }
    }
}
