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
 */
@Timeout(300)
class WatchTimingTest extends DaemonTestBase {
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
        Process p = new ProcessBuilder("python3", script.toString(), target, "200")
                .redirectErrorStream(true).start();
        if (!p.waitFor(240, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("client timed out");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        System.out.println("first batch (" + target + "): " + out.replace('\n', ';'));
        List<String> lines = out.lines().toList();
        assertEquals(0, p.exitValue(), out);
        assertEquals("watch 0 0", lines.get(0), "stranded and stalled first batches, watch processes: " + out);
        assertEquals("make 0 0", lines.get(1), "stranded and stalled first batches, make process watch=1: " + out);
    }
}
