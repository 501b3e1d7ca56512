package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 9, item 3: a background grandchild keeps the pipes after its parent exited. The exit
 * is reported after the grace, but the daemon keeps reading (and discarding) until the
 * grandchild closes them: it must not die of SIGPIPE, and the pipes close once it is gone.
 */
@Timeout(60)
class DescendantsTest extends DaemonTestBase {
    @Override
    protected boolean ownJvm() {
        return true; // counts the daemon's descriptors
    }

    @Test
    void grandchildOutlivesTheReportedExitAndThePipesCloseAfterIt() throws Exception {
        ProtocolClient c = connect();
        Path marker = tmp.resolve("M");
        make(c, "warm /bin/true"); // JIT and class loading that open descriptors once
        watchAll(c, "warm", 1);
        long fdsBefore = daemonFds();
        // the grandchild writes only once the test lets it (after the exit was delivered)
        Path go = fifo("go");
        make(c, "d working_dir=" + tmp + " /bin/sh -c " + esc("(read x < go; echo late; touch M) & echo early"));
        List<ProtocolClient.Item> items = watchAll(c, "d", 1);
        assertEquals("early\n", ProtocolClient.out(items), "what came before the exit was reported");
        assertEquals(0, ProtocolClient.closedItem(items, "d").status());
        assertEquals("", c.ok("list processes d"), "the exit was delivered: d left the table");
        assertTrue(daemonFds() > fdsBefore, "the grandchild's pipes are still read");
        release(go);
        await("the grandchild wrote after the exit and went on (no SIGPIPE)", 20_000, () -> Files.exists(marker));
        await("the pipes closed once the grandchild exited (before " + fdsBefore + ", now "
                + daemonFds() + ")", 10_000, () -> daemonFdsAtMost(fdsBefore));
    }
}
