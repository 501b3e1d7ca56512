package dev.papa.daemon.store;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;
import dev.papa.posix.SharedMapping;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The store against the heap queue it replaces ({@link OutputBuffer}, the model): random
 * appends (sizes up to and past the capacity), acknowledgements, markSent, eviction by the
 * overflow rule, close, discard, trim and reopening from the same memfd, compared after every
 * step, with the memory the memfd holds bounded by what is queued. Seeded: the seed is in every
 * failure; {@code -Dpapa.store.seed=S} repeats one, {@code -Dpapa.store.runs=N} runs more.
 */
class StoreModelTest {
    private static final long SEED = Long.getLong("papa.store.seed", System.nanoTime());
    private static final int RUNS = Integer.getInteger("papa.store.runs", 12);
    private static final int OPS = Integer.getInteger("papa.store.ops", 4000);
    private static final long[] CAPACITIES = {14, 100, 1000, 5000, 70_000};
    private static final int[] MAX_CHUNKS = {64, 4096, 65536};

    @Test
    void randomOperationsMatchTheHeapQueue() throws Exception {
        long wrapped = 0, punches = 0, reopened = 0;
        for (int run = 0; run < RUNS; run++) {
            long seed = SEED + run;
            try (ModelRun r = new ModelRun(new Random(seed))) {
                r.run(OPS);
                wrapped += r.ringLaps();
                punches += r.store.punchCalls() + r.punchesBefore;
                reopened += r.reopens;
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("seed " + seed + " (-Dpapa.store.seed=" + seed + " -Dpapa.store.runs=1): " + e, e);
            }
        }
        // the run must have exercised what it claims to
        assertTrue(wrapped > RUNS, "the rings wrapped " + wrapped + " times");
        assertTrue(punches > RUNS, "pages given back " + punches + " times");
        assertTrue(reopened > RUNS, "reopened " + reopened + " times");
    }

    /** One store and its model, from a seed. */
    private static final class ModelRun implements AutoCloseable {
        final Random rnd;
        final long capacity;
        final int maxChunk;
        Fd fd;
        OutputStore store;
        OutputBuffer model;
        final ByteBuffer read = ByteBuffer.allocateDirect(65536 + 64);
        long ringBytesAppended;
        long punchesBefore;
        int reopens;

        ModelRun(Random rnd) throws Exception {
            this.rnd = rnd;
            capacity = CAPACITIES[rnd.nextInt(CAPACITIES.length)];
            maxChunk = MAX_CHUNKS[rnd.nextInt(MAX_CHUNKS.length)];
            fresh(0, 0);
        }

        /** A new store and model whose first item is numbered seq (a process whose closed item was delivered is replaced). */
        void fresh(long seq, long dropped) throws Exception {
            if (store != null) {
                punchesBefore += store.punchCalls();
                store.close();
                fd.close();
            }
            fd = Memfd.create("store-model");
            store = OutputStore.create(fd.get(), capacity, maxChunk);
            model = new OutputBuffer(capacity);
            if (seq > 0 || dropped > 0) {
                store.startAt(seq, seq, dropped);
                model.startAt(seq, seq, dropped);
            }
        }

        long ringLaps() {
            return ringBytesAppended / (store.fileSize() - SharedMapping.PAGE);
        }

        void run(int ops) throws Exception {
            for (int i = 0; i < ops; i++) {
                String op = step();
                try {
                    compare();
                } catch (AssertionError e) {
                    throw new AssertionError("after op " + i + " (" + op + "): " + e.getMessage(), e);
                }
                if (model.closedAndDelivered()) fresh(model.endSeq(), model.droppedBytes());
            }
        }

