package dev.papa.daemon.hardening;

import dev.papa.client.Papa;
import dev.papa.client.PapaException;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Java client talks only to a daemon run by root or by its own uid: a real other user
 * takes the address first, greets like papa and records what it is sent.
 */
@Timeout(120)
class DaemonOwnerCheckTest {
    static final String IMPOSTOR = "papat10e", OTHER = "papat10f", GROUP = "papat10i";
    @RegisterExtension
    static final UsersFixture users = new UsersFixture(GROUP, IMPOSTOR, OTHER);
    static int uid;

    /** Listens (TCP on a free port, or the unix path given), greets, and prints what each client sent. */
    static final String FAKE = String.join("\n",
            "import socket, sys",
            "a = sys.argv[1]",
            "if a == 'tcp':",
            "    s = socket.socket(); s.bind(('127.0.0.1', 0))",
            "else:",
            "    s = socket.socket(socket.AF_UNIX); s.bind(a)",
            "s.listen(5)",
            "print(s.getsockname()[1] if a == 'tcp' else 'ready', flush=True)",
            "while True:",
            "    c, _ = s.accept()",
            "    c.sendall(b'Papa is home. Type \"help\" for commands.\\n> ')",
            "    data = b''",
            "    while True:",
            "        d = c.recv(65536)",
            "        if not d: break",
            "        data += d",
            "    print('received %r' % data, flush=True)",
            "");

    @BeforeAll
    static void makeUsers() throws Exception {
        uid = users.uid(IMPOSTOR);
    }

    static Process impostor(String where) throws Exception {
        return new ProcessBuilder("setpriv", "--reuid=" + IMPOSTOR, "--regid=" + IMPOSTOR, "--init-groups",
                "/usr/bin/python3", "-c", FAKE, where).redirectErrorStream(true).start();
    }

    static void refusedAndNothingSent(Process fake, BufferedReader out, Papa.Builder client) throws Exception {
        PapaException e = assertThrows(PapaException.class, client::connect);
        assertEquals(PapaException.Kind.CONNECTION, e.kind());
        assertTrue(e.getMessage().contains("runs as uid " + uid + ", neither root nor this process's uid 0"), e.getMessage());
        assertTrue(e.getMessage().contains("checkDaemonOwner(false)"), e.getMessage());
        assertEquals("received b''", out.readLine(), "the client closed without sending a byte");
        // with the check off the client talks to it
        try (Papa p = client.checkDaemonOwner(false).connect()) {
            assertTrue(p.endpoint() != null);
        }
        assertEquals("received b''", out.readLine());
    }

    @Test
    void aTcpDaemonOfAnotherUserIsRefused() throws Exception {
        Process fake = impostor("tcp");
        try (BufferedReader out = new BufferedReader(new InputStreamReader(fake.getInputStream(), StandardCharsets.UTF_8))) {
            int port = Integer.parseInt(out.readLine().strip());
            refusedAndNothingSent(fake, out, Papa.builder().port(port).autoStart(false).timeout(Duration.ofSeconds(10)));
        } finally {
            fake.destroyForcibly().waitFor();
        }
    }

    @Test
    void aUnixDaemonOfAnotherUserIsRefused() throws Exception {
        Path dir = Files.createTempDirectory("papa-owner");
        Files.setAttribute(dir, "unix:uid", uid);
        Path sock = dir.resolve("papa.sock");
        Process fake = impostor(sock.toString());
        try (BufferedReader out = new BufferedReader(new InputStreamReader(fake.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("ready", out.readLine().strip());
            refusedAndNothingSent(fake, out, Papa.builder().path(sock).autoStart(false).timeout(Duration.ofSeconds(10)));
        } finally {
            fake.destroyForcibly().waitFor();
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void rootsOwnDaemonIsAccepted() throws Exception {
        try (dev.papa.daemon.Daemon d = dev.papa.daemon.Daemon.start(new dev.papa.daemon.DaemonConfig().port(0));
             Papa p = Papa.builder().port(d.port()).autoStart(false).connect()) {
            p.set("k", "v");
            assertEquals("v", p.get("k"));
        }
    }
}
