package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An Error on a thread other than the event loop halts the daemon with 70 after logging it
 * (docs/SECURITY.md, "Memory and fatal errors"). A real one: the spawn lane runs out of heap.
 */
@Timeout(120)
class WorkerErrorExitTest {
    /**
     * The spawn lane lists every place the program may be: one path per {@code PATH} entry. A
     * 124 KB request (60,000 entries, a 4,000-character name) makes it build 240 MB of paths on
     * a 64 MiB heap, an OutOfMemoryError on papa-spawn while the loop only holds the request.
     */
    @Test
    void anOutOfMemoryErrorOnTheSpawnLaneExits70() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of(), List.of("-Xmx64m")); Conn c = Conn.open(d.port)) {
            String path = "/:".repeat(60_000);
            c.send("make process big env.PATH=" + path + " " + "p".repeat(4_000) + "\n");
            assertTrue(d.process.waitFor(60, TimeUnit.SECONDS), "the daemon still runs:\n" + d.logText());
            String log = d.logText();
            assertEquals(70, d.process.exitValue(), log);
            assertTrue(log.contains("SEVERE DaemonMain: uncaught in papa-spawn: java.lang.OutOfMemoryError"), log);
            assertEquals("", c.readToEof(), "no reply: the daemon halted");
        }
    }
}