        String step() throws Exception {
            int p = rnd.nextInt(100);
            if (p < 50) return append();
            if (p < 70) {
                long end = model.headSeq() + rnd.nextInt(model.size() + 3) - 1;
                store.acknowledge(end);
                model.acknowledge(end);
                return "acknowledge " + end;
            }
            if (p < 80) {
                long end = model.headSeq() + rnd.nextInt(model.size() + 2);
                store.markSent(end);
                model.markSent(end);
                return "markSent " + end;
            }
            if (p < 83 && !model.isClosed()) {
                long t = rnd.nextLong();
                int status = rnd.nextInt(300) - 150;
                store.appendClosed(t, status);
                model.appendClosed(t, status);
                return "close " + status;
            }
            if (p < 85) {
                store.discardAll();
                model.discardAll();
                return "discardAll";
            }
            if (p < 92) return reopen();
            store.trim();
            long limit = SharedMapping.PAGE + StoreLayout.alignUp(store.storeBytes(), SharedMapping.PAGE) + 2L * SharedMapping.PAGE;
            long held = Memfd.dataBytes(fd.get());
            assertTrue(held <= limit, "after trim the memfd holds " + held + " bytes for " + store.storeBytes() + " queued");
            if (store.isEmpty()) assertEquals(SharedMapping.PAGE, held, "an empty store keeps its header page only");
            return "trim";
        }

        String append() {
            if (model.isClosed()) {
                assertThrows(IllegalStateException.class, () -> store.append(OutputStore.OUT, 1, new byte[1]));
                return "append after close";
            }
            int len;
            int q = rnd.nextInt(20);
            if (q == 0) len = (int) Math.min(maxChunk, capacity + rnd.nextInt(3));           // >= capacity (when allowed)
            else if (q < 4) len = 1 + rnd.nextInt((int) Math.min(maxChunk, capacity));          // up to the capacity
            else len = 1 + rnd.nextInt((int) Math.max(1, Math.min(maxChunk, capacity / 5)));  // usual
            byte kind = rnd.nextBoolean() ? OutputStore.OUT : OutputStore.ERR;
            long time = rnd.nextLong();
            int pos = rnd.nextInt(64);
            byte[] chunk = new byte[len];
            rnd.nextBytes(chunk);
            read.clear().position(pos);
            read.put(pos, chunk);
            long room = store.room(), head = store.headSeq();
            store.append(kind, time, read, len);
            assertEquals(pos, read.position(), "the source's position does not move");
            if (len <= room) assertEquals(head, store.headSeq(), "a chunk within room() evicts nothing (overflow=block)");
            model.append(kind, time, chunk);
            ringBytesAppended += StoreLayout.itemSize(len);
            return "append " + len;
        }

        String reopen() throws Exception {
            punchesBefore += store.punchCalls();
            store.close();
            store = OutputStore.open(fd.get());
            reopens++;
            // what was sent to a watcher is the heap's: forgotten by a new JVM, as in the model rebuilt here
            OutputBuffer m = new OutputBuffer(capacity);
            m.startAt(model.headSeq(), model.headSeq(), model.droppedBytes());
            for (long s = model.headSeq(); s < model.endSeq(); s++) {
                if (model.kind(s) == OutputBuffer.CLOSED) m.appendClosed(model.timeMicros(s), model.exitStatus());
                else m.append(model.kind(s), model.timeMicros(s), model.chunk(s));
            }
            model = m;
            return "reopen";
        }

