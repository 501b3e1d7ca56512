package dev.papa.daemon.hardening;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PROTOCOL.md Part 2 "Unix socket paths", against a daemon run as root, with a real second
 * user who owns a directory on the way and acts there (setpriv) or through its own connection.
 */
@Timeout(120)
class SocketPathsTest extends UsersDaemonTestBase {
    static final String A = "papat10c", B = "papat10d", GROUP = "papat10h";
    @RegisterExtension
    static final UsersFixture users = new UsersFixture(GROUP, A, B);
    static int uidA;

    Path dir;

    @BeforeAll
    static void makeUsers() throws Exception {
        uidA = users.uid(A);
    }

    @BeforeEach
    void start() throws Exception {
        dir = Files.createTempDirectory("papa-paths");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        daemon = Daemon.start(new DaemonConfig().port(0).allowUid(uidA).allowUid(users.uid(B)));
    }

    @AfterEach
    void removeDirectory() throws Exception {
        closeAll(); // before the files go
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** A directory owned by user A, which A may change at will. */
    Path ownedByA(String name) throws Exception {
        Path d = Files.createDirectory(dir.resolve(name));
        Files.setAttribute(d, "unix:uid", uidA);
        return d;
    }

    /** Runs a shell command as user A. */
    static void shellAsA(String script) throws Exception {
        TestUsers.output("setpriv", "--reuid=" + A, "--regid=" + A, "--init-groups", "/bin/sh", "-c", script);
    }

    static boolean accepts(Path socket) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void aSymbolicLinkSwappedInIsNotFollowedOnRemove() throws Exception {
        Conn root = root();
        Path writable = ownedByA("writable");
        Path sub = Files.createDirectory(writable.resolve("sub"));
        Path victim = Files.createDirectory(dir.resolve("victim"));
        Files.writeString(victim.resolve("s.sock"), "root's file");
        assertTrue(root.result("make socket s path=" + sub + "/s.sock").startsWith("s family=unix"));
        // A moves the directory away and puts a symbolic link to root's directory in its place
        shellAsA("mv " + sub + " " + writable + "/moved && ln -s " + victim + " " + sub);
        assertEquals("", root.result("remove sockets s"));
        assertEquals("root's file", Files.readString(victim.resolve("s.sock")));
        // the socket file went with the moved directory: the path no longer leads to it, so it stays
        assertTrue(Files.exists(writable.resolve("moved/s.sock"), LinkOption.NOFOLLOW_LINKS));
        // and no new socket is made through the link
        assertEquals("Error: Bind failed: a directory on " + sub + "/t.sock is a symbolic link",
                root.result("make socket t path=" + sub + "/t.sock"));
        assertFalse(Files.exists(victim.resolve("t.sock"), LinkOption.NOFOLLOW_LINKS));
        // at exit too: a socket made there, the directory swapped, the daemon stops
        shellAsA("rm " + sub + " && mkdir " + sub);
        assertTrue(root.result("make socket u path=" + sub + "/s.sock").startsWith("u family=unix"));
        shellAsA("mv " + sub + " " + writable + "/moved2 && ln -s " + victim + " " + sub);
        daemon.close();
        assertEquals("root's file", Files.readString(victim.resolve("s.sock")));
    }

    @Test
    void aFileSwappedInAtThePathIsNotUnlinked() throws Exception {
        Conn root = root();
        Path shared = ownedByA("shared");
        root.result("make socket s path=" + shared + "/s.sock");
        shellAsA("rm " + shared + "/s.sock && echo mine > " + shared + "/s.sock");
        assertEquals("", root.result("remove sockets s"));
        assertEquals("mine\n", Files.readString(shared.resolve("s.sock")));
    }

    @Test
    void aLiveSocketIsNotTakenOver() throws Exception {
        Conn root = root();
        Path path = dir.resolve("live.sock");
        try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            other.bind(UnixDomainSocketAddress.of(path));
            assertEquals("Error: " + path + " exists and is not a stale socket", root.result("make socket x path=" + path));
            assertTrue(accepts(path), "the other program's socket still answers");
        }
        // closed now, its file left behind: stale, so it is replaced
        assertTrue(root.result("make socket x path=" + path).startsWith("x family=unix"));
        assertTrue(accepts(path));
    }

    @Test
    void aRegularFileIsNeverDeleted() throws Exception {
        Conn root = root();
        Path path = dir.resolve("data.txt");
        Files.writeString(path, "precious");
        assertEquals("Error: " + path + " exists and is not a stale socket", root.result("make socket x path=" + path));
        assertEquals("precious", Files.readString(path));
        assertEquals("", root.result("list sockets"));
    }

