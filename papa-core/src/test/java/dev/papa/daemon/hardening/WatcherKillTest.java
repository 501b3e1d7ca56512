package dev.papa.daemon.hardening;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A child writes numbered lines while its watcher is killed (connection reset, or closed) at
 * random points: while waiting for a batch, in the middle of one, after a batch before its
 * acknowledgement, and right after sending the acknowledgement. A new watcher attaches each
 * time. The union of what was acknowledged must be every line exactly once, in order, then
 * the exit. bufsize is 1g, so eviction never applies.
 *
 * <p>An acknowledgement is only known to have arrived once something follows it (the next
 * batch, or "Nothing left to watch"); one sent just before a kill is settled by the next
 * watcher: if its first batch starts with the same item, the acknowledgement was lost with
 * the connection (and the items come again), otherwise it counted.
 *
 * <p>CI runs 100 kills; {@code -Dpapa.hardening.kills=N} runs more (e.g. 5000) with a longer
 * writer.
 */
@Timeout(120)
class WatcherKillTest {
    static final int KILLS = Integer.getInteger("papa.hardening.kills", 100);
    static final long SEED = Long.getLong("papa.hardening.seed", 20260101L);

    static final String WRITER = String.join("\n",
            "import os, sys, time",
            "stop = sys.argv[1]; pause = float(sys.argv[2]); i = 0",
            "while True:",
            "    sys.stdout.write('%d\\n' % i)",
            "    i += 1",
            "    if i % 20 == 0:",
            "        sys.stdout.flush()",
            "        if os.path.exists(stop): break",
            "        time.sleep(pause)",
            "sys.stdout.write('end %d\\n' % i)",
            "");

    @Test
    void killedWatchersLoseNothingAndDuplicateNothing() throws Exception {
        Random rnd = new Random(SEED);
        ByteArrayOutputStream acked = new ByteArrayOutputStream();
        int closedAcked = 0;
        java.nio.file.Path script = java.nio.file.Files.createTempFile("papa-writer", ".py");
        java.nio.file.Files.writeString(script, WRITER);
        java.nio.file.Path stop = java.nio.file.Files.createTempDirectory("papa-stop").resolve("stop");
        try (Daemon d = Daemon.start(new DaemonConfig().port(0))) {
            try (Conn c = Conn.open(d.port())) {
                String made = c.result("make process w bufsize=1g stderr=0 /usr/bin/python3 " + script + " " + stop + " 0.004");
                assertTrue(made.startsWith("w pid="), made);
            }
            int kills = 0;
            List<Conn.Item> pending = null;   // acknowledged, not yet known to have arrived
            boolean pendingSameConn = false;
            boolean done = false;
            while (!done) {
                Conn c = Conn.open(d.port());
                c.send("watch processes w\n");
                String first = c.readLine();
                if (first.startsWith("Error: w not found")) {
                    // the process left the table: the last acknowledgement (with the exit) arrived
                    assertNotNull(pending, "process gone without its exit acknowledged");
                    closedAcked += settle(acked, pending);
                    c.close();
                    break;
                }
                assertEquals("Watching 1", first);
                pendingSameConn = false;
                while (true) {
                    if (kills == KILLS && !java.nio.file.Files.exists(stop)) java.nio.file.Files.createFile(stop);
                    int action = kills < KILLS ? rnd.nextInt(8) : 7;
                    if (action == 0) { // kill while waiting for (or receiving) the next batch
                        kill(c, rnd);
                        kills++;
                        break;
                    }
                    if (action == 1) { // kill in the middle of a batch
                        c.read();
                        int avail = c.available();
                        if (avail > 0) c.readN(rnd.nextInt(avail + 1));
                        kill(c, rnd);
                        kills++;
                        break;
                    }
                    List<Conn.Item> batch = c.readBatch();
                    assertTrue(!batch.isEmpty());
                    if (pending != null) {
                        boolean arrived = pendingSameConn || !sameItem(pending.get(0), batch.get(0));
                        if (arrived) closedAcked += settle(acked, pending);
                        pending = null;
                    }
                    if (action == 2) { // kill after a batch, before acknowledging it
                        kill(c, rnd);
                        kills++;
                        break;
                    }
                    c.send("\n");
                    pending = batch;
                    pendingSameConn = true;
                    if (action == 3) { // kill right after the acknowledgement
                        pendingSameConn = false;
                        kill(c, rnd);
                        kills++;
                        break;
                    }
                    if (batch.get(batch.size() - 1).kind().equals("closed")) {
                        assertEquals("Nothing left to watch", c.readLine());
                        closedAcked += settle(acked, pending);
                        pending = null;
                        c.close();
                        done = true;
                        break;
                    }
                }
            }
            assertEquals(KILLS, kills);
            java.nio.file.Files.deleteIfExists(script);
            java.nio.file.Files.deleteIfExists(stop);
            java.nio.file.Files.deleteIfExists(stop.getParent());
            try (Conn c = Conn.open(d.port())) {
                assertEquals("", c.result("list processes"));
            }
        }
        String got = acked.toString(StandardCharsets.US_ASCII);
        int endAt = got.lastIndexOf("end ");
        assertTrue(endAt >= 0 && got.endsWith("\n"), "the writer's last line was not acknowledged");
        int lines = Integer.parseInt(got.substring(endAt + 4, got.length() - 1));
        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < lines; i++) expected.append(i).append('\n');
        expected.append("end ").append(lines).append('\n');
        if (!got.equals(expected.toString())) {
            int at = 0;
            while (at < got.length() && at < expected.length() && got.charAt(at) == expected.charAt(at)) at++;
            throw new AssertionError("acknowledged output differs at byte " + at + " of " + expected.length()
                    + " (got " + got.length() + "): ..." + got.substring(Math.max(0, at - 40), Math.min(got.length(), at + 40)));
        }
        assertEquals(1, closedAcked, "the exit must be acknowledged exactly once");
        System.out.printf("watcher kills: %d kills, %d lines acknowledged exactly once in order%n", KILLS, lines);
    }

    private static int settle(ByteArrayOutputStream acked, List<Conn.Item> batch) {
        int closed = 0;
        for (Conn.Item it : batch) {
            if (it.kind().equals("closed")) {
                assertEquals(0, it.exitStatus());
                closed++;
            } else {
                assertEquals("out", it.kind());
                acked.writeBytes(it.data());
            }
        }
        return closed;
    }

    private static boolean sameItem(Conn.Item a, Conn.Item b) {
        return a.kind().equals(b.kind()) && a.time().equals(b.time())
                && Arrays.equals(a.data(), b.data()) && a.exitStatus() == b.exitStatus();
    }

    /** Reset (as a killed process's socket) or an orderly close, at random. */
    private static void kill(Conn c, Random rnd) throws Exception {
        if (rnd.nextBoolean()) c.abort();
        else c.close();
    }
}
