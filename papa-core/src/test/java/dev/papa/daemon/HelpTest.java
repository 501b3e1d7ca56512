package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code help} against a running daemon (issue 24 item 4): the reference's block byte for byte,
 * then this project's block naming every command a person can type, and {@code help WORDS} for
 * each, abbreviated or not, with the reference's wording for unknown words.
 *
 * <p>Neither the reference Python client (papa 1.0.x: it sends {@code l s}, {@code l p},
 * {@code l v}, {@code get}, {@code set}, {@code r s/p/v}, {@code make ...}, {@code watch ...},
 * {@code exit-if-idle}, {@code quit}) nor Circus (which reached papa only through that client,
 * until 0.19.0 removed it) sends {@code help} or parses its text; the first block is kept for
 * the people who know it.
 */
@Timeout(60)
class HelpTest extends DaemonTestBase {
    /**
     * The reference daemon's help (papa 1.0.x, papa/server/__init__.py, help_command), byte for
     * byte, typos and all; written out here, not taken from the daemon's code, so that a change
     * there fails.
     */
    static final String REFERENCE = "Possible commands are:\n"
            + "    make socket - Create a socket to be used by processes\n"
            + "    remove sockets - Close and remove sockets by name or file number\n"
            + "    list sockets - List sockets by name or file number\n"
            + "    -----------------------------------------------------\n"
            + "    make process - Launch a process\n"
            + "    remove processes - Stop recording the output of processes by name or PID\n"
            + "    list processes - List processes by name or PID\n"
            + "    watch processes - Start receiving the output of a processes by name or PID\n"
            + "    -----------------------------------------------------\n"
            + "    set - Set a named value\n"
            + "    get - Get a named value\n"
            + "    list values - List values by name\n"
            + "    remove processes - Remove values by name\n"
            + "    -----------------------------------------------------\n"
            + "    quit - Close the client session\n"
            + "    exit-if-idle Exit papa if there are no processes, sockets or values\n"
            + "    help - Type \"help <cmd>\" for more information\n"
            + "\n"
            + "NOTE: All of these commands may be abbreviated. Type at least one character of\n"
            + "      each word. The rest are optional.\n"
            + "\n"
            + "After a 'watch' command, just enter '-' and a return to receive more output.\n";

    /** This project's block: every command of PROTOCOL.md Part 2 a person can type. */
    static final String ADDITIONS = "Added by papa for the JVM:\n"
            + "    list daemon - Show facts about the daemon: version, restarts, sessions, bytes queued\n"
            + "    take sockets - Receive copies of sockets (unix control socket only)\n"
            + "    upgrade - Upgrade the daemon in place (administrators; never abbreviated)\n"
            + "    version - Show the daemon's version, build and state format\n"
            + "    -----------------------------------------------------\n"
            + "    make socket NAME adopt=1 - Keep a socket sent with the request (unix control socket)\n"
            + "    make process options sockets=, stdin_socket=, overflow=, shell= - see \"help make process\"\n"
            + "\n"
            + "The second \"remove processes\" above is \"remove values\".\n"
            + "Patterns: no pattern or \"*\" is everything, \"name*\" every name starting with\n"
            + "\"name\", anything else that exact name (or a PID / file number).\n";

    /** Every command, in full. */
    static final List<String> COMMANDS = List.of("exit-if-idle", "get", "help", "list daemon", "list processes",
            "list sockets", "list values", "make process", "make socket", "quit", "remove processes", "remove sockets",
            "remove values", "set", "take sockets", "upgrade", "version", "watch processes");

    @Test
    void helpIsTheReferenceBlockThenOurs() throws Exception {
        ProtocolClient c = connect();
        String reply = c.send("help");
        assertTrue(reply.startsWith(REFERENCE + "\n"), "the reference's block, byte for byte, then a blank line:\n" + reply);
        assertEquals(REFERENCE + "\n" + ADDITIONS + "> ", reply);
        assertEquals(reply, c.send("h"));
        assertEquals(reply, c.send("HeLp"));
        for (String command : COMMANDS) assertTrue(reply.contains(command), "help names " + command);
    }

    @Test
    void helpOfEachAddedCommand() throws Exception {
        ProtocolClient c = connect();
        String listDaemon = c.ok("help list daemon");
        assertTrue(listDaemon.startsWith("Show facts about the daemon, one key=value per line"), listDaemon);
        assertTrue(listDaemon.contains("Abbreviated: l d"), listDaemon);
        for (String abbreviated : List.of("h l d", "help l daemon", "HELP LIST D")) assertEquals(listDaemon, c.ok(abbreviated));

        String take = c.ok("help take sockets");
        assertTrue(take.startsWith("Receive duplicates of sockets (unix control socket only)."), take);
        for (String abbreviated : List.of("h t s", "help take", "h t")) assertEquals(take, c.ok(abbreviated));

        String version = c.ok("help version");
        assertTrue(version.startsWith("Show the daemon's version, build and state format"), version);
        assertEquals(version, c.ok("h v"));

        String upgrade = c.ok("help upgrade");
        assertTrue(upgrade.startsWith("Upgrade the daemon in place (administrators only; never abbreviated)."), upgrade);
        // never abbreviated, in help too: the lookup error as plain text, as the reference answers help
        assertEquals("You cannot abbreviate \"upgrade\"\n> ", c.send("help u"));
        assertEquals("You cannot abbreviate \"upgrade\"\n> ", c.send("help upg"));

        assertTrue(c.ok("help make socket").contains("adopt - 1: keep the socket descriptor attached"));
        assertTrue(c.ok("help list").contains("list daemon"));
        String makeProcess = c.ok("help make process");
        for (String option : List.of("sockets - ", "stdin_socket - ", "overflow - ", "shell - ")) {
            assertTrue(makeProcess.contains("    " + option), option + " in " + makeProcess);
        }
    }

    @Test
    void everyCommandHasItsOwnHelp() throws Exception {
        ProtocolClient c = connect();
        String all = c.ok("help");
        for (String command : COMMANDS) {
            String h = c.send("help " + command);
            assertTrue(h.endsWith("\n> ") && !h.startsWith("Error:") && !h.contains("cannot abbreviate"), command + ": " + h);
            assertFalse(h.isBlank(), command);
            assertNotEquals(all + "\n> ", h, "help " + command + " is its own");
        }
    }

    @Test
    void unknownWordsAreAnsweredAsTheReferenceWordsThem() throws Exception {
        ProtocolClient c = connect();
        // the reference answers help's lookup errors as text ('{0}\n'.format(e)), not "Error: "
        assertEquals("Unknown command \"foo\"\n> ", c.send("help foo"));
        assertEquals("Unknown command \"foo\"\n> ", c.send("help FOO"));
        assertEquals("Bad \"list\" command. The following word must be one of: processes, sockets, values\n> ",
                c.send("help list foo"));
        assertEquals("Bad \"take\" command. The following word must be one of: sockets\n> ", c.send("help take x"));
        assertEquals("You cannot abbreviate \"exit-if-idle\"\n> ", c.send("help exit"));
        assertEquals("\n> ", c.send("list values"), "the session goes on");
    }
}
