package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Every kind of bad request: one clear Error line, nothing changed, the session still usable. */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class BadInputTest extends DaemonTestBase {
    ProtocolClient c;
    String state;

    @BeforeEach
    void someState() throws Exception {
        c = connect();
        assertEquals("\n> ", c.send("set keep 1"));
        c.ok("make socket s1");
        c.ok("make socket u1 path=" + tmp.resolve("u1.sock"));
        make(c, "p1 /bin/sleep 30");
        state = state();
    }

    String state() throws Exception {
        return c.send("list values") + c.send("list sockets") + c.send("list processes");
    }

    static final String NAMES = "names may not contain spaces, \":\", \"*\", \"=\" or control characters";

    /** A control character as the daemon shows it in an error: {@code \\xNN}. */
    static String escaped(String ctl) {
        return String.format("\\x%02x", (int) ctl.charAt(0));
    }

    /** The request fails with exactly {@code Error: message} and changes nothing. */
    void refused(String request, String message) throws Exception {
        java.util.Objects.requireNonNull(message, "name the expected error");
        String reply = c.send(request);
        ProtocolClient.assertErrorLine(request, reply);
        assertEquals("Error: " + message + "\n> ", reply, request);
        assertEquals(state, state(), "state unchanged after [" + request + "]");
    }

    @Test
    void unknownWords() throws Exception {
        refused("bogus", "Unknown command \"bogus\"");
        refused("list bogus", "Bad \"list\" command. The following word must be one of: processes, sockets, values");
        refused("make bogus x", "Bad \"make\" command. The following word must be one of: process, socket");
        refused("remove bogus", "Bad \"remove\" command. The following word must be one of: processes, sockets, values");
        refused("watch bogus", "Bad \"watch\" command. The following word must be one of: processes");
        refused("exit", "You cannot abbreviate \"exit-if-idle\"");
    }

    @Test
    void nulBytesAndIdsOutOfRange() throws Exception {
        refused("make process x uid=ro\0ot /bin/true", "Invalid uid \"ro\\x00ot\" - contains a NUL character");
        refused("make process x gid=0\0 /bin/true", "Invalid gid \"0\\x00\" - contains a NUL character");
        refused("make socket x interface=lo\0x", "Invalid interface \"lo\\x00x\" - contains a NUL character");
        refused("make socket x path=" + tmp + "/a\0b", "Invalid path \"" + tmp + "/a\\x00b\" - contains a NUL character");
        refused("make process x working_dir=/t\0mp /bin/true", "Invalid working_dir \"/t\\x00mp\" - contains a NUL character");
        refused("make process x /bin/echo a\0b", "Invalid argument \"a\\x00b\" - contains a NUL character");
        refused("make process x uid=2147483648 /bin/true", "Invalid uid 2147483648 - must be from 0 to 2147483647");
        refused("make process x uid=4294967295 /bin/true", "Invalid uid 4294967295 - must be from 0 to 2147483647");
        refused("make process x gid=99999999999 /bin/true", "Invalid gid 99999999999 - must be from 0 to 2147483647");
        // ten digits within range are a number, not a user name
        refused("make process x uid=1999999999 /bin/true", "'1999999999' is not a valid user id");
    }

    @Test
    void namesCountCodePointsAndRefuseInvisibleCharacters() throws Exception {
        String bad = "\" is invalid: names may not contain spaces, \":\", \"*\", \"=\" or control characters";
        String badValue = "\" is invalid: names may not contain control characters"; // values: spaces, : * = allowed
        String emoji = "\uD83D\uDE00"; // one code point, two UTF-16 units
        assertEquals("\n> ", c.send("set " + emoji.repeat(255) + " 1"));
        assertEquals("\n> ", c.send("set " + emoji.repeat(255)));
        refused("set " + emoji.repeat(256) + " 1", "Value name is too long (over 255 characters)");
        refused("set a\u0085 1", "Value name \"a\\x85" + badValue);
        refused("set a\u2028 1", "Value name \"a\\u2028" + badValue);
        refused("make socket a\u202Eb", "Socket name \"a\\u202eb" + bad);
        refused("make process \uFEFFa /bin/true", "Process name \"\\ufeffa" + bad);
        refused("set a\u00A0b 1", "Value name \"a\\xa0b" + badValue);
    }

    @Test
    void unknownCommandsAreShownWithControlBytesEscaped() throws Exception {
        refused("bo\u001b[2Jgus", "Unknown command \"bo\\x1b[2jgus\"");
        refused("x\u202Ey", "Unknown command \"x\\u202ey\"");
    }

    @Test
    void optionsOfAnotherFamilyAreRefused() throws Exception {
        refused("make socket x family=inet path=/x", "Option \"path\" does not apply to family inet");
        refused("make socket x family=inet6 umask=0", "Option \"umask\" does not apply to family inet6");
        refused("make socket x path=" + tmp + "/x.sock port=80", "Option \"port\" does not apply to family unix");
        refused("make socket x path=" + tmp + "/x.sock host=127.0.0.1", "Option \"host\" does not apply to family unix");
        refused("make socket x family=unix path=" + tmp + "/x.sock interface=lo", "Option \"interface\" does not apply to family unix");
    }

    @Test
    void umaskWithALeadingZeroIsRefused() throws Exception {
        refused("make socket x path=" + tmp + "/x.sock umask=077",
                "Invalid umask \"077\" - umask is a decimal number, so a leading zero is refused (octal 077 is umask=63)");
        refused("make socket x path=" + tmp + "/x.sock umask=0009", "Invalid umask \"0009\" - umask is a decimal number, so a leading zero is refused");
        String ok = c.send("make socket x path=" + tmp + "/x.sock umask=63");
        assertTrue(ok.startsWith("x family=unix type=stream backlog=5 path=" + tmp + "/x.sock umask=63 fileno="), ok);
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                java.nio.file.Files.getPosixFilePermissions(tmp.resolve("x.sock"), java.nio.file.LinkOption.NOFOLLOW_LINKS)));
        c.ok("remove sockets x");
        String zero = c.send("make socket x path=" + tmp + "/x.sock umask=0");
        assertTrue(zero.startsWith("x family=unix type=stream backlog=5 path=" + tmp + "/x.sock umask=0 fileno="), zero);
    }

    @Test
    void missingNames() throws Exception {
        refused("make socket", "Socket requires a name");
        refused("make process", "Process requires a name");
        refused("set", "Value requires a name");
        refused("remove values", "You cannot remove all variables");
        refused("remove sockets nope", "nope not found");
        refused("remove processes nope", "nope not found");
        refused("make process p2", "No command");
    }

    @Test
    void unknownOptions() throws Exception {
        refused("make socket s2 bogus=1", "Unknown socket option \"bogus\"");
        refused("make process p2 bogus=1 /bin/true", "Unknown process option \"bogus\"");
        refused("make process p2 rlimit.bogus=1 /bin/true", "Unknown rlimit \"bogus\"");
    }

    @Test
    void invalidNumbers() throws Exception {
        refused("make socket s2 backlog=abc", "Invalid backlog \"abc\" - must be a whole number from 0 to 65535");
        refused("make socket s2 port=abc", "Invalid port \"abc\" - must be a whole number from 0 to 65535");
        refused("make socket s2 port=70000", "Invalid port \"70000\" - must be a whole number from 0 to 65535");
        refused("make socket s2 port=-1", "Invalid port \"-1\" - must be a whole number from 0 to 65535");
        refused("make socket s2 path=" + tmp.resolve("s2.sock") + " umask=abc", "Invalid umask \"abc\" - must be a whole number from 0 to 511");
        refused("make process p2 bufsize=abc /bin/true", "Invalid bufsize \"abc\" - must be a number of bytes, optionally with suffix k, m or g");
        refused("make process p2 bufsize=12x /bin/true", "Invalid bufsize \"12x\" - must be a number of bytes, optionally with suffix k, m or g");
        refused("make process p2 bufsize=k /bin/true", "Invalid bufsize \"k\" - must be a number of bytes, optionally with suffix k, m or g");
        refused("make process p2 rlimit.nofile=abc /bin/true", "The rlimit value for \"nofile\" must be an integer, not \"abc\"");
        refused("make process p2 stdout=abc /bin/true", "Invalid stdout \"abc\" - must be 1 or 0");
        refused("make process p2 stderr=bogus /bin/true", "Invalid stderr \"bogus\" - must be 1, 0 or stdout");
        refused("make process p2 watch=abc /bin/true", "Invalid watch \"abc\" - must be 1 or 0");
    }

    @Test
    void invalidFamiliesAndTypes() throws Exception {
        refused("make socket s2 family=bogus", "Invalid family \"bogus\" - must be one of: unix, inet, inet6");
        refused("make socket s2 type=bogus", "Invalid type \"bogus\" - must be one of: stream, dgram, raw, rdm, seqpacket");
    }

    @Test
    void relativePaths() throws Exception {
        refused("make socket s2 path=rel.sock", "Absolute path required for Unix sockets");
        refused("make socket s2 family=unix path=./x.sock", "Absolute path required for Unix sockets");
    }

    @Test
    void conflictsAndUnknownPrincipals() throws Exception {
        refused("make socket s1 backlog=9", "Socket for s1 has already been created - " + c.ok("list sockets s1"));
        refused("make socket s2 path=" + tmp.resolve("u1.sock"), "Socket for " + tmp.resolve("u1.sock")
                + " has already been created");
        refused("make process p1 /bin/sleep 31", "Process for p1 has already been created - " + c.ok("list processes p1"));
        refused("make process p2 uid=nosuchuser /bin/true", "'nosuchuser' is not a valid user name");
        refused("make process p2 gid=nosuchgroup /bin/true", "No such group: 'nosuchgroup'");
        refused("make process p2 working_dir=/nonexistent/dir /bin/true", "Bad working_dir - [Errno 2] No such file or directory: '/nonexistent/dir'");
        refused("make process p2 /nonexistent/program", "Bad command - [Errno 2] No such file or directory: '/nonexistent/program'");
        refused("make process p2 /bin/echo $(socket.nope.port)", "Socket nope not found");
    }

    @Test
    void namesWithColonsOrControlCharacters() throws Exception {
        refused("make process a:b /bin/true", "Process name \"a:b\" is invalid: " + NAMES);
        for (String ctl : List.of("\u0001", "\u0007", "\u001b", "\u007f")) {
            refused("make process a" + ctl + "b /bin/true", "Process name \"a" + escaped(ctl) + "b\" is invalid: " + NAMES);
            refused("make socket a" + ctl + "b", "Socket name \"a" + escaped(ctl) + "b\" is invalid: " + NAMES);
            refused("set a" + ctl + "b v", "Value name \"a" + escaped(ctl) + "b\" is invalid: names may not contain control characters");
        }
    }

    @Test
    void lineOverTheMaximum() throws Exception {
        refused("set big " + "x".repeat(270_000), "Request line is too long (over 262144 bytes)");
        refused("make process big /bin/echo " + "y".repeat(300_000), "Request line is too long (over 262144 bytes)");
        assertEquals("1\n> ", c.send("get keep"));
    }

    @Test
    void nonUtf8Bytes() throws Exception {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        line.writeBytes("set bad ".getBytes(StandardCharsets.US_ASCII));
        line.writeBytes(new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xc3, '\n'});
        String reply = c.sendBytes(line.toByteArray());
        ProtocolClient.assertErrorLine("set bad <0xff 0xfe 0xc3>", reply);
        assertEquals(state, state());
        line.reset();
        line.writeBytes("make process p\u00e9".getBytes(StandardCharsets.UTF_8));
        line.writeBytes(new byte[] {(byte) 0x80, ' '});
        line.writeBytes("/bin/true\n".getBytes(StandardCharsets.US_ASCII));
        reply = c.sendBytes(line.toByteArray());
        ProtocolClient.assertErrorLine("make process <non-utf8>", reply);
        assertEquals(state, state());
    }

    @Test
    void sessionStaysUsableAfterAllOfIt() throws Exception {
        refused("bogus", "Unknown command \"bogus\"");
        refused("set big " + "x".repeat(270_000), "Request line is too long (over 262144 bytes)");
        refused("make socket s2 family=bogus", "Invalid family \"bogus\" - must be one of: unix, inet, inet6");
        assertEquals("1\n> ", c.send("get keep"));
        assertEquals("\n> ", c.send("set keep 2"));
        assertEquals("2\n> ", c.send("get keep"));
        String s = c.ok("make socket s3");
        assertTrue(s.startsWith("s3 family=inet "), s);
    }
}
