package dev.papa.daemon.hardening;

import dev.papa.daemon.DaemonMain;
import dev.papa.daemon.buffer.OutputBudget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory bounds of docs/SECURITY.md on daemons in their own small-heap JVMs: the output
 * budget holds with nobody watching, a real out-of-heap error ends the daemon non-zero after
 * saying why, and pipelined requests cannot make a session hold more than its bound.
 */
@Timeout(240)
class BudgetTest {
    private static final Pattern PID = Pattern.compile(" pid=(\\d+) ");
    /** Each writer: the numbers 1..N, one a line (about 54 MB for N = 7,000,000). */
    private static final int LAST = 7_000_000;

    @Test
    void aSmallHeapSurvivesUnwatchedWritersAndKeepsTheNewestOutput() throws Exception {
        List<Long> pids = new ArrayList<>();
        try (DaemonJvm d = DaemonJvm.start(List.of(), List.of("-Xmx64m")); Conn c = Conn.open(d.port)) {
            String[] names = {"w1", "w2", "w3"}; // 160 MB together: more than twice the heap
            for (String n : names) pids.add(pid(c.result("make process " + n + " bufsize=1g /usr/bin/seq 1 " + LAST)));
            for (String n : names) awaitExit(c, n);
            assertTrue(d.process.isAlive(), "daemon died: " + d.logText());

            c.send("watch processes w*\n");
            assertEquals("Watching 3", c.readLine());
            List<Conn.Item> batch = c.readBatch();
            long cost = 0;
            Map<String, ByteArrayOutputStream> data = new HashMap<>();
            Map<String, Integer> status = new HashMap<>();
            for (Conn.Item item : batch) {
                if (item.kind().equals("closed")) {
                    status.put(item.name(), item.exitStatus());
                } else {
                    cost += OutputBudget.chunkCost(item.data().length);
                    data.computeIfAbsent(item.name(), k -> new ByteArrayOutputStream()).write(item.data());
                }
            }
            long budget = 32L << 20; // at most half of -Xmx64m
            assertTrue(cost <= budget, "queued output cost " + cost + " > " + budget);
            for (String n : names) {
                assertEquals(0, status.get(n), n + " exit delivered");
                int[] range = contiguousTail(data.get(n).toString(StandardCharsets.US_ASCII));
                assertEquals(LAST, range[1], n + " keeps its newest line");
                assertTrue(range[0] > 1, n + " lost its oldest lines first");
                // the costliest queue is evicted first: equal writers keep comparable shares
                assertTrue(data.get(n).size() > budget / 5, n + " kept " + data.get(n).size());
            }
            c.send("\n");
            assertEquals("Nothing left to watch", c.readLine());
            assertTrue(d.process.isAlive(), "daemon died: " + d.logText());
        } finally {
            pids.forEach(BudgetTest::kill);
        }
    }

    /** A budget above the heap (an operator's mistake) meets a real OutOfMemoryError in papa-loop. */
    @Test
    void outOfHeapInTheLoopIsLoggedAndExitsNonZero() throws Exception {
        assertEquals(DaemonMain.EXIT_CRASHED, runOutOfHeap(List.of("-Xmx64m"), "event loop died: java.lang.OutOfMemoryError"));
    }

    /** The launcher's and the unit's flag: the JVM itself exits 3 at the first OutOfMemoryError. */
    @Test
    void exitOnOutOfMemoryErrorExitsThree() throws Exception {
        assertEquals(3, runOutOfHeap(List.of("-Xmx64m", "-XX:+ExitOnOutOfMemoryError"), "Terminating due to java.lang.OutOfMemoryError"));
    }

    private static int runOutOfHeap(List<String> jvm, String logged) throws Exception {
        List<Long> pids = new ArrayList<>();
        try (DaemonJvm d = DaemonJvm.start(List.of(), jvm, "--output-budget", "1g")) {
            try (Conn c = Conn.open(d.port)) {
                for (String n : new String[] {"w1", "w2", "w3"}) {
                    pids.add(pid(c.result("make process " + n + " bufsize=1g /usr/bin/seq 1 " + LAST)));
                }
                assertTrue(d.process.waitFor(180, TimeUnit.SECONDS), "the daemon did not die of its heap");
            }
            String log = d.logText();
            assertTrue(log.contains(logged), log);
            return d.process.exitValue();
        } finally {
            pids.forEach(BudgetTest::kill);
        }
    }

