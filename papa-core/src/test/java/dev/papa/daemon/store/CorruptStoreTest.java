package dev.papa.daemon.store;

import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;
import dev.papa.posix.SharedMapping;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A store of garbage (bit flips and random bytes in the header, the records and the items;
 * wrong sizes; not a sealed memfd) is refused with {@link CorruptStoreException} or opened
 * as a store that works, never anything else, and never a hang. Seeded; the seed is printed
 * with any failure ({@code -Dpapa.store.seed}, {@code -Dpapa.store.corruptions=N}).
 */
class CorruptStoreTest {
    private static final long SEED = Long.getLong("papa.store.seed", System.nanoTime());
    private static final int CORRUPTIONS = Integer.getInteger("papa.store.corruptions", 3000);
    private static final int PAGE = SharedMapping.PAGE;
    private static final NumberedItems ITEMS = new NumberedItems(400);

    /** The bytes of a store with items queued: wrapped around its ring, a filler, a closed item when asked. */
    private static byte[] template(boolean closed) throws Exception {
        try (Fd fd = Memfd.create("store-template");
             OutputStore s = OutputStore.create(fd.get(), new StoreHeader(PAGE, 2 * PAGE, 2000, 400))) {
            ByteBuffer read = ByteBuffer.allocateDirect(512);
            for (int i = 0; i < 40; i++) {
                ITEMS.append(s, s.endSeq(), read);
                if (i % 3 == 0) s.acknowledge(s.headSeq() + 1);
            }
            if (closed) s.appendClosed(7, -9);
            assertTrue(s.size() > 3, "items queued in the template");
            byte[] image = new byte[(int) s.fileSize()];
            try (SharedMapping m = SharedMapping.map(fd.get(), s.fileSize())) {
                m.buffer().get(0, image);
            }
            return image;
        }
    }

    /** A memfd as the store's maker leaves it (sized, sealed against shrinking), holding {@code image}. */
    private static Fd storeOf(byte[] image) throws Exception {
        Fd fd = Memfd.create("store-corrupt");
        Memfd.truncate(fd.get(), image.length);
        Memfd.sealShrink(fd.get());
        Memfd.writeAt(fd.get(), image, 0);
        return fd;
    }

    @Test
    void garbageIsRefusedOrReadNeverAnythingElse() throws Exception {
        byte[][] templates = {template(false), template(true)};
        int[] outcomes = new int[2];
        assertTimeoutPreemptively(Duration.ofSeconds(120), () -> {
            for (int i = 0; i < CORRUPTIONS; i++) {
                long seed = SEED + i;
                Random rnd = new Random(seed);
                byte[] image = templates[rnd.nextInt(2)].clone();
                String how = corrupt(image, rnd);
                try (Fd fd = storeOf(image)) {
                    outcomes[openAndUse(fd) ? 0 : 1]++;
                } catch (Throwable e) {
                    throw new AssertionError("seed " + seed + " (-Dpapa.store.seed=" + seed + " -Dpapa.store.corruptions=1), " + how + ": " + e, e);
                }
            }
        });
        System.out.println("CorruptStoreTest: " + CORRUPTIONS + " corruptions, seed " + SEED + ": " + outcomes[0] + " opened, " + outcomes[1] + " refused");
        if (CORRUPTIONS >= 100) assertTrue(outcomes[0] > CORRUPTIONS / 20 && outcomes[1] > CORRUPTIONS / 4, "opened " + outcomes[0] + ", refused " + outcomes[1]);
    }

