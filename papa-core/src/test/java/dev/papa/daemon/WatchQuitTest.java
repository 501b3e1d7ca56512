package dev.papa.daemon;

import static dev.papa.daemon.ProtocolClient.out;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code q} while no batch is out stops an idle watch (docs/PROTOCOL.md, "Watching", step 3). */
class WatchQuitTest extends DaemonTestBase {
    @Test
    void qStopsAnIdleWatchAndLosesNothing() throws Exception {
        ProtocolClient c = connect();
        Path go = fifo("go");
        make(c, "quiet /bin/sh -c " + esc("read x < " + go + "; echo late; exec /bin/sleep 30"));
        c.writeLine("watch processes quiet");
        assertEquals("Watching 1", c.readLine());
        c.writeLine("q");
        assertEquals("Stopped watching\n> ", c.readReply());
        assertEquals("", c.ok("set mode commands"), "the session is back in command mode");
        assertEquals("commands", c.ok("get mode"));

        release(go);
        awaitCapturedTail("quiet", "late\n");
        assertEquals("", c.pending(), "the stopped watch sends nothing more");
        c.writeLine("watch processes quiet");
        assertEquals("Watching 1", c.readLine());
        assertEquals("late\n", out(c.readBatch()), "what came after the q waits for the next watch");
        c.writeLine("q");
        assertEquals("Stopped watching\n> ", c.readReply());
    }

    /** The same after {@code make process ... watch=1}, which watches without a Watching line. */
    @Test
    void qStopsAnIdleWatchOfMakeProcess() throws Exception {
        ProtocolClient c = connect();
        Path go = fifo("go");
        c.writeLine("make process later watch=1 /bin/sh -c " + esc("read x < " + go + "; echo late; exec /bin/sleep 30"));
        Proc p = parseProcess(c.readLine());
        pids.add(p.pid());
        c.writeLine("q");
        assertEquals("Stopped watching\n> ", c.readReply());
        assertEquals(p.line(), c.ok("list processes later"));
        release(go);
        awaitCapturedTail("later", "late\n");
        assertEquals("", c.pending(), "the stopped watch sends nothing more");
    }
}
