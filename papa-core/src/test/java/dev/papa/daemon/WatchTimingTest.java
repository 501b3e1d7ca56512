package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 9, item 1: the first batch of a watch must not arrive in the same recv() as the reply
 * line, because the reference clients read that line once and then wait in select() for the
 * batch. A Python client that reads exactly that way watches 200 processes with output already
 * queued, by {@code watch processes} and by {@code make process ... watch=1}: none may strand.
 * A watch whose client was so late reading the line that the daemon's cap on the wait may have
 * sent the batch anyway proves nothing and is done again (first_batch.py).
 */
@Timeout(300)
class WatchTimingTest extends DaemonTestBase {
    /** Watches counted per path (see first_batch.py: late ones are not counted). */
    private static final int WATCHES = 200;

    @Test
    void firstBatchIsNeverStrandedInTheReferenceClientsBuffer() throws Exception {
        check(Integer.toString(port));
    }

    /** The same on a unix control socket (where the daemon learns what the client read differently). */
    @Test
    void firstBatchIsNeverStrandedOnAUnixSocket() throws Exception {
        Path socket = tmp.resolve("papa.sock");
        try (Daemon unix = Daemon.start(new DaemonConfig().unixSocket(socket))) {
            check(socket.toString());
            org.junit.jupiter.api.Assertions.assertNull(unix.failure());
        }
    }

    private void check(String target) throws Exception {
        Path script = tmp.resolve("first_batch.py");
        try (var in = WatchTimingTest.class.getResourceAsStream("/clients/first_batch.py")) {
            Files.write(script, in.readAllBytes());
        }
        Process p = new ProcessBuilder("python3", script.toString(), target, Integer.toString(WATCHES), Long.toString(firstBatchCapMillis()))
                .redirectErrorStream(true).start();
        if (!p.waitFor(240, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("client timed out");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        System.out.println("first batch (" + target + "): " + out.replace('\n', ';'));
        List<String> lines = out.lines().toList();
        assertEquals(0, p.exitValue(), out);
        // stranded and stalled first batches, then the watches counted: WATCHES whose line was read in time
        assertEquals("watch 0 0 " + WATCHES, withoutLate(lines.get(0)), "watch processes: " + out);
        assertEquals("make 0 0 " + WATCHES, withoutLate(lines.get(1)), "make process watch=1: " + out);
    }

    /** The client's counts without the last one, the late watches that were done again. */
    private static String withoutLate(String counts) {
        return counts.substring(0, counts.lastIndexOf(' '));
    }

    /**
     * How long the daemon waits at most for the client to read the reply line before it sends
     * the first batch anyway: the client does a watch whose line it read later than that again.
     */
    private static long firstBatchCapMillis() throws ReflectiveOperationException {
        java.lang.reflect.Field f = Class.forName("dev.papa.daemon.session.Session").getDeclaredField("FIRST_BATCH_MAX_WAIT_MILLIS");
        f.setAccessible(true);
        return f.getLong(null);
    }
}
