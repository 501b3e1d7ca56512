package dev.papa.daemon.hardening;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Who may connect: root and the daemon's uid by default, more by option; everyone else is refused. */
@Timeout(120)
class AccessControlTest {
    static final int NOBODY = 65534;
    static final String WELCOME = Conn.GREETING + "ok\n";
    static final String REFUSED = "Error: permission denied for uid 65534\n";

    @Test
    void tcpRefusesOtherUsersAndAdmitsRoot() throws Exception {
        try (Daemon d = Daemon.start(new DaemonConfig().port(0))) {
            String port = Integer.toString(d.port());
            assertEquals(WELCOME, AsUser.client(null, port));
            assertEquals(REFUSED, AsUser.client(NOBODY, port));
            // an IPv6 socket (v4-mapped) is found in /proc/net/tcp6
            assertEquals(WELCOME, AsUser.client(null, "v6:" + port));
            assertEquals(REFUSED, AsUser.client(NOBODY, "v6:" + port));
            try (Conn c = Conn.open(d.port())) {
                assertEquals("", c.result("set a 1"));
                assertEquals("1", c.result("get a"));
            }
        }
    }

    /** With room for one session, refused clients must not take it: root is admitted after five refusals. */
    @Test
    void aRefusedClientCostsNoSession() throws Exception {
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).maxSessions(1))) {
            String port = Integer.toString(d.port());
            for (int i = 0; i < 5; i++) assertEquals(REFUSED, AsUser.client(NOBODY, port));
            try (Conn c = Conn.open(d.port())) {
                assertEquals("", c.result("set a 1"));
                // and the one session is the limit: another is refused for that, not for its uid
                try (Conn extra = Conn.tcp(d.port())) {
                    assertEquals("Error: too many sessions (limit 1)\n", extra.readToEof());
                }
            }
        }
    }

    /**
     * A daemon run as nobody admits nobody (its own uid) and root, and refuses uid 1: "the
     * daemon's own uid" and "root" are told apart.
     */
    @Test
    void theDaemonsOwnUidIsNotRoot() throws Exception {
        try (DaemonJvm d = DaemonJvm.startAs(NOBODY)) {
            assertEquals(NOBODY, ProcStats.status(d.pid(), "Uid"), "the daemon runs as nobody");
            String port = Integer.toString(d.port);
            assertEquals(WELCOME, AsUser.client(NOBODY, port));
            assertEquals(WELCOME, AsUser.client(null, port));
            assertEquals("Error: permission denied for uid 1\n", AsUser.client(1, port));
        }
    }

    @Test
    void allowUidLetsNobodyIn() throws Exception {
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).allowUid(NOBODY))) {
            assertEquals(WELCOME, AsUser.client(NOBODY, Integer.toString(d.port())));
            assertEquals("Error: permission denied for uid 1\n", AsUser.client(1, Integer.toString(d.port())));
        }
    }

    @Test
    void commandLineAllowUserAndLogOfRefusal() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of(), "--allow-user", "daemon")) { // uid 1
            String port = Integer.toString(d.port);
            assertEquals(WELCOME, AsUser.client(1, port));
            assertEquals(REFUSED, AsUser.client(NOBODY, port));
            long deadline = System.currentTimeMillis() + 5000;
            while (!d.logText().contains("uid 65534 is not allowed") && System.currentTimeMillis() < deadline) Thread.sleep(50);
            assertTrue(d.logText().contains("Refused a control connection from 127.0.0.1:"), d.logText());
            assertTrue(d.logText().contains("uid 65534 is not allowed"), d.logText());
        }
        try (DaemonJvm d = DaemonJvm.start(List.of(), "--allow-user=nobody", "--allow-uid", "2")) {
            assertEquals(WELCOME, AsUser.client(NOBODY, Integer.toString(d.port)));
            assertEquals(WELCOME, AsUser.client(2, Integer.toString(d.port)));
        }
    }

    @Test
    void unixSocketIsOwnerOnlyAndChecksPeerCredentials() throws Exception {
        Path dir = Files.createTempDirectory("papa-access");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path sock = dir.resolve("papa.sock");
        try {
            try (Daemon d = Daemon.start(new DaemonConfig().unixSocket(sock))) {
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
                assertEquals(WELCOME, AsUser.client(null, sock.toString()));
                String r = AsUser.client(NOBODY, sock.toString());
                assertTrue(r.startsWith("<ERROR") && r.contains("Permission denied"), r);
            }
            // a wider mode lets nobody reach the socket, but SO_PEERCRED still refuses it
            try (Daemon d = Daemon.start(new DaemonConfig().unixSocket(sock).socketMode(0666))) {
                assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
                assertEquals(REFUSED, AsUser.client(NOBODY, sock.toString()));
                assertEquals(WELCOME, AsUser.client(null, sock.toString()));
            }
            try (Daemon d = Daemon.start(new DaemonConfig().unixSocket(sock).socketMode(0666).allowUid(NOBODY))) {
                assertEquals(WELCOME, AsUser.client(NOBODY, sock.toString()));
            }
        } finally {
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
        }
    }
}
