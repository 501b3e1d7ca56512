package dev.papa.daemon.hardening;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cycles of make process → watch → ack → exit against a daemon in its own JVM: thread count,
 * descriptor count and the live heap (per class) stay flat. CI runs 1,000 cycles; the long run is
 * {@code -Dpapa.hardening.cycles=10000} (see docs/SECURITY.md).
 */
@Timeout(600)
class CycleTest {
    static final int CYCLES = Integer.getInteger("papa.hardening.cycles", 1000);

    @Test
    void resourcesStayFlat() throws Exception {
        int warmup = Math.min(300, CYCLES / 2);
        // a fixed, pre-touched heap: RSS then grows only with native memory
        try (DaemonJvm d = DaemonJvm.start(List.of(), List.of("-Xms64m", "-Xmx64m", "-XX:+AlwaysPreTouch"));
             Conn c = Conn.open(d.port)) {
            long pid = d.pid();
            cycles(c, 0, warmup);
            java.util.Map<String, Long> heap0 = liveHeap(c, pid, warmup); // first: jcmd adds the attach listener (a thread, a socket)
            int fds0 = ProcStats.fdCount(pid);
            long threads0 = ProcStats.threads(pid);
            long rss0 = ProcStats.rssKb(pid);
            cycles(c, warmup, CYCLES);
            int fds = ProcStats.fdCount(pid);
            long threads = ProcStats.threads(pid);
            long rss = ProcStats.rssKb(pid);
            java.util.Map<String, Long> heap = liveHeap(c, pid, CYCLES);
            long cycles = CYCLES - warmup;
            System.out.printf("cycles: %d; fds %d -> %d, threads %d -> %d, live heap %d -> %d bytes, RSS %d -> %d KiB%n",
                    CYCLES, fds0, fds, threads0, threads, heap0.get(""), heap.get(""), rss0, rss);
            assertEquals(fds0, fds, "descriptors");
            // the JIT's compiler threads come and go; the daemon itself starts none per cycle
            assertTrue(threads <= threads0 + 2, "threads " + threads0 + " -> " + threads);
            // live heap: nothing kept per cycle. A leak of one table entry per cycle leaves at least
            // one more instance of some class per cycle, and at least 16 bytes (the smallest object)
            for (var e : heap.entrySet()) {
                if (e.getKey().isEmpty()) continue;
                long grew = e.getValue() - heap0.getOrDefault(e.getKey(), 0L);
                assertTrue(grew < cycles / 4, grew + " more live " + e.getKey() + " after " + cycles + " cycles");
            }
            long grewBytes = heap.get("") - heap0.get("");
            assertTrue(grewBytes < cycles * 16L, "live heap grew by " + grewBytes + " bytes over " + cycles + " cycles");
            // RSS, with the heap fixed: native memory (JNA buffers, pipes, malloc) kept per cycle.
            // It moves by up to about 1 MiB (code cache, malloc arenas; 936 KiB seen beside a second
            // build), so this catches a native leak of 4 KiB a cycle (a page per spawn), not less.
            assertTrue(rss - rss0 < 4L * cycles, "RSS grew by " + (rss - rss0) + " KiB over " + cycles + " cycles");
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
    private static java.util.Map<String, Long> liveHeap(Conn c, long pid, int name) throws Exception {
        ProcStats.liveHeapAfterGc(pid);
        cycles(c, 1_000_000 + name, 1_000_001 + name);
        return ProcStats.liveHeapAfterGc(pid);
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
