package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * When descendants keep the pipes open after the process exited, {@code closed} is queued one
 * second after the exit (docs/PROTOCOL.md, "Output queues").
 */
class PipeGraceTest extends DaemonTestBase {
    @Test
    void closedComesOneSecondAfterTheExitWhenADescendantHoldsThePipes() throws Exception {
        ProtocolClient c = connect();
        // the background sleep inherits stdout and stderr; its pid is the last thing the shell writes
        Proc p = make(c, "parent /bin/sh -c " + esc("/bin/sleep 30 & echo $!; exit 3"));
        List<ProtocolClient.Item> items = watchAll(c, "parent", 1);
        ProtocolClient.Item closed = ProtocolClient.closedItem(items, "parent");
        ProtocolClient.Item last = items.get(items.size() - 2);
        long descendant = Long.parseLong(ProtocolClient.out(items).strip());
        pids.add(descendant);
        assertEquals(3, closed.status());
        assertEquals("out", last.kind(), items.toString());
        // the exit came after the daemon read the shell's last output, the closed item a second after the exit
        double delay = closed.time() - last.time();
        assertTrue(delay >= 0.999 && delay < 5, "closed " + delay + " s after the last output: " + items);
        assertTrue(procState(descendant) != null && !"Z".equals(procState(descendant)), "the descendant still holds the pipes");
        assertEquals("", c.ok("list processes parent"), "the acknowledged exit took it out of the table");
    }
}
