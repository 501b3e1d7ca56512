package dev.papa.daemon.hardening;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cycles of make process → watch → ack → exit against a daemon in its own JVM: thread count,
 * descriptor count and RSS stay flat. CI runs 1,000 cycles; the long run is
 * {@code -Dpapa.hardening.cycles=10000} (see docs/SECURITY.md).
 */
@Timeout(600)
class CycleTest {
    static final int CYCLES = Integer.getInteger("papa.hardening.cycles", 1000);

    @Test
    void resourcesStayFlat() throws Exception {
        int warmup = Math.min(300, CYCLES / 2);
        try (DaemonJvm d = DaemonJvm.start(List.of());
             Conn c = Conn.open(d.port)) {
            long pid = d.pid();
            cycles(c, 0, warmup);
            long heap0 = liveHeapKb(c, pid, warmup); // first: jcmd adds the attach listener (a thread, a socket)
            int fds0 = ProcStats.fdCount(pid);
            long threads0 = ProcStats.threads(pid);
            long rss0 = ProcStats.rssKb(pid);
            cycles(c, warmup, CYCLES);
            int fds = ProcStats.fdCount(pid);
            long threads = ProcStats.threads(pid);
            long rss = ProcStats.rssKb(pid);
            long heap = liveHeapKb(c, pid, CYCLES);
            System.out.printf("cycles: %d; fds %d -> %d, threads %d -> %d, live heap %d -> %d KiB, RSS %d -> %d KiB%n",
                    CYCLES, fds0, fds, threads0, threads, heap0, heap, rss0, rss);
            assertEquals(fds0, fds, "descriptors");
            // the JIT's compiler threads come and go; the daemon itself starts none per cycle
            assertTrue(threads <= threads0 + 2, "threads " + threads0 + " -> " + threads);
            // live heap: nothing kept per cycle (a leaked table entry costs well over 100 bytes)
            long cycles = CYCLES - warmup;
            assertTrue(heap - heap0 < 1024 + cycles / 10, "live heap grew by " + (heap - heap0) + " KiB over " + cycles + " cycles");
            // RSS: the heap (-Xmx256m) may expand towards its maximum before a GC gives memory back
            assertTrue(rss - rss0 < 256 * 1024, "RSS grew by " + (rss - rss0) + " KiB");
            assertEquals(List.of(), ProcStats.zombieChildren(pid));
            assertEquals("", c.result("list processes"));
        }
    }

    /**
     * Live heap after a full GC. JNA frees the native memory of a spawn's argument arrays
     * (com.sun.jna.Memory) from the allocating thread once a GC found them unreachable, i.e. at
     * that thread's next allocation: so collect, run one more cycle (the loop thread cleans
     * up), and collect again, or the not-yet-cleaned references would count as a leak.
     */
    private static long liveHeapKb(Conn c, long pid, int name) throws Exception {
        ProcStats.heapUsedAfterGcKb(pid);
        cycles(c, 1_000_000 + name, 1_000_001 + name);
        return ProcStats.heapUsedAfterGcKb(pid);
    }

    private static void cycles(Conn c, int from, int to) throws Exception {
        for (int i = from; i < to; i++) {
            c.send("make process cyc" + i + " watch=1 /bin/echo line " + i + "\n");
            String line = c.readLine();
            assertTrue(line.startsWith("cyc" + i + " pid="), line);
            StringBuilder out = new StringBuilder();
            boolean closed = false;
            while (!closed) {
                for (Conn.Item it : c.readBatch()) {
                    if (it.kind().equals("closed")) {
                        assertEquals(0, it.exitStatus());
                        closed = true;
                    } else {
                        out.append(new String(it.data()));
                    }
                }
                c.send("\n");
            }
            assertEquals("line " + i + "\n", out.toString());
            assertEquals("Nothing left to watch\n> ", c.readUntilPrompt());
        }
    }
}