        void compare() throws Exception {
            assertEquals(model.headSeq(), store.headSeq(), "headSeq");
            assertEquals(model.endSeq(), store.endSeq(), "endSeq");
            assertEquals(model.size(), store.size(), "size");
            assertEquals(model.bytes(), store.bytes(), "bytes");
            assertTrue(store.room() <= model.room() && (store.room() > 0 || model.room() == 0 || !store.isEmpty()), "room " + store.room() + ", the model's " + model.room());
            assertEquals(model.droppedBytes(), store.droppedBytes(), "dropped");
            assertEquals(model.sentEnd(), store.sentEnd(), "sentEnd");
            assertEquals(model.isClosed(), store.isClosed(), "closed");
            assertEquals(model.closedAndDelivered(), store.closedAndDelivered(), "closedAndDelivered");
            if (model.isClosed()) assertEquals(model.exitStatus(), store.exitStatus(), "exit status");
            for (long s = model.headSeq(); s < model.endSeq(); s++) {
                assertEquals(model.kind(s), store.kind(s), "kind of " + s);
                assertEquals(model.timeMicros(s), store.timeMicros(s), "time of " + s);
                byte[] expected = model.kind(s) == OutputBuffer.CLOSED ? new byte[0] : model.chunk(s);
                ByteBuffer c = store.chunk(s);
                byte[] actual = new byte[c.remaining()];
                c.get(actual);
                assertArrayEquals(expected, actual, "chunk of " + s);
            }
            assertThrows(IndexOutOfBoundsException.class, () -> store.kind(model.endSeq()));
            long ring = store.fileSize() - SharedMapping.PAGE;
            long items = 0;
            for (long s = model.headSeq(); s < model.endSeq(); s++) items += StoreLayout.itemSize(store.chunkLength(s));
            assertEquals(items, store.storeBytes(), "ring bytes of the items");
            assertTrue(store.storeBytes() <= ring, "ring bytes " + store.storeBytes());
            // pages in use are reused up to the soft ring size (more only for very small chunks)
            long limit = SharedMapping.PAGE + StoreLayout.alignUp(Math.max(store.softRing(), store.storeBytes())
                    + StoreLayout.itemSize(maxChunk), SharedMapping.PAGE) + SharedMapping.PAGE;
            long held = Memfd.dataBytes(fd.get());
            assertTrue(held <= limit, "the memfd holds " + held + " bytes for " + store.storeBytes() + " queued (limit " + limit + ")");
        }

        @Override
        public void close() {
            store.close();
            fd.close();
        }
    }

    @Test
    void aTrickleReusesItsFirstPageAndAStreamPunchesOnceASecond() throws Exception {
        try (Fd fd = Memfd.create("store-trickle"); OutputStore s = OutputStore.create(fd.get(), 1 << 20)) {
            byte[] line = "tick 0000000000\n".getBytes();
            for (int i = 0; i < 20_000; i++) {
                s.append(OutputStore.OUT, i * 1000L, line);
                s.acknowledge(s.endSeq());
            }
            assertEquals(0, s.punchCalls(), "a trickle acknowledged line by line punches nothing");
            assertEquals(2L * SharedMapping.PAGE, Memfd.dataBytes(fd.get()), "header and one page");
        }
        try (Fd fd = Memfd.create("store-stream"); OutputStore s = OutputStore.create(fd.get(), 1 << 20)) {
            byte[] chunk = new byte[4096];
            long t = 0;
            for (int batch = 0; batch < 1000; batch++) { // 1000 batches of 64 chunks, 100 µs apart: 6.4 s of capture
                for (int i = 0; i < 64; i++) s.append(OutputStore.OUT, t += 100, chunk);
                s.acknowledge(s.endSeq());
            }
            assertTrue(s.punchCalls() >= 5 && s.punchCalls() <= 8, s.punchCalls() + " punches in 6.4 s of a stream that empties 1000 times");
            assertTrue(Memfd.dataBytes(fd.get()) <= SharedMapping.PAGE + StoreLayout.alignUp(64 * StoreLayout.itemSize(4096), SharedMapping.PAGE));
        }
    }

    @Test
    void aBurstIsGivenBackOnceAcknowledged() throws Exception {
        try (Fd fd = Memfd.create("store-burst"); OutputStore s = OutputStore.create(fd.get(), 8 << 20)) {
            byte[] chunk = new byte[65536];
            for (int i = 0; i < 128; i++) s.append(OutputStore.OUT, i, chunk);
            assertTrue(Memfd.dataBytes(fd.get()) >= 8L << 20, "8 MiB queued are resident");
            s.acknowledge(s.endSeq());
            assertTrue(Memfd.dataBytes(fd.get()) <= SharedMapping.PAGE + PagePunch.KEEP, "given back: " + Memfd.dataBytes(fd.get()));
            s.trim();
            assertEquals(SharedMapping.PAGE, Memfd.dataBytes(fd.get()));
            assertTrue(s.fileSize() > 8L << 20 && s.isEmpty());
        }
    }

