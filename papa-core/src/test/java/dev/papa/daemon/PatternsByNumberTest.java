package dev.papa.daemon;

import static dev.papa.daemon.ProtocolClient.out;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A pattern of digits that names nothing selects a process by its pid or a socket by its file
 * number (docs/PROTOCOL.md, "Names and patterns"): in list, watch and remove.
 */
class PatternsByNumberTest extends DaemonTestBase {
    private static final Pattern FILENO = Pattern.compile(" fileno=(\\d+)$");

    static int fileno(String socketLine) {
        Matcher m = FILENO.matcher(socketLine);
        if (!m.find()) throw new AssertionError("no fileno= in [" + socketLine + "]");
        return Integer.parseInt(m.group(1));
    }

    @Test
    void digitsSelectAProcessByItsPid() throws Exception {
        ProtocolClient c = connect();
        Proc worker = make(c, "worker /bin/sh -c " + esc("echo by-pid; exec /bin/sleep 30"));
        make(c, "other /bin/sleep 30");
        assertEquals(worker.line(), c.ok("list processes " + worker.pid()));

        c.writeLine("watch processes " + worker.pid());
        assertEquals("Watching 1", c.readLine());
        var batch = c.readBatch();
        assertEquals("worker", batch.get(0).name());
        assertEquals("by-pid\n", out(batch));
        c.writeLine("q");
        assertEquals("Stopped watching\n> ", c.readReply());

        kill(worker.pid());
        awaitExited(c, "worker");
        assertEquals("", c.ok("remove processes " + worker.pid()));
        assertEquals("", c.ok("list processes worker"), "removed by its pid, the other one stays");
        assertEquals("other", parseProcess(c.ok("list processes")).name());
    }

    @Test
    void digitsSelectASocketByItsFileNumber() throws Exception {
        ProtocolClient c = connect();
        String web = c.ok("make socket web");
        String admin = c.ok("make socket admin");
        assertEquals(web, c.ok("list sockets " + fileno(web)));
        assertEquals(admin, c.ok("list sockets " + fileno(admin)));
        assertEquals("", c.ok("remove sockets " + fileno(web)));
        assertEquals(admin, c.ok("list sockets"), "only the socket of that number was removed");
    }

    /** The number is a fallback: a name of digits is matched as a name first. */
    @Test
    void aNameOfDigitsIsMatchedBeforeAFileNumber() throws Exception {
        ProtocolClient c = connect();
        String web = c.ok("make socket web");
        int number = fileno(web);
        String named = c.ok("make socket " + number);
        assertEquals(named, c.ok("list sockets " + number));
        assertEquals("", c.ok("remove sockets " + number));
        assertEquals(web, c.ok("list sockets " + number), "once the name is gone the number selects by number");
    }
}
