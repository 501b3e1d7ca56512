package dev.papa.daemon.store;

import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A JVM killed (SIGKILL) at a random instant while it appends, acknowledges and gives pages
 * back leaves a store the next JVM reads: every item present complete, numbered contiguously,
 * in order; the next writer continues it. One store, a new writer JVM per kill, checked here
 * after each. {@code -Dpapa.store.kills=N} for more than the default 50; the seed is printed.
 */
class StoreCrashTest {
    private static final int KILLS = Integer.getInteger("papa.store.kills", 50);
    private static final long SEED = Long.getLong("papa.store.seed", System.nanoTime());
    private static final int MAX_ITEM = 50_000;

    /** One store under test and what the last check found in it. */
    private static final class Tracked implements AutoCloseable {
        final Fd fd;
        final String path;
        long head, end, dropped, appended;

        Tracked(String name, StoreHeader geometry) throws Exception {
            fd = Memfd.create(name);
            OutputStore.create(fd.get(), geometry).close();
            path = "/proc/" + ProcessHandle.current().pid() + "/fd/" + fd.get();
        }

        @Override
        public void close() {
            fd.close();
        }
    }

    /**
     * Two stores, the writers taking turns: one sized as usual, one whose ring is barely larger
     * than its capacity, so that appends evict for ring space and overwrite what they evicted,
     * and wrap all the time.
     */
    @Test
    void aWriterKilledAtRandomInstantsLeavesCompleteContiguousItems() throws Exception {
        Random rnd = new Random(SEED);
        NumberedItems items = new NumberedItems(MAX_ITEM);
        int page = dev.papa.posix.SharedMapping.PAGE;
        try (Tracked usual = new Tracked("store-crash", StoreHeader.forCapacity(48 << 10, 65536, page));
             Tracked tight = new Tracked("store-crash-tight", new StoreHeader(page, 16 * page, 48 << 10, MAX_ITEM))) {
            for (int k = 0; k < KILLS; k++) {
                Tracked t = k % 2 == 0 ? usual : tight;
                String at = "seed " + SEED + " (-Dpapa.store.seed), kill " + k + ": ";
                Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp", classpath(), StoreWriterMain.class.getName(), t.path, Integer.toString(MAX_ITEM), Long.toString(rnd.nextLong()))
                        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
                try {
                    String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                    assertNotNull(line, at + "the writer ended before opening the store");
                    assertEquals("open " + t.head + " " + t.end, line, at + "the writer found another store");
                    // mostly while the writer is young (interpreted), one in four later (compiled code)
                    LockSupport.parkNanos(rnd.nextInt(k % 8 >= 6 ? 400_000_000 : 40_000_000));
                } finally {
                    p.destroyForcibly(); // SIGKILL
                    assertTrue(p.waitFor(10, TimeUnit.SECONDS), at + "the writer did not die");
                }
                try (OutputStore s = OutputStore.open(t.fd.get())) {
                    assertNull(items.check(s), at + items.check(s));
                    assertTrue(s.headSeq() >= t.head && s.endSeq() >= t.end && s.droppedBytes() >= t.dropped,
                            at + "went back: " + s.headSeq() + ".." + s.endSeq() + " dropped " + s.droppedBytes());
                    assertTrue(s.bytes() <= s.capacity() || s.size() == 1, at + s.bytes() + " bytes queued");
                    t.appended += s.endSeq() - t.end;
                    t.head = s.headSeq();
                    t.end = s.endSeq();
                    t.dropped = s.droppedBytes();
                }
            }
            for (Tracked t : new Tracked[] {usual, tight}) {
                assertTrue(t.appended > 5L * KILLS, "the writers appended only " + t.appended + " items");
                // and this JVM continues the store as well
                try (OutputStore s = OutputStore.open(t.fd.get())) {
                    ByteBuffer read = ByteBuffer.allocateDirect(65536);
                    for (int i = 0; i < 100; i++) items.append(s, s.endSeq(), read);
                    s.acknowledge(s.endSeq() - 3);
                }
                try (OutputStore s = OutputStore.open(t.fd.get())) {
                    assertNull(items.check(s));
                    assertEquals(t.end + 100, s.endSeq());
                    // three left unacknowledged, fewer when a chunk of the capacity or more replaced them
                    assertEquals(s.endSeq() - 3, s.headSeq() + 3 - s.size());
                    assertTrue(s.size() >= 1 && s.size() <= 3);
                }
            }
            System.out.println("StoreCrashTest: " + KILLS + " kills, " + usual.appended + " + " + tight.appended
                    + " items appended by the killed writers, seed " + SEED);
        }
    }

    private static String classpath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isEmpty() ? cp : System.getProperty("java.class.path");
    }
}
