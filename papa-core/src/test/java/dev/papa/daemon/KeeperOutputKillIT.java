package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Issue 23: queued output is in output stores the keeper holds, so a {@code kill -9} of the
 * daemon JVM loses no unacknowledged byte. Processes each queue about 1 MiB that nobody
 * watches; the daemon JVM is killed again and again (a watcher takes a batch of one process
 * between kills and goes without acknowledging it); afterwards every byte of every process is
 * delivered once, in order, with its capture time from before the kills, and nothing was
 * dropped. {@code -Dpapa.keeper.outputKills=N} (default 5; the figure is 20),
 * {@code -Dpapa.keeper.outputProcesses=N} (default 20; the figure is 100).
 */
class KeeperOutputKillIT {
    private static final int KILLS = Integer.getInteger("papa.keeper.outputKills", 5);
    private static final int PROCESSES = Integer.getInteger("papa.keeper.outputProcesses", 20);
    private static final int BYTES = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void killingTheDaemonJvmLosesNoQueuedByte() throws Exception {
        Path writer = Files.writeString(dir.resolve("writer.py"), String.join("\n",
                "import sys, time",
                "name = sys.argv[1].encode(); out = sys.stdout.buffer; t = 0; n = 0",
                "while t < " + BYTES + ":",
                "    l = b'%s %08d\\n' % (name, n); out.write(l); t += len(l); n += 1",
                "out.flush()",
                "open(sys.argv[2], 'w').close()",
                "time.sleep(1000)", ""));
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(), List.of("--keeper"))) {
            int keeper = d.pid();
            try (ProtocolClient c = d.connect()) {
                for (int i = 0; i < PROCESSES; i++) {
                    String n = "p" + i;
                    d.hosted(Integer.parseInt(KeeperKillIT.find(" pid=(\\d+) ",
                            c.ok("make process " + n + " bufsize=2m overflow=drop /usr/bin/python3 -u " + writer + " " + n + " " + dir.resolve(n + ".done"))).get(0)));
                }
                awaitWritten();
            }
            double queuedBy = System.currentTimeMillis() / 1000.0;
            for (int k = 0; k < KILLS; k++) {
                try (ProtocolClient w = d.connect()) { // a batch sent and never acknowledged: redelivered
                    w.writeLine("watch processes p" + (k % PROCESSES));
                    assertEquals("Watching 1", w.readLine());
                    assertTrue(w.readBatch().size() > 0);
                }
                int jvm = KeeperKillIT.daemonJvm(keeper);
                dev.papa.posix.Processes.kill(jvm, 9);
                KeeperKillIT.awaitServing(d, jvm, keeper);
            }
            Map<String, ByteArrayOutputStream> got = new HashMap<>();
            Map<String, Double> lastTime = new HashMap<>();
            try (ProtocolClient c = d.connect()) {
                c.writeLine("watch processes p*");
                assertEquals("Watching " + PROCESSES, c.readLine());
                long total = 0;
                while (total < (long) PROCESSES * BYTES) {
                    for (ProtocolClient.Item item : c.readBatch()) {
                        assertEquals("out", item.kind(), item.toString());
                        double t = Double.parseDouble(item.timestamp());
                        assertTrue(t <= queuedBy, "captured before the kills: " + item.timestamp());
                        Double before = lastTime.put(item.name(), t);
                        assertTrue(before == null || before <= t, "in capture order: " + item.name());
                        got.computeIfAbsent(item.name(), x -> new ByteArrayOutputStream()).write(item.data());
                        total += item.data().length;
                    }
                    c.writeLine("");
                }
                assertEquals((long) PROCESSES * BYTES + extra(), total, "every byte once");
            }
            for (int i = 0; i < PROCESSES; i++) {
                String n = "p" + i;
                assertArrayEquals(expected(n), got.get(n).toByteArray(), n + ": every byte, in order, once");
            }
            try (ProtocolClient c = d.connect()) {
                String list = c.ok("list processes");
                assertEquals(PROCESSES, list.split(" dropped=0 ", -1).length - 1, "nothing dropped: " + list);
                assertEquals(PROCESSES, list.split("running=True", -1).length - 1, list);
            }
        }
    }

    /** The writer's last line passes the 1 MiB mark: what it writes beyond, for all. */
    private static long extra() {
        long e = 0;
        for (int i = 0; i < PROCESSES; i++) e += expected("p" + i).length - BYTES;
        return e;
    }

    private static byte[] expected(String name) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(BYTES + 64);
        for (int n = 0; b.size() < BYTES; n++) b.writeBytes(String.format("%s %08d\n", name, n).getBytes(StandardCharsets.US_ASCII));
        return b.toByteArray();
    }

    /** Until every writer wrote everything, and a little more for the daemon to read it. */
    private void awaitWritten() throws Exception {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        for (int i = 0; i < PROCESSES; i++) {
            while (!Files.exists(dir.resolve("p" + i + ".done"))) {
                assertTrue(System.currentTimeMillis() < deadline, "p" + i + " still writing");
                Thread.sleep(50);
            }
        }
        Thread.sleep(1000);
    }
}