    /** True when the store opened, and then worked: read whole, appended to, acknowledged, reopened. */
    private static boolean openAndUse(Fd fd) throws Exception {
        OutputStore s;
        try {
            s = OutputStore.open(fd.get());
        } catch (CorruptStoreException e) {
            assertTrue(e.getMessage().startsWith("output store unreadable: "), e.getMessage());
            return false;
        }
        long end;
        try (s) {
            for (long seq = s.headSeq(); seq < s.endSeq(); seq++) {
                s.kind(seq);
                s.timeMicros(seq);
                ByteBuffer c = s.chunk(seq);
                while (c.hasRemaining()) c.get();
            }
            if (!s.isClosed()) {
                ByteBuffer read = ByteBuffer.allocateDirect(512);
                for (int i = 0; i < 30; i++) ITEMS.append(s, s.endSeq(), read);
            }
            s.acknowledge(s.headSeq() + 2);
            end = s.endSeq();
        }
        try (OutputStore again = OutputStore.open(fd.get())) {
            assertEquals(end, again.endSeq(), "what was written after opening is read again");
        }
        return true;
    }

    /** Damages the image one of several ways; says how. */
    private static String corrupt(byte[] image, Random rnd) {
        int mode = rnd.nextInt(6);
        switch (mode) {
            case 0 -> { // bit flips in the header's fields and records
                int n = 1 + rnd.nextInt(4);
                for (int k = 0; k < n; k++) image[rnd.nextInt(192)] ^= (byte) (1 << rnd.nextInt(8));
                return n + " bit flips in the header";
            }
            case 1 -> { // one field or record word replaced by an extreme or random value
                long[] values = {-1, 0, 1, 7, 8, 16, PAGE, 2L * PAGE, 2L * PAGE - 8, 2L * PAGE + 8, Integer.MAX_VALUE, Long.MAX_VALUE, Long.MIN_VALUE, rnd.nextLong()};
                int word = rnd.nextInt(24);
                long v = values[rnd.nextInt(values.length)];
                ByteBuffer.wrap(image).order(java.nio.ByteOrder.nativeOrder()).putLong(word * 8, v);
                return "header word " + word + " = " + v;
            }
            case 2 -> { // random bytes anywhere in the header's first 192
                int at = rnd.nextInt(192), n = 1 + rnd.nextInt(24);
                for (int k = 0; k < n && at + k < image.length; k++) image[at + k] = (byte) rnd.nextInt();
                return n + " random bytes at " + at;
            }
            case 3 -> { // bit flips in the ring (item headers, chunks, filler)
                int n = 1 + rnd.nextInt(6);
                for (int k = 0; k < n; k++) image[PAGE + rnd.nextInt(image.length - PAGE)] ^= (byte) (1 << rnd.nextInt(8));
                return n + " bit flips in the ring";
            }
            case 4 -> { // a run of random bytes in the ring
                int at = PAGE + rnd.nextInt(image.length - PAGE), n = 1 + rnd.nextInt(64);
                for (int k = 0; k < n && at + k < image.length; k++) image[at + k] = (byte) rnd.nextInt();
                return n + " random bytes at " + at;
            }
            default -> { // everything random
                rnd.nextBytes(image);
                if (rnd.nextBoolean()) ByteBuffer.wrap(image).order(java.nio.ByteOrder.nativeOrder()).putLong(0, StoreLayout.MAGIC);
                return "all random";
            }
        }
    }

    @Test
    void aFileThatIsNoSealedStoreOfItsSizeIsRefused() throws Exception {
        byte[] image = template(false);
        try (Fd unsealed = Memfd.create("store-unsealed")) {
            Memfd.writeAt(unsealed.get(), image, 0);
            assertThrows(CorruptStoreException.class, () -> OutputStore.open(unsealed.get()));
        }
        try (Fd empty = Memfd.create("store-empty")) {
            Memfd.sealShrink(empty.get());
            assertThrows(CorruptStoreException.class, () -> OutputStore.open(empty.get()));
        }
        try (Fd grown = storeOf(image)) {
            Memfd.truncate(grown.get(), image.length + PAGE);
            assertThrows(CorruptStoreException.class, () -> OutputStore.open(grown.get()));
        }
        try (Fd odd = storeOf(image)) {
            Memfd.truncate(odd.get(), image.length + 1);
            assertThrows(CorruptStoreException.class, () -> OutputStore.open(odd.get()));
        }
        try (Fd intact = storeOf(image); OutputStore s = OutputStore.open(intact.get())) {
            assertEquals(null, ITEMS.check(s));
        }
    }
}
