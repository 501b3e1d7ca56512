package dev.papa.daemon.buffer;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OutputBudgetTest {
    private static final long MIB = 1 << 20;

    @Test
    void aChunkCostsItsArrayAndItsSlotsNotJustItsLength() {
        assertEquals(24 + OutputBudget.SLOT_COST, OutputBudget.chunkCost(1));
        assertEquals(24 + OutputBudget.SLOT_COST, OutputBudget.chunkCost(8));
        assertEquals(32 + OutputBudget.SLOT_COST, OutputBudget.chunkCost(9));
        assertEquals(65536 + 16 + OutputBudget.SLOT_COST, OutputBudget.chunkCost(65536));
    }

    /** What this JVM really allocates for a chunk's array never exceeds the array part of its cost. */
    @Test
    void theArrayPartMatchesWhatTheJvmAllocates() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        for (int length : new int[] {1, 7, 100, 4096, 65536}) {
            byte[][] keep = new byte[1000][];
            long before = threads.getThreadAllocatedBytes(self);
            for (int i = 0; i < keep.length; i++) keep[i] = new byte[length];
            long perArray = (threads.getThreadAllocatedBytes(self) - before) / keep.length;
            long arrayPart = OutputBudget.chunkCost(length) - OutputBudget.SLOT_COST;
            assertTrue(perArray <= arrayPart, length + " bytes: allocated " + perArray + ", counted " + arrayPart);
            assertTrue(perArray >= length, "allocation counter");
        }
    }

    @Test
    void theCostliestQueueLosesItsOldestChunksFirst() {
        OutputBudget budget = new OutputBudget(MIB);
        OutputBuffer big = new OutputBuffer(1L << 30, budget);
        OutputBuffer small = new OutputBuffer(1L << 30, budget);
        byte[] chunk = new byte[62_000];
        for (int i = 0; i < 10; i++) big.append(OutputBuffer.OUT, i, chunk);
        for (int i = 0; i < 6; i++) small.append(OutputBuffer.OUT, i, chunk);
        assertEquals(16 * OutputBudget.chunkCost(62_000), budget.used());
        assertEquals(0, big.headSeq());

        small.append(OutputBuffer.OUT, 6, chunk); // 17 chunks would exceed 1 MiB: big loses its oldest
        assertEquals(1, big.headSeq());
        assertEquals(0, small.headSeq());
        assertEquals(7, small.size());
        assertTrue(budget.used() <= budget.limit());
        assertEquals(62_000, budget.evictedBytes());

        for (int i = 0; i < 20; i++) small.append(OutputBuffer.ERR, 7 + i, chunk);
        assertTrue(budget.used() <= budget.limit());
        // both queues were evicted down to equal shares (one chunk apart at most)
        assertTrue(Math.abs(big.size() - small.size()) <= 1, big.size() + " vs " + small.size());
        assertEquals(big.cost() + small.cost(), budget.used());
    }

    @Test
    void oneByteChunksAreBoundedByTheirRealCost() {
        OutputBudget budget = new OutputBudget(MIB);
        OutputBuffer q = new OutputBuffer(1L << 30, budget);
        for (int i = 0; i < 100_000; i++) q.append(OutputBuffer.OUT, i, new byte[] {'x'});
        assertEquals(MIB / OutputBudget.chunkCost(1), q.size());
        assertEquals(q.size(), q.bytes());
        assertTrue(budget.used() <= MIB);
    }

    @Test
    void acknowledgementAndReleaseGiveTheBudgetBack() {
        OutputBudget budget = new OutputBudget(MIB);
        OutputBuffer q = new OutputBuffer(1L << 30, budget);
        OutputBuffer other = new OutputBuffer(1L << 30, budget);
        q.append(OutputBuffer.OUT, 1, new byte[1000]);
        q.append(OutputBuffer.OUT, 2, new byte[1000]);
        other.append(OutputBuffer.OUT, 3, new byte[10]);
        q.acknowledge(q.headSeq() + 1);
        assertEquals(OutputBudget.chunkCost(1000) + OutputBudget.chunkCost(10), budget.used());
        q.release();
        assertEquals(OutputBudget.chunkCost(10), budget.used());
        // a released queue is never picked again
        for (int i = 0; i < 100; i++) other.append(OutputBuffer.OUT, i, new byte[20_000]);
        assertTrue(budget.used() <= MIB);
        assertEquals(other.cost(), budget.used());
    }

    @Test
    void theBufsizeRuleStillHoldsInsideTheBudget() {
        OutputBudget budget = new OutputBudget(MIB);
        OutputBuffer q = new OutputBuffer(14, budget);
        q.append(OutputBuffer.OUT, 1, "line1\n".getBytes());
        q.append(OutputBuffer.OUT, 2, "line2\n".getBytes());
        q.append(OutputBuffer.OUT, 3, "line3\n".getBytes());
        assertEquals(2, q.size());
        assertEquals(2 * OutputBudget.chunkCost(6), budget.used());
        assertEquals(0, budget.evictedBytes()); // bufsize evictions are the queue's own
    }

    @Test
    void aBudgetBelowOneMebibyteIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new OutputBudget(MIB - 1));
    }
}
