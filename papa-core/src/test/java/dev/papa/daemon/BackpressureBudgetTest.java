package dev.papa.daemon;

import static dev.papa.daemon.BackpressureTest.seq;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.buffer.OutputBudget;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code overflow=block} under the daemon's output budget: paused, never evicted (PROTOCOL.md Part 2). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BackpressureBudgetTest extends DaemonTestBase {
    /** seq 1 200000: 1,288,895 bytes, more than the whole budget. */
    private static final int LINES = 200_000;

    @Override
    protected DaemonConfig config() {
        return super.config().outputBudget(OutputBudget.MIN_LIMIT);
    }

    @Test
    void theBudgetPausesABlockProcessAndEvictsOnlyOthers() throws Exception {
        ProtocolClient c = connect();
        make(c, "keep overflow=block bufsize=1g /usr/bin/seq 1 " + LINES);
        awaitIo("keep blocked=True", 10_000, () -> c.ok("list processes keep").contains(" blocked=True"));
        // a dropping process now finds the budget full of keep's output: it loses its own oldest
        make(c, "lossy overflow=drop bufsize=1g /usr/bin/seq 1 " + LINES);
        awaitExited(c, "lossy");
        long dropped = dropped(c.ok("list processes lossy"));
        assertTrue(dropped > 0, "lossy lost output to the budget");
        assertTrue(c.ok("list processes keep").contains(" running=True "), "keep still waits");
        assertArrayEquals(seq(LINES), ProtocolClient.outBytes(watchAll(c, "keep", 1)), "keep lost nothing");
        byte[] got = ProtocolClient.outBytes(watchAll(c, "lossy", 1));
        assertEquals(seq(LINES).length, dropped + got.length, "dropped + received = written");
    }

    @Test
    void aBlockProcessWaitsForRoomInTheBudget() throws Exception {
        ProtocolClient c = connect();
        make(c, "hog bufsize=1g /usr/bin/seq 1 " + LINES);
        awaitExited(c, "hog");
        make(c, "late overflow=block bufsize=1g /usr/bin/seq 1 " + LINES);
        awaitIo("late blocked=True", 10_000, () -> c.ok("list processes late").contains(" blocked=True"));
        assertTrue(c.ok("list processes late").contains(" running=True "));
        // removing hog frees its share of the budget: late is read again, to its end
        assertEquals("\n> ", c.send("remove processes hog"));
        assertArrayEquals(seq(LINES), ProtocolClient.outBytes(watchAll(c, "late", 1)), "late lost nothing");
    }

    private static long dropped(String line) {
        Matcher m = Pattern.compile(" dropped=(\\d+) ").matcher(line);
        assertTrue(m.find(), line);
        return Long.parseLong(m.group(1));
    }
}
