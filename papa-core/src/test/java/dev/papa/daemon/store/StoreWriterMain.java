package dev.papa.daemon.store;

import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;

import java.nio.ByteBuffer;
import java.util.Random;

/**
 * The crash test's writer, a JVM of its own: opens the store at {@code /proc/PID/fd/N}, says
 * "open HEAD END" on stdout, then appends {@link NumberedItems} as fast as it can, acknowledging,
 * marking sent and trimming at random, until it is killed.
 * Arguments: the store's path, the largest item, a seed.
 */
public final class StoreWriterMain {
    private StoreWriterMain() {}

    public static void main(String[] args) throws Exception {
        NumberedItems items = new NumberedItems(Integer.parseInt(args[1]));
        Random rnd = new Random(Long.parseLong(args[2]));
        ByteBuffer read = ByteBuffer.allocateDirect(65536);
        try (Fd fd = Memfd.reopen(args[0]); OutputStore s = OutputStore.open(fd.get())) {
            System.out.println("open " + s.headSeq() + " " + s.endSeq());
            System.out.flush();
            while (true) {
                items.append(s, s.endSeq(), read);
                int r = rnd.nextInt(100);
                if (r < 20) s.acknowledge(s.endSeq() - rnd.nextInt(8));
                else if (r < 30) s.markSent(s.endSeq() - rnd.nextInt(4));
                else if (r == 30) s.trim();
            }
        }
    }
}
