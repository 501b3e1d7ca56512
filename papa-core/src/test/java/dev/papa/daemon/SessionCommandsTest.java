package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Session handling, command words, abbreviations, help, quit, exit-if-idle, CRLF, unix control socket. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SessionCommandsTest extends DaemonTestBase {

    @Test
    void greetingAndEmptyLines() throws Exception {
        ProtocolClient c = connect(); // asserts the exact greeting
        assertEquals("> ", c.send(""));
        assertEquals("> ", c.send("   "));
        assertEquals("> ", c.send("\t \r"));
        assertEquals("\n> ", c.send("list values"));
    }

    @Test
    void crlfLinesAndSurroundingWhitespaceAreStripped() throws Exception {
        ProtocolClient c = connect();
        c.write("set greeting hello\r\n");
        assertEquals("\n> ", c.readReply());
        c.write("get greeting\r\n");
        assertEquals("hello\n> ", c.readReply());
        c.write("   get    greeting   \r\n");
        assertEquals("hello\n> ", c.readReply());
        c.write("\r\n");
        assertEquals("> ", c.readReply());
        c.write("list   values\r\n");
        assertEquals("greeting hello\n> ", c.readReply());
    }

    @Test
    void twoRequestsInOneWriteGetTwoReplies() throws Exception {
        ProtocolClient c = connect();
        c.write("set a 1\nget a\n");
        assertEquals("\n> ", c.readReply());
        assertEquals("1\n> ", c.readReply());
    }

    @Test
    void emptyListsAreEmptyResults() throws Exception {
        ProtocolClient c = connect();
        assertEquals("\n> ", c.send("list processes"));
        assertEquals("\n> ", c.send("list sockets"));
        assertEquals("\n> ", c.send("list values"));
        assertEquals("\n> ", c.send("get nothing"));
    }

    @Test
    void abbreviationsAndCase() throws Exception {
        ProtocolClient c = connect();
        assertEquals("\n> ", c.send("s a 1"));           // s = set
        assertEquals("\n> ", c.send("SET b 2"));
        assertEquals("1\n> ", c.send("g a"));            // g = get
        assertEquals("2\n> ", c.send("GeT b"));
        assertEquals("a 1\nb 2\n> ", c.send("l v"));     // list values
        assertEquals("a 1\nb 2\n> ", c.send("LI VAL"));
        assertEquals("a 1\nb 2\n> ", c.send("list values"));
        assertEquals("\n> ", c.send("l p"));             // list processes
        assertEquals("\n> ", c.send("l s"));             // list sockets
        assertEquals("\n> ", c.send("r v a"));           // remove values
        assertEquals("b 2\n> ", c.send("l v"));
        assertEquals("\n> ", c.send("Rem VALUES b"));
        assertEquals("\n> ", c.send("l v"));
        String sock = c.ok("m s abbrev");                // make socket
        assertTrue(sock.startsWith("abbrev family=inet type=stream backlog=5 host=127.0.0.1 port="), sock);
        assertEquals(sock + "\n> ", c.send("l s"));
        assertEquals("\n> ", c.send("r s abbrev"));
        assertEquals("Error: Nothing to watch\n> ", c.send("w p"));
        assertEquals("Error: Nothing to watch\n> ", c.send("WATCH PROC"));
    }

    @Test
    void exitIfIdleMayNotBeAbbreviated() throws Exception {
        ProtocolClient c = connect();
        for (String word : new String[] {"e", "ex", "exit", "exit-if", "exit-if-idl", "E", "EXIT-IF-ID"}) {
            assertEquals("Error: You cannot abbreviate \"exit-if-idle\"\n> ", c.send(word), word);
        }
        assertEquals("\n> ", c.send("list values")); // still usable, daemon still there
    }

    @Test
    void unknownAndIncompleteCommands() throws Exception {
        ProtocolClient c = connect();
        assertEquals("Error: Unknown command \"bogus\"\n> ", c.send("bogus"));
        assertEquals("Error: Unknown command \"x\"\n> ", c.send("x"));
        assertEquals("Error: Unknown command \"lists\"\n> ", c.send("lists values"));
        assertEquals("Error: Bad \"list\" command. The following word must be one of: processes, sockets, values\n> ",
                c.send("list bogus"));
        assertEquals("Error: Bad \"remove\" command. The following word must be one of: processes, sockets, values\n> ",
                c.send("remove x"));
        assertEquals("Error: Bad \"make\" command. The following word must be one of: process, socket\n> ",
                c.send("make value x"));
        assertEquals("Error: Bad \"watch\" command. The following word must be one of: processes\n> ",
                c.send("watch sockets"));
        assertEquals("Error: \"list\" must be followed by one of: processes, sockets, values\n> ", c.send("list"));
        assertEquals("Error: \"list\" must be followed by one of: processes, sockets, values\n> ", c.send("l"));
        assertEquals("Error: \"remove\" must be followed by one of: processes, sockets, values\n> ", c.send("remove"));
        assertEquals("Error: \"make\" must be followed by one of: process, socket\n> ", c.send("make"));
        assertEquals("Error: \"watch\" must be followed by one of: processes\n> ", c.send("watch"));
        assertEquals("\n> ", c.send("list values"));
    }

    @Test
    void help() throws Exception {
        ProtocolClient c = connect();
        String all = c.ok("help");
        assertFalse(all.isBlank());
        for (String cmd : new String[] {"make socket", "make process", "list", "remove", "watch", "set", "get",
                "quit", "exit-if-idle", "help"}) {
            assertTrue(all.contains(cmd), "help mentions " + cmd + ": " + all);
        }
        assertEquals(all, c.ok("h"));
        assertEquals(all, c.ok("HELP"));
        // help for a command or group, abbreviated or not
        String listProcesses = c.ok("help list processes");
        assertFalse(listProcesses.isBlank());
        assertEquals(listProcesses, c.ok("h l p"));
        for (String topic : new String[] {"list", "make", "make process", "make socket", "remove", "remove values",
                "watch", "watch processes", "set", "get", "quit", "exit-if-idle", "l s", "r p", "m p"}) {
            String h = c.ok("help " + topic);
            assertFalse(h.isBlank(), "help " + topic);
            assertNotEquals(all, h, "help " + topic + " is specific");
        }
        // help for an unknown word names it and keeps the session
        String unknown = c.send("help bogus");
        assertTrue(unknown.contains("Unknown command \"bogus\"") && unknown.endsWith("\n> "), unknown);
        assertEquals("\n> ", c.send("list values"));
    }

    @Test
    void quitRepliesOkAndCloses() throws Exception {
        ProtocolClient c = connect();
        c.writeLine("quit");
        assertEquals("ok\n", c.readString(3));
        c.expectEof();
        // the daemon keeps serving other sessions
        ProtocolClient d = connect();
        assertEquals("\n> ", d.send("list values"));
        d.writeLine("q");
        assertEquals("ok\n", d.readString(3));
        d.expectEof();
    }

    @Test
    void valuesAreSharedBetweenSessions() throws Exception {
        ProtocolClient a = connect();
        ProtocolClient b = connect();
        assertEquals("\n> ", a.send("set shared 42"));
        assertEquals("42\n> ", b.send("get shared"));
        a.close();
        assertEquals("42\n> ", b.send("get shared"));
    }

    @Test
    void exitIfIdleWhenNotIdle() throws Exception {
        ProtocolClient c = connect();
        assertEquals("\n> ", c.send("set v 1"));
        assertEquals("not idle\n> ", c.send("exit-if-idle"));
        assertEquals("\n> ", c.send("set v"));
        String sock = c.ok("make socket s");
        assertEquals("not idle\n> ", c.send("exit-if-idle"));
        assertEquals("\n> ", c.send("remove sockets s"));
        Proc p = make(c, "sl /bin/sleep 30");
        assertEquals("not idle\n> ", c.send("EXIT-IF-IDLE"));
        assertEquals(p.line() + "\n> ", c.send("list processes"));
        assertTrue(sock.startsWith("s "));
    }

    @Test
    void unixControlSocketSession() throws Exception {
        Path control = tmp.resolve("papa.sock");
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).unixSocket(control).singleSession(false))) {
            assertTrue(Files.exists(control));
            try (ProtocolClient c = ProtocolClient.unix(control)) {
                assertEquals("\n> ", c.send("set k v"));
                assertEquals("v\n> ", c.send("get k"));
                assertEquals("k v\n> ", c.send("l v"));
                assertEquals("Error: Unknown command \"nope\"\n> ", c.send("nope"));
                c.writeLine("quit");
                assertEquals("ok\n", c.readString(3));
                c.expectEof();
            }
            try (ProtocolClient c = ProtocolClient.unix(control)) {
                assertEquals("v\n> ", c.send("get k"));
                assertEquals("\n> ", c.send("set k"));
            }
            // a live control socket cannot be taken by a second daemon
            java.io.IOException e = assertThrows(java.io.IOException.class,
                    () -> Daemon.start(new DaemonConfig().port(0).unixSocket(control).singleSession(false)).close());
            assertEquals(control + " exists and is not a stale socket (another daemon may be listening there)", e.getMessage());
            try (ProtocolClient c = ProtocolClient.unix(control)) {
                assertEquals("\n> ", c.send("list values"));
            }
        }
    }

    @Test
    void staleUnixControlSocketFileIsReplaced() throws Exception {
        Path control = tmp.resolve("stale.sock");
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(control));
        } // closed, file left behind
        assertTrue(Files.exists(control));
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).unixSocket(control).singleSession(false));
             ProtocolClient c = ProtocolClient.unix(control)) {
            assertEquals("\n> ", c.send("list values"));
        }
    }
}