    @Test
    void twoSpellingsOfOneEntryAreOnePath() throws Exception {
        Conn root = root();
        Files.createDirectory(dir.resolve("d"));
        String line = root.result("make socket a path=" + dir + "/d/s.sock");
        assertTrue(line.startsWith("a family=unix"), line);
        for (String other : new String[] {dir + "/d/./s.sock", dir + "//d//s.sock", dir + "/d/../d/s.sock"}) {
            assertEquals("Error: Socket for " + other + " has already been created", root.result("make socket b path=" + other));
        }
        assertEquals("", root.result("remove sockets a"));
        assertFalse(Files.exists(dir.resolve("d/s.sock"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aUsersSocketFileIsMadeAndRemovedWithItsOwnRights() throws Exception {
        Conn root = root(), a = as(A), b = as(B);
        String etc = "/etc/papat10c.sock";
        assertEquals("Error: Bind failed: [Errno 13] Permission denied", a.result("make socket x path=" + etc));
        assertFalse(Files.exists(Path.of(etc), LinkOption.NOFOLLOW_LINKS));
        Path rootOnly = Files.createDirectory(dir.resolve("rootonly"));
        assertEquals("Error: Bind failed: [Errno 13] Permission denied", a.result("make socket x path=" + rootOnly + "/x.sock"));

        Path own = ownedByA("own");
        String line = a.result("make socket x path=" + own + "/x.sock");
        assertTrue(line.startsWith("x family=unix type=stream backlog=5 path=" + own + "/x.sock fileno="), line);
        assertEquals(uidA, Files.getAttribute(own.resolve("x.sock"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
        assertEquals("Error: x not found", b.result("remove sockets x"));
        assertEquals("Error: " + own + "/x.sock is in use by another user", b.result("make socket y path=" + own + "/x.sock"));
        // a root socket's path is as taken for A, but A is not told whose
        root.result("make socket r path=" + dir + "/r.sock");
        assertEquals("Error: " + dir + "/r.sock is in use by another user", a.result("make socket y path=" + dir + "/r.sock"));
        // root removes A's socket: the file is unlinked (as A)
        assertEquals("", root.result("remove sockets x"));
        assertFalse(Files.exists(own.resolve("x.sock"), LinkOption.NOFOLLOW_LINKS));
        // A cannot have root's stale socket in a root-only directory replaced
        Path staleDir = Files.createDirectory(dir.resolve("stale"));
        Files.setPosixFilePermissions(staleDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(staleDir.resolve("old.sock")));
        }
        assertEquals("Error: Bind failed: [Errno 13] Permission denied", a.result("make socket z path=" + staleDir + "/old.sock"));
        assertTrue(Files.exists(staleDir.resolve("old.sock"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void theControlSocketFollowsTheSameRules() throws Exception {
        Path sock = dir.resolve("papa.sock");
        try (Daemon first = Daemon.start(new DaemonConfig().unixSocket(sock))) {
            IOException e = assertThrows(IOException.class, () -> Daemon.start(new DaemonConfig().unixSocket(sock)));
            assertTrue(e.getMessage().contains(sock + " exists and is not a stale socket"), e.getMessage());
            assertTrue(accepts(sock));
            // the file is removed under the running daemon and a second daemon takes the path
            Files.delete(sock);
            try (Daemon second = Daemon.start(new DaemonConfig().unixSocket(sock))) {
                first.close();
                assertTrue(accepts(sock), "the first daemon's exit left the second's socket alone");
            }
            assertFalse(Files.exists(sock, LinkOption.NOFOLLOW_LINKS), "the second daemon removed its own socket");
        }
        Files.writeString(sock, "a file");
        IOException e = assertThrows(IOException.class, () -> Daemon.start(new DaemonConfig().unixSocket(sock)));
        assertTrue(e.getMessage().contains("exists and is not a stale socket"), e.getMessage());
        assertEquals("a file", Files.readString(sock));
        Files.delete(sock);
        Path real = Files.createDirectory(dir.resolve("real"));
        Files.createSymbolicLink(dir.resolve("link"), real);
        e = assertThrows(IOException.class, () -> Daemon.start(new DaemonConfig().unixSocket(dir.resolve("link/papa.sock"))));
        assertTrue(e.getMessage().contains("a directory on the path is a symbolic link"), e.getMessage());
        assertFalse(Files.exists(real.resolve("papa.sock"), LinkOption.NOFOLLOW_LINKS));
    }
}
