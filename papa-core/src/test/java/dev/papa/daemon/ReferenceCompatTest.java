package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Replies that differed from the reference daemon's and broke or surprised a client (issue 21,
 * items 9-12; docs/PROTOCOL.md "Known bugs of the reference" lists what still differs on purpose).
 */
class ReferenceCompatTest extends DaemonTestBase {
    @Test
    void starWithANameThatDoesNotExistIsNotFoundAndChangesNothing() throws Exception {
        ProtocolClient c = connect();
        String a = c.ok("make socket a"), b = c.ok("make socket b");
        assertEquals("Error: nope not found\n> ", c.send("remove sockets * nope"));
        assertEquals("Error: nope not found\n> ", c.send("r s nope *"));
        assertEquals(a + "\n" + b + "\n> ", c.send("list sockets"), "nothing removed");
        Proc p = make(c, "sl /bin/sleep 30");
        assertEquals("Error: nope not found\n> ", c.send("remove processes * nope"));
        assertEquals(p.line() + "\n> ", c.send("list processes"), "nothing removed");
        assertEquals("Error: nope not found\n> ", c.send("watch processes * nope"));
        assertEquals("Error: nope not found\n> ", c.send("w p nope *"));
        // "*" alone is still everything
        assertEquals("\n> ", c.send("remove sockets *"));
        assertEquals("\n> ", c.send("list sockets"));
    }

    @Test
    void valuesAsLongAsARequestLine() throws Exception {
        ProtocolClient c = connect();
        for (int n : List.of(65_537, 70_000, 200_000, 262_000)) {
            String v = "x".repeat(n);
            assertEquals("\n> ", c.send("set big " + v), n + " characters");
            assertEquals(v + "\n> ", c.send("get big"), n + " characters");
        }
        assertEquals("Error: Request line is too long (over 262144 bytes)\n> ", c.send("set big " + "y".repeat(262_200)));
        assertEquals("x".repeat(262_000) + "\n> ", c.send("get big"), "unchanged");
    }

    @Test
    void valueNamesMayHoldColonsEqualsStarsAndSpaces() throws Exception {
        ProtocolClient c = connect();
        assertEquals("\n> ", c.send("set a:b colon"));
        assertEquals("\n> ", c.send("set a=b equals"));
        assertEquals("\n> ", c.send("set a*b star"));
        assertEquals("\n> ", c.send("set a\\ b space"));
        assertEquals("colon\n> ", c.send("get a:b"));
        assertEquals("equals\n> ", c.send("get a=b"));
        assertEquals("star\n> ", c.send("get a*b"));
        assertEquals("space\n> ", c.send("get a\\ b"));
        assertEquals("a b space\na*b star\na:b colon\na=b equals\n> ", c.send("list values a*"));
        assertEquals("a*b star\n> ", c.send("list values a*b"), "a name ending in no star is that exact name");
        assertEquals("\n> ", c.send("remove values a:b a=b"));
        assertEquals("a b space\na*b star\n> ", c.send("list values"));
        // "*" alone is no name, and control characters stay refused (they would forge log lines)
        assertEquals("Error: Value requires a name\n> ", c.send("set * x"));
        assertEquals("Error: Value name \"a\\x01b\" is invalid: names may not contain control characters\n> ", c.send("set a\u0001b x"));
    }

    @Test
    void shellRunsTheCommandThroughBinShAndShowsIt() throws Exception {
        ProtocolClient c = connect();
        // as Popen(shell=True): the first word is the script, the rest are $0, $1, ...
        List<ProtocolClient.Item> items = run(c, "sh1 shell=1 echo\\ $0-$1 zero one");
        assertEquals("zero-one\n", ProtocolClient.out(items));
        Proc p = make(c, "sh2 shell=1 /bin/sleep\\ 30");
        assertTrue(p.line().matches("sh2 pid=\\d+ running=True started=\\S+ shell=True args=/bin/sleep 30"), p.line());
        assertEquals(p.line() + "\n> ", c.send("list processes sh2"));
        assertEquals(p.line() + "\n> ", c.send("make process sh2 shell=True /bin/sleep\\ 30"), "the same process");
        assertEquals("Error: Process for sh2 has already been created - " + p.line() + "\n> ",
                c.send("make process sh2 /bin/sleep\\ 30"), "without shell it is another command");
        assertEquals("Error: Invalid shell \"yes\" - must be 1 or 0\n> ", c.send("make process sh3 shell=yes true"));
        List<ProtocolClient.Item> plain = run(c, "sh4 shell=0 /bin/echo $0");
        assertEquals("$0\n", ProtocolClient.out(plain), "shell=0: no shell");
    }
}
