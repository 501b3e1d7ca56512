package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import dev.papa.posix.Fd;
import dev.papa.posix.Sockets;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * PROTOCOL.md "Descriptor passing", Principals: a real user (made for the test) takes and
 * adopts only its own sockets, over the daemon's unix control socket, from a process that runs
 * as that user.
 */
@Timeout(120)
class FdPassingPrincipalsTest {
    static final String A = "papat13a", GROUP = "papat13g";
    /** Sends each argument as a line ("+" first: with a listening socket of its own attached); prints repr(reply) and the descriptor count. */
    static final String CLIENT = String.join("\n",
            "import os, socket, sys",
            "ctl = socket.socket(socket.AF_UNIX); ctl.connect(sys.argv[1])",
            "def reply():",
            "    data, fds = b'', []",
            "    while not data.endswith(b'\\n> '):",
            "        d, f, _, _ = socket.recv_fds(ctl, 65536, 253)",
            "        fds += f",
            "        if not d: raise SystemExit('EOF')",
            "        data += d",
            "    for fd in fds: os.close(fd)",
            "    return data[:-3].decode(), len(fds)",
            "reply()",
            "mine = socket.socket(); mine.bind(('127.0.0.1', 0)); mine.listen(7)",
            "for line in sys.argv[2:]:",
            "    if line.startswith('+'): socket.send_fds(ctl, [line[1:].encode() + b'\\n'], [mine.fileno()])",
            "    else: ctl.sendall(line.encode() + b'\\n')",
            "    text, n = reply()",
            "    print(text.replace('\\n', '|'), n, flush=True)");

    @RegisterExtension

    static final UsersFixture users = new UsersFixture(GROUP, A);
    static int uidA;

    @BeforeAll
    static void makeUsers() throws Exception {
        uidA = users.uid(A);
    }

    @Test
    void aUserTakesAndAdoptsOnlyItsOwnSockets() throws Exception {
        Path dir = Files.createTempDirectory("papa-t13-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path control = dir.resolve("papa.sock");
        try (Daemon daemon = Daemon.start(new DaemonConfig().unixSocket(control).socketMode(0666).allowUid(uidA).singleSession(false));
             Fd root = Sockets.connectUnix(control.toString())) {
            List<String> asRoot = talk(root, "make socket rootweb");
            assertTrue(asRoot.get(1).startsWith("rootweb family=inet"), asRoot.toString());

            List<String> out = asUser(control, "take sockets rootweb", "take sockets *", "make socket amine",
                    "take sockets *", "+make socket rootweb adopt=1", "+make socket aadopted adopt=1", "list sockets");
            assertEquals("Error: rootweb not found 0", out.get(0), "another's socket is as if absent");
            assertEquals(" 0", out.get(1), "nothing of its own yet");
            assertTrue(out.get(2).startsWith("amine family=inet"), out.get(2));
            assertTrue(out.get(3).startsWith("amine family=inet") && out.get(3).endsWith(" 1"), "only its own: " + out.get(3));
            assertEquals("Error: rootweb is in use by another user 0", out.get(4));
            assertTrue(out.get(5).startsWith("aadopted family=inet type=stream backlog=7 host=127.0.0.1"), out.get(5));
            assertTrue(out.get(6).startsWith("aadopted ") && out.get(6).contains("|amine ") && !out.get(6).contains("rootweb"), out.get(6));

            // the administrator sees and takes everything
            Sockets.sendFds(root.get(), "take sockets *\n".getBytes(StandardCharsets.UTF_8));
            Sockets.Received r = Sockets.receiveFds(root.get(), 65536, 253);
            for (Fd f : r.fds()) f.close();
            assertEquals(3, r.fds().length, new String(r.data(), StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(control);
            Files.deleteIfExists(dir);
        }
    }

    /** Greeting, then each line; returns the replies (without prompts). */
    private static List<String> talk(Fd c, String... lines) throws Exception {
        List<String> replies = new ArrayList<>();
        Sockets.setReceiveTimeout(c.get(), 10_000);
        replies.add(read(c));
        for (String l : lines) {
            Sockets.sendFds(c.get(), (l + "\n").getBytes(StandardCharsets.UTF_8));
            replies.add(read(c));
        }
        return replies;
    }

    private static String read(Fd c) throws Exception {
        StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith("> ")) {
            Sockets.Received r = Sockets.receiveFds(c.get(), 65536, 4);
            for (Fd f : r.fds()) f.close();
            if (r.data().length == 0) throw new AssertionError("EOF after " + sb);
            sb.append(new String(r.data(), StandardCharsets.UTF_8));
        }
        return sb.substring(0, sb.length() - 2).strip();
    }

    private static List<String> asUser(Path control, String... lines) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + A, "--regid=" + A, "--init-groups",
                "/usr/bin/python3", "-c", CLIENT, control.toString()));
        cmd.addAll(List.of(lines));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) out.add(l);
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join("\n", out));
        assertEquals(lines.length, out.size(), String.join("\n", out));
        return out;
    }
}
