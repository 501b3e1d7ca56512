package dev.papa.daemon.buffer;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OutputBufferTest {

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static List<String> contents(OutputBuffer q) {
        List<String> out = new ArrayList<>();
        for (long s = q.headSeq(); s < q.endSeq(); s++) {
            byte k = q.kind(s);
            out.add(k == OutputBuffer.CLOSED ? "closed:" + q.exitStatus()
                    : (k == OutputBuffer.OUT ? "out:" : "err:") + new String(q.chunk(s), StandardCharsets.US_ASCII));
        }
        return out;
    }

    @Test
    void evictsOldestWholeChunksUntilTheNewOneFits() {
        // The protocol's example: bufsize=14, three 6-byte lines, then "done" on stderr.
        OutputBuffer q = new OutputBuffer(14);
        q.append(OutputBuffer.OUT, 1, b("line1\n"));
        q.append(OutputBuffer.OUT, 2, b("line2\n"));
        q.append(OutputBuffer.OUT, 3, b("line3\n"));
        assertEquals(List.of("out:line2\n", "out:line3\n"), contents(q));
        q.append(OutputBuffer.ERR, 4, b("done"));
        assertEquals(List.of("out:line3\n", "err:done"), contents(q));
        assertEquals(10, q.bytes());
        q.appendClosed(5, -9);
        assertEquals(List.of("out:line3\n", "err:done", "closed:-9"), contents(q));
    }

    @Test
    void aChunkOfBufsizeOrMoreReplacesEverythingBeforeIt() {
        OutputBuffer q = new OutputBuffer(8);
        q.append(OutputBuffer.OUT, 1, b("abc"));
        q.append(OutputBuffer.ERR, 2, b("0123456789"));
        assertEquals(List.of("err:0123456789"), contents(q));
        assertEquals(10, q.bytes());
        q.append(OutputBuffer.OUT, 3, b("x"));
        assertEquals(List.of("out:x"), contents(q));
    }

    @Test
    void acknowledgeRemovesExactlyWhatWasSentEvenAfterEviction() {
        OutputBuffer q = new OutputBuffer(10);
        q.append(OutputBuffer.OUT, 1, b("aaaa"));
        q.append(OutputBuffer.OUT, 2, b("bbbb"));
        long sentEnd = q.endSeq();          // a watcher was sent a and b
        q.append(OutputBuffer.OUT, 3, b("cccc")); // evicts a while the batch is in flight
        q.acknowledge(sentEnd);
        assertEquals(List.of("out:cccc"), contents(q));
        q.acknowledge(sentEnd);             // a second watcher acknowledging the same batch
        assertEquals(List.of("out:cccc"), contents(q));
        assertEquals(4, q.bytes());
    }

    @Test
    void droppedCountsOnlyEvictedBytesNoWatcherWasSent() {
        OutputBuffer q = new OutputBuffer(10);
        q.append(OutputBuffer.OUT, 1, b("aaaa"));
        q.append(OutputBuffer.OUT, 2, b("bbbb"));
        q.markSent(q.headSeq() + 1);            // a batch carried "aaaa" only
        assertEquals(2, q.room());
        q.append(OutputBuffer.OUT, 3, b("cccc")); // evicts "aaaa": sent, so not dropped
        assertEquals(0, q.droppedBytes());
        q.append(OutputBuffer.ERR, 4, b("dddd")); // evicts "bbbb": never sent
        assertEquals(4, q.droppedBytes());
        q.append(OutputBuffer.OUT, 5, b("0123456789ab")); // replaces "cccc" and "dddd"
        assertEquals(12, q.droppedBytes());
        q.acknowledge(q.endSeq());               // acknowledging is not dropping
        q.discardAll();
        assertEquals(12, q.droppedBytes());
        assertEquals(10, q.room());
    }

    @Test
    void closedIsDeliveredOnlyOnceAcknowledged() {
        OutputBuffer q = new OutputBuffer(100);
        q.append(OutputBuffer.OUT, 1, b("x"));
        q.appendClosed(2, 3);
        assertFalse(q.closedAndDelivered());
        q.acknowledge(q.endSeq());
        assertTrue(q.closedAndDelivered());
        assertThrows(IllegalStateException.class, () -> q.append(OutputBuffer.OUT, 3, b("late")));
    }

    @Test
    void ringGrowsAndKeepsOrderAcrossWrapAround() {
        OutputBuffer q = new OutputBuffer(1 << 20);
        for (int round = 0; round < 5; round++) {
            for (int i = 0; i < 100; i++) q.append(OutputBuffer.OUT, i, b(round + ":" + i));
            long mid = q.headSeq() + 50;
            q.acknowledge(mid);
            assertEquals(round + ":50", new String(q.chunk(q.headSeq()), StandardCharsets.US_ASCII));
            q.acknowledge(q.endSeq());
            assertTrue(q.isEmpty());
            assertEquals(0, q.bytes());
        }
        assertEquals(500, q.headSeq());
    }

    @Test
    void timestampsAndKindsAreKeptPerItem() {
        OutputBuffer q = new OutputBuffer(100);
        q.append(OutputBuffer.ERR, 42, b("e"));
        q.appendClosed(43, 0);
        assertEquals(42, q.timeMicros(q.headSeq()));
        assertEquals(OutputBuffer.ERR, q.kind(q.headSeq()));
        assertEquals(43, q.timeMicros(q.headSeq() + 1));
        assertNull(q.chunk(q.headSeq() + 1));
        assertArrayEquals(b("e"), q.chunk(q.headSeq()));
    }
}