    /**
     * A capped ring (over about 85 MiB of capacity; here a ring of 4 pages for 16,000 bytes)
     * fills before the overflow rule evicts: the oldest items go, whole, counted in dropped when
     * no watcher was sent them, exactly as the overflow rule would.
     */
    @Test
    void aFullRingEvictsTheOldestLikeTheOverflowRule() throws Exception {
        long seed = SEED;
        Random rnd = new Random(seed);
        NumberedItems items = new NumberedItems(3000);
        long dropped = 0, ringEvictions = 0;
        try (Fd fd = Memfd.create("store-full-ring")) {
            OutputStore s = OutputStore.create(fd.get(), new StoreHeader(SharedMapping.PAGE, 4 * SharedMapping.PAGE, 16_000, 3000));
            ByteBuffer read = ByteBuffer.allocateDirect(4096);
            try {
                for (int i = 0; i < 20_000; i++) {
                    String at = "seed " + seed + " (-Dpapa.store.seed), op " + i + ": ";
                    long head = s.headSeq(), sent = s.sentEnd(), bytes = s.bytes();
                    long seq = s.endSeq();
                    int r = rnd.nextInt(100);
                    if (r < 60) {
                        items.append(s, seq, read);
                        long lost = 0;
                        for (long e = head; e < s.headSeq(); e++) if (e >= sent) lost += items.length(e);
                        dropped += lost;
                        if (bytes + items.length(seq) <= s.capacity() && s.headSeq() > head) ringEvictions++;
                    } else if (r < 80) {
                        s.acknowledge(head + rnd.nextInt(s.size() + 1));
                    } else if (r < 95) {
                        s.markSent(head + rnd.nextInt(s.size() + 1));
                    } else {
                        s.close();
                        s = OutputStore.open(fd.get());
                    }
                    assertEquals(null, items.check(s), at);
                    assertEquals(dropped, s.droppedBytes(), at + "dropped");
                    long queued = 0;
                    for (long e = s.headSeq(); e < s.endSeq(); e++) queued += items.length(e);
                    assertEquals(queued, s.bytes(), at + "bytes");
                    assertTrue(s.bytes() <= s.capacity() && s.storeBytes() <= 4 * SharedMapping.PAGE, at + "bounds");
                }
            } finally {
                s.close();
            }
        }
        assertTrue(ringEvictions > 100, "the ring was full " + ringEvictions + " times");
    }

    @Test
    void badArgumentsAreRefused() throws Exception {
        try (Fd fd = Memfd.create("store-args"); OutputStore s = OutputStore.create(fd.get(), 100, 64)) {
            assertThrows(IllegalArgumentException.class, () -> s.append(OutputStore.OUT, 1, new byte[0]));
            assertThrows(IllegalArgumentException.class, () -> s.append(OutputStore.OUT, 1, new byte[65]));
            assertThrows(IllegalArgumentException.class, () -> s.append(OutputStore.CLOSED, 1, new byte[1]));
            assertThrows(IllegalArgumentException.class, () -> s.append(OutputStore.OUT, 1, ByteBuffer.allocate(3), 4));
            s.appendClosed(1, 0);
            assertThrows(IllegalStateException.class, () -> s.appendClosed(2, 0));
            assertThrows(IllegalStateException.class, () -> s.startAt(5, 5, 0));
            assertFalse(s.closedAndDelivered());
            s.close();
            assertThrows(IllegalStateException.class, () -> s.kind(s.headSeq()));
            assertThrows(IllegalStateException.class, () -> s.acknowledge(5));
        }
        try (Fd fd = Memfd.create("store-used")) {
            Memfd.writeAt(fd.get(), new byte[10], 0);
            assertThrows(IllegalArgumentException.class, () -> OutputStore.create(fd.get(), 100));
        }
    }
}
