package dev.papa.daemon;

import static dev.papa.daemon.ProtocolClient.closedItem;
import static dev.papa.daemon.ProtocolClient.err;
import static dev.papa.daemon.ProtocolClient.out;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.ProtocolClient.Item;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The watch protocol: batches, acknowledgement, q, several watchers, disconnects, eviction. */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class WatchTest extends DaemonTestBase {

    /** Three lines and one on stderr; before each next write the child waits on the next fifo of {@code go}. */
    static String threeLines(List<Path> go) {
        return ("printf 'line1\\n'; read x < GO0; printf 'line2\\n'; read x < GO1; printf 'line3\\n'; "
                + "read x < GO2; printf 'done\\n' >&2\n")
                .replace("GO0", go.get(0).toString()).replace("GO1", go.get(1).toString()).replace("GO2", go.get(2).toString());
    }

    List<Path> fifos(String name, int n) throws Exception {
        List<Path> f = new ArrayList<>();
        for (int i = 0; i < n; i++) f.add(fifo(name + i));
        return f;
    }

    @Test
    void nothingToWatch() throws Exception {
        ProtocolClient c = connect();
        assertEquals("Error: Nothing to watch\n> ", c.send("watch processes"));
        assertEquals("Error: Nothing to watch\n> ", c.send("watch processes *"));
        assertEquals("Error: Nothing to watch\n> ", c.send("watch processes zz*"));
        assertEquals("Error: nope not found\n> ", c.send("watch processes nope"));
        assertEquals("\n> ", c.send("list values"));
    }

    @Test
    void exactBatchBytes() throws Exception {
        ProtocolClient c = connect();
        make(c, "e /bin/echo hello");
        awaitExited(c, "e");
        c.writeLine("watch processes e");
        String raw = c.readUntil("] ");
        assertTrue(raw.matches("Watching 1\nout:e:\\d+\\.\\d+:6\nhello\n\nclosed:e:\\d+\\.\\d+:0\n\\] "), raw);
        c.writeLine("");
        assertEquals("Nothing left to watch\n> ", c.readReply());
        assertEquals("\n> ", c.send("list processes"));
    }

    @Test
    void liveBatchesUntilNothingLeft() throws Exception {
        ProtocolClient c = connect();
        List<Path> go = fifos("go", 3);
        Path sh = script("three.sh", threeLines(go));
        double before = System.currentTimeMillis() / 1000.0;
        make(c, "w3 /bin/sh " + sh);
        c.writeLine("watch processes w3");
        assertEquals("Watching 1", c.readLine());
        List<Item> items = new ArrayList<>();
        List<String> batches = new ArrayList<>();
        while (items.stream().noneMatch(i -> i.kind().equals("closed"))) {
            List<Item> batch = c.readBatch();
            items.addAll(batch);
            batches.add(out(batch));
            c.writeLine(""); // acknowledge
            if (batches.size() <= 3 && !out(batch).isEmpty()) release(go.get(batches.size() - 1)); // the next line only after this one arrived
        }
        assertEquals("Nothing left to watch\n> ", c.readReply());
        double after = System.currentTimeMillis() / 1000.0;
        // each line was written only after the previous one was delivered: one batch each, live
        assertEquals(List.of("line1\n", "line2\n", "line3\n"), batches.subList(0, 3), items.toString());
        assertEquals("line1\nline2\nline3\n", out(items));
        assertEquals("done\n", err(items));
        assertEquals(0, closedItem(items, "w3").status());
        assertEquals("closed", items.get(items.size() - 1).kind());
        double last = 0;
        for (Item i : items) {
            assertEquals("w3", i.name());
            assertTrue(i.time() >= last, "timestamps in order: " + items);
            assertTrue(i.time() >= before - 5 && i.time() <= after + 5, "timestamp is now-ish: " + i);
            last = i.time();
        }
        assertEquals("\n> ", c.send("list processes"));
        assertEquals("\n> ", c.send("list values")); // back in command mode
    }

    @Test
    void evictionKeepsOnlyWhatFits() throws Exception {
        ProtocolClient c = connect();
        List<Path> go = fifos("go", 3);
        Path sh = script("three.sh", threeLines(go));
        make(c, "ev bufsize=14 /bin/sh " + sh);
        String[] lines = {"line1\n", "line2\n", "line3\n"}; // three chunks of 6 bytes
        for (int i = 0; i < 3; i++) {
            awaitCapturedTail("ev", lines[i]);
            release(go.get(i));
        }
        awaitExited(c, "ev");
        List<Item> items = watchAll(c, "ev", 1);
        assertEquals(List.of("out", "err", "closed"), items.stream().map(Item::kind).collect(Collectors.toList()),
                items.toString());
        assertEquals("line3\n", items.get(0).text());
        assertEquals("done\n", items.get(1).text());
        assertEquals(0, items.get(2).status());
    }

    @Test
    void qAcknowledgesAndStops() throws Exception {
        ProtocolClient c = connect();
        Proc p = make(c, "q1 /bin/sh -c " + esc("echo one; exec /bin/sleep 30"));
        c.writeLine("watch processes q1");
        assertEquals("Watching 1", c.readLine());
        List<Item> first = c.readBatch();
        assertEquals("one\n", out(first));
        c.writeLine("q");
        assertEquals("Stopped watching\n> ", c.readReply());
        Proc listed = parseProcess(c.ok("list processes"));
        assertEquals(p.pid(), listed.pid());
        assertTrue(listed.running());
        // watch again: what was acknowledged is gone; the kill shows up as -9
        c.writeLine("w p q1");
        assertEquals("Watching 1", c.readLine());
        awaitExec(p.pid(), "sleep");
        ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroyForcibly);
        List<Item> rest = new ArrayList<>();
        while (rest.stream().noneMatch(i -> i.kind().equals("closed"))) {
            rest.addAll(c.readBatch());
            c.writeLine("");
        }
        assertEquals(1, rest.size(), rest.toString());
        assertEquals(-9, closedItem(rest, "q1").status());
        assertEquals("Nothing left to watch\n> ", c.readReply());
        assertEquals("\n> ", c.send("list processes"));
    }

    @Test
    void onlyTheItemsOfTheAcknowledgedBatchAreRemoved() throws Exception {
        ProtocolClient a = connect();
        make(a, "w working_dir=" + tmp + " /bin/sh -c "
                + esc("echo a; while [ ! -e go ]; do sleep 0.05; done; echo b; exec /bin/sleep 30"));
        a.writeLine("watch processes w");
        assertEquals("Watching 1", a.readLine());
        List<Item> batch1 = a.readBatch();
        assertEquals("a\n", out(batch1));
        assertEquals(1, batch1.size());
        Files.writeString(tmp.resolve("go"), "");
        // wait (by looking, never acknowledging) until b is queued
        long deadline = System.currentTimeMillis() + 10_000;
        while (true) {
            try (ProtocolClient b = ProtocolClient.tcp(port)) {
                b.writeLine("watch processes w");
                assertEquals("Watching 1", b.readLine());
                List<Item> seen = b.readBatch();
                if (out(seen).equals("a\nb\n")) break;
                assertEquals("a\n", out(seen));
            }
            assertTrue(System.currentTimeMillis() < deadline, "b never showed up");
            Thread.sleep(20);
        }
        a.writeLine("");
        List<Item> batch2 = a.readBatch();
        assertEquals(1, batch2.size(), batch2.toString());
        assertEquals("b\n", out(batch2));
        a.writeLine("q");
        assertEquals("Stopped watching\n> ", a.readReply());
    }

    @Test
    void disconnectBeforeAckLeavesEverythingForTheNextWatcher() throws Exception {
        ProtocolClient c = connect();
        make(c, "d /bin/sh -c " + esc("echo x; echo y >&2"));
        Proc idle = make(c, "idle /bin/sleep 30");
        awaitExited(c, "d");
        List<Item> first;
        try (ProtocolClient a = ProtocolClient.tcp(port)) {
            a.writeLine("watch processes d");
            assertEquals("Watching 1", a.readLine());
            first = a.readBatch();
        } // gone without acknowledging
        // a watcher that leaves while waiting for data does no harm either
        try (ProtocolClient w = ProtocolClient.tcp(port)) {
            w.writeLine("watch processes idle");
            assertEquals("Watching 1", w.readLine());
        }
        try (ProtocolClient b = ProtocolClient.tcp(port)) {
            b.writeLine("watch processes d");
            assertEquals("Watching 1", b.readLine());
            List<Item> again = b.readBatch();
            assertEquals(first.size(), again.size());
            for (int i = 0; i < first.size(); i++) {
                assertEquals(first.get(i).kind(), again.get(i).kind());
                assertEquals(first.get(i).timestamp(), again.get(i).timestamp());
                assertEquals(first.get(i).status(), again.get(i).status());
                if (first.get(i).data() != null) assertArrayEquals(first.get(i).data(), again.get(i).data());
            }
            assertEquals("x\n", out(again));
            assertEquals("y\n", err(again));
            b.writeLine("");
            assertEquals("Nothing left to watch\n> ", b.readReply());
        }
        assertEquals(idle.line() + "\n> ", c.send("list processes"));
    }

    @Test
    void twoWatchersEachReceiveTheQueue() throws Exception {
        ProtocolClient a = connect();
        ProtocolClient b = connect();
        make(a, "live /bin/sh -c " + esc("echo x; exec /bin/sleep 30"));
        a.writeLine("watch processes live");
        b.writeLine("watch processes live");
        assertEquals("Watching 1", a.readLine());
        assertEquals("Watching 1", b.readLine());
        assertEquals("x\n", out(a.readBatch()));
        assertEquals("x\n", out(b.readBatch()));
        a.writeLine("q");
        b.writeLine("q");
        assertEquals("Stopped watching\n> ", a.readReply());
        assertEquals("Stopped watching\n> ", b.readReply());

        make(a, "done /bin/echo z");
        awaitExited(a, "done");
        a.writeLine("watch processes done");
        b.writeLine("watch processes done");
        assertEquals("Watching 1", a.readLine());
        assertEquals("Watching 1", b.readLine());
        List<Item> ia = a.readBatch();
        List<Item> ib = b.readBatch();
        assertEquals(ia.toString(), ib.toString());
        assertEquals("z\n", out(ia));
        a.writeLine("");
        assertEquals("Nothing left to watch\n> ", a.readReply());
        b.writeLine("");
        assertEquals("Nothing left to watch\n> ", b.readReply());
        String left = a.ok("list processes");
        assertTrue(left.startsWith("live pid="), left);
    }

    @Test
    void watchOneOnMakeProcess() throws Exception {
        ProtocolClient c = connect();
        c.writeLine("make process w1 watch=1 /bin/sh -c " + esc("echo hi; echo there >&2"));
        Proc p = parseProcess(c.readLine());
        pids.add(p.pid());
        assertEquals("w1", p.name());
        assertEquals("/bin/sh -c echo hi; echo there >&2", p.args());
        List<Item> items = c.watchToEnd();
        assertEquals("hi\n", out(items));
        assertEquals("there\n", err(items));
        assertEquals(0, closedItem(items, "w1").status());
        assertEquals("\n> ", c.send("list processes"));
    }

    @Test
    void closedComesAfterTheLastChunk() throws Exception {
        ProtocolClient c = connect();
        make(c, "big bufsize=8m /usr/bin/head -c 2097152 /dev/zero");
        List<Item> items = watchAll(c, "big", 1);
        assertEquals(2097152, ProtocolClient.outBytes(items).length);
        assertEquals("closed", items.get(items.size() - 1).kind());
        assertEquals(1, items.stream().filter(i -> i.kind().equals("closed")).count());
        assertEquals(0, closedItem(items, "big").status());
    }

    @Test
    void severalProcessesInOneWatch() throws Exception {
        ProtocolClient c = connect();
        make(c, "m1 /bin/echo one");
        make(c, "m2 /bin/sh -c " + esc("echo two; echo deux >&2"));
        make(c, "other /bin/sleep 30");
        awaitExited(c, "m1");
        awaitExited(c, "m2");
        List<Item> items = watchAll(c, "m*", 2);
        for (String name : List.of("m1", "m2")) {
            List<Item> mine = items.stream().filter(i -> i.name().equals(name)).collect(Collectors.toList());
            assertEquals("closed", mine.get(mine.size() - 1).kind(), mine.toString());
        }
        assertEquals("one\ntwo\n", out(items.stream().filter(i -> i.name().equals("m1")).collect(Collectors.toList()))
                + out(items.stream().filter(i -> i.name().equals("m2")).collect(Collectors.toList())));
        assertEquals("deux\n", err(items));
        make(c, "n1 /bin/echo 1");
        make(c, "n2 /bin/echo 2");
        List<Item> two = watchAll(c, "n1 n2", 2);
        assertEquals(2, two.stream().filter(i -> i.kind().equals("closed")).count());
        String left = c.ok("list processes");
        assertTrue(left.startsWith("other pid="), left);
    }
}
