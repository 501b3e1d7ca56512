package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Issue 23: kills of the daemon JVM at random instants under a writer of numbered lines, as
 * fast as it can ({@code overflow=block}: nothing is evicted), with a watcher acknowledging
 * every batch. The stream is known byte for byte, so each chunk is checked where it must be:
 * contiguous within a session, and a new session starts where the daemon last took an
 * acknowledgement (the last one sent, or the one before when the kill came before the daemon
 * read it). No line missing, corrupted or out of order. Kills:
 * {@code -Dpapa.keeper.randomOutputKills=N} (default 5; the issue asks for at least 200).
 */
class KeeperRandomOutputKillIT {
    static final int KILLS = Integer.getInteger("papa.keeper.randomOutputKills", 5);
    private static final int LINE = 9; // "%08d\n"

    @TempDir
    Path dir;

    @Test
    void noLineIsMissingCorruptedOrOutOfOrder() throws Exception {
        Path writer = Files.writeString(dir.resolve("numbers.py"), String.join("\n",
                "import sys",
                "out = sys.stdout.buffer",
                "n = 0",
                "while True:",
                "    out.write(b''.join(b'%08d\\n' % i for i in range(n, n + 100))); out.flush(); n += 100", ""));
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(), List.of("--keeper"))) {
            int keeper = d.pid();
            try (ProtocolClient c = d.connect()) {
                d.hosted(Integer.parseInt(KeeperKillIT.find(" pid=(\\d+) ",
                        c.ok("make process numbers bufsize=256k overflow=block /usr/bin/python3 -u " + writer)).get(0)));
            }
            Checker checker = new Checker(d);
            Thread t = new Thread(checker, "watcher");
            t.start();
            Random random = new Random(Long.getLong("papa.keeper.seed", System.nanoTime()));
            try {
                for (int i = 0; i < KILLS && checker.failure.get() == null; i++) {
                    Thread.sleep(KeeperKillIT.SERVE_BEFORE_KILL_MS + random.nextInt(400));
                    int jvm = KeeperKillIT.daemonJvm(keeper);
                    int sessions = checker.sessions.get();
                    dev.papa.posix.Processes.kill(jvm, 9);
                    long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
                    // lines flow again in a new session (the old one may still read a batch the killed JVM sent)
                    while ((checker.sessions.get() <= sessions || checker.pos.get() < checker.sessionStart + 100_000)
                            && checker.failure.get() == null) {
                        assertTrue(System.currentTimeMillis() < deadline, "no output after kill " + i);
                        Thread.sleep(5);
                    }
                }
            } finally {
                checker.stop.set(true);
                t.join(JarDaemon.TIMEOUT_MS);
            }
            if (checker.failure.get() != null) fail("after " + checker.sessions + " sessions", checker.failure.get());
            System.out.printf("random output kills: %d kills, %d lines checked, %d sessions, %d bytes redelivered%n", KILLS,
                    checker.pos.get() / LINE, checker.sessions.get(), checker.redelivered);
            assertTrue(checker.sessions.get() > KILLS, "the watcher reconnected after every kill");
        }
    }

    /** The byte at {@code offset} of the writer's stream. */
    private static byte at(long offset) {
        long n = offset / LINE;
        int k = (int) (offset % LINE);
        if (k == LINE - 1) return '\n';
        long div = 1;
        for (int j = 0; j < 7 - k; j++) div *= 10;
        return (byte) ('0' + (n / div) % 10);
    }

    private static boolean matches(byte[] data, long offset) {
        for (int i = 0; i < data.length; i++) if (data[i] != at(offset + i)) return false;
        return true;
    }

    /** Watches, checks every chunk against the stream, acknowledges every batch; reconnects after each kill. */
    private static final class Checker implements Runnable {
        final JarDaemon d;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicLong pos = new AtomicLong(); // the stream's offset checked so far
        long acked;       // where the last batch acknowledged ended
        long ackedBefore; // and the one before it
        final java.util.concurrent.atomic.AtomicInteger sessions = new java.util.concurrent.atomic.AtomicInteger();
        volatile long sessionStart = Long.MAX_VALUE / 2; // where the current session's first chunk started
        long redelivered;

        Checker(JarDaemon d) {
            this.d = d;
        }

        @Override
        public void run() {
            try {
                while (!stop.get()) {
                    try (ProtocolClient c = d.connect()) {
                        sessionStart = Long.MAX_VALUE / 2;
                        sessions.incrementAndGet();
                        c.writeLine("watch processes numbers");
                        assertEquals("Watching 1", c.readLine());
                        boolean first = true;
                        while (!stop.get()) {
                            List<ProtocolClient.Item> batch = c.readBatch();
                            for (ProtocolClient.Item item : batch) {
                                assertEquals("out", item.kind(), item.toString());
                                byte[] data = item.data();
                                long p = pos.get();
                                if (first) { // where the daemon last took an acknowledgement
                                    if (matches(data, acked)) p = acked;
                                    else if (matches(data, ackedBefore)) p = ackedBefore;
                                    else throw new AssertionError("a new session starts at neither " + acked + " nor " + ackedBefore
                                            + ": " + new String(data, 0, Math.min(40, data.length), StandardCharsets.US_ASCII));
                                    redelivered += pos.get() - p;
                                    sessionStart = p;
                                    first = false;
                                } else if (!matches(data, p)) {
                                    throw new AssertionError("chunk at " + p + " is not the stream's: "
                                            + new String(data, 0, Math.min(40, data.length), StandardCharsets.US_ASCII));
                                }
                                pos.set(p + data.length);
                            }
                            ackedBefore = acked;
                            acked = pos.get();
                            c.writeLine("");
                        }
                    } catch (IOException | AssertionError e) {
                        String m = String.valueOf(e.getMessage());
                        if (e instanceof AssertionError && !m.startsWith("connection closed") && !m.startsWith("timed out")) throw e;
                        // the daemon JVM was killed: reconnect
                    }
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        }
    }
}