    /**
     * 4,096 pipelined {@code l v} in one write, with a 64 KB value and a client that reads
     * nothing: the daemon parses only until the session pauses, so its live heap grows by at
     * most the session bound (1 MiB of replies + one reply + one unparsed read); then every reply
     * arrives, in order.
     */
    @Test
    void pipelinedRequestsCannotAmplifyMemory() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of()); Conn c = Conn.open(d.port)) {
            String value = "x".repeat(65536 - "set v ".length());
            assertEquals("", c.result("set v " + value));
            long heapBefore = ProcStats.heapUsedAfterGcKb(d.pid());
            long rssBefore = ProcStats.rssKb(d.pid());

            int requests = 4096;
            c.sendBytes("l v\n".repeat(requests).getBytes(StandardCharsets.US_ASCII));
            long peak = 0;
            long previous = -1;
            for (int sample = 0; sample < 8; sample++) { // until two samples agree: the daemon stopped parsing
                long now = ProcStats.heapUsedAfterGcKb(d.pid());
                peak = Math.max(peak, now);
                if (previous >= 0 && Math.abs(now - previous) < 64) break;
                previous = now;
            }
            long growthKb = peak - heapBefore;
            long rssGrowthKb = ProcStats.rssKb(d.pid()) - rssBefore;
            System.out.println("pipelined l v: live heap +" + growthKb + " KiB, RSS +" + rssGrowthKb + " KiB");
            long boundKb = (1 << 10) + 64 + 16 + 64 + 1024; // docs/SECURITY.md, plus 1 MiB for the JVM's own noise
            assertTrue(growthKb <= boundKb, "live heap grew " + growthKb + " KiB");
            assertTrue(rssGrowthKb < 64 << 10, "RSS grew " + rssGrowthKb + " KiB");

            byte[] expected = ("v " + value + "\n> ").getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < requests; i++) assertArrayEquals(expected, c.readN(expected.length), "reply " + i);
            c.send("quit\n");
            assertEquals("ok\n", c.readToEof());
        }
    }

    /**
     * 100 sessions each pipelining 1,024 {@code l v} (64 KB value) and reading nothing: alone each
     * could hold 1 MiB of replies (100 MiB together); all together they stop at the server's
     * bound (16 MiB on this 256 MiB heap) plus about one reply each.
     */
    @Test
    void manyPipeliningSessionsCannotAddUp() throws Exception {
        int sessions = 100;
        try (DaemonJvm d = DaemonJvm.start(List.of()); Conn c = Conn.open(d.port)) {
            String value = "x".repeat(65536 - "set v ".length());
            assertEquals("", c.result("set v " + value));
            long heapBefore = ProcStats.heapUsedAfterGcKb(d.pid());
            List<Conn> slow = new ArrayList<>();
            try {
                byte[] requests = "l v\n".repeat(1024).getBytes(StandardCharsets.US_ASCII);
                for (int i = 0; i < sessions; i++) {
                    Conn s = Conn.open(d.port);
                    slow.add(s);
                    s.sendBytes(requests);
                }
                long peak = 0;
                long previous = -1;
                for (int sample = 0; sample < 8; sample++) { // until two samples agree
                    long now = ProcStats.heapUsedAfterGcKb(d.pid());
                    peak = Math.max(peak, now);
                    if (previous >= 0 && Math.abs(now - previous) < 256) break;
                    previous = now;
                }
                long growthKb = peak - heapBefore;
                System.out.println(sessions + " pipelining sessions: live heap +" + growthKb + " KiB");
                long boundKb = (16 << 10) + sessions * (64 + 16 + 16) + 2048; // docs/SECURITY.md, plus 2 MiB of noise
                assertTrue(growthKb <= boundKb, "live heap grew " + growthKb + " KiB (bound " + boundKb + ")");
                // a reader gets its replies in order; the daemon serves everyone else meanwhile
                byte[] expected = ("v " + value + "\n> ").getBytes(StandardCharsets.US_ASCII);
                for (int i = 0; i < 64; i++) assertArrayEquals(expected, slow.get(0).readN(expected.length), "reply " + i);
                assertTrue(c.result("help").contains("list"));
            } finally {
                for (Conn s : slow) s.abort();
            }
            assertEquals("", c.result("set w 1"));
        }
    }

    /** The first and last number of the consecutive lines {@code text} ends with (its first line may be cut). */
    private static int[] contiguousTail(String text) {
        List<String> lines = new ArrayList<>(Arrays.asList(text.split("\n")));
        lines.remove(0); // the oldest chunk kept may start mid-line
        int first = Integer.parseInt(lines.get(0));
        for (int i = 1; i < lines.size(); i++) assertEquals(first + i, Integer.parseInt(lines.get(i)), "line " + i);
        return new int[] {first, first + lines.size() - 1};
    }

    private static long pid(String line) {
        Matcher m = PID.matcher(line);
        assertTrue(m.find(), line);
        return Long.parseLong(m.group(1));
    }

    private static void awaitExit(Conn c, String name) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!c.result("list processes " + name).contains("running=False")) {
            assertTrue(System.nanoTime() < deadline, name + " did not exit");
            Thread.sleep(50); // polling the daemon's own answer
        }
    }

    private static void kill(long pid) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
}
