package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A port one principal holds is never bound for another (issue 21, item 1). The daemon binds
 * every socket as root with SO_REUSEADDR/SO_REUSEPORT, so the kernel's same-uid rule did not
 * separate users: an allowed user could bind root's UDP port, a more specific address under
 * root's wildcard, or join root's reuseport group, and receive root's traffic.
 */
@Timeout(120)
class PortOwnershipTest extends UsersDaemonTestBase {
    static final String A = "papat22a", GROUP = "papat22g";
    @RegisterExtension
    static final UsersFixture users = new UsersFixture(GROUP, A);

    @BeforeEach
    void start() throws Exception {
        daemon = Daemon.start(new DaemonConfig().port(0).allowUid(users.uid(A)));
    }

    static int port(String line) {
        Matcher m = Pattern.compile(" port=(\\d+)").matcher(line);
        assertTrue(m.find(), line);
        return Integer.parseInt(m.group(1));
    }

    static String inUse(int port) {
        return "Error: port " + port + " is in use by another user";
    }

    @Test
    void anotherUserCannotBindRootsDatagramPort() throws Exception {
        Conn root = root(), a = as(A);
        int p = port(root.result("make socket dns type=dgram host=0.0.0.0 port=0"));
        assertEquals(inUse(p), a.result("make socket x type=dgram port=" + p));
        assertEquals(inUse(p), a.result("make socket x type=dgram host=0.0.0.0 port=" + p));
        assertEquals(inUse(p), a.result("make socket x family=inet6 type=dgram host=:: port=" + p), ":: covers IPv4");
        assertEquals(inUse(p), a.result("make socket x family=inet6 type=dgram host=::ffff:127.0.0.1 port=" + p));
        assertEquals("", a.result("list sockets"), "nothing was made");
        // another transport or an address that does not overlap is another port: not refused for
        // ownership (the kernel may still refuse it if something else on the machine holds it)
        notRefusedForOwnership(a.result("make socket tcp port=" + p), "tcp family=inet type=stream ");
        notRefusedForOwnership(a.result("make socket v6 family=inet6 type=dgram host=::1 port=" + p), "v6 family=inet6 type=dgram ");
    }

    static void notRefusedForOwnership(String reply, String made) {
        assertTrue(reply.startsWith(made) || reply.startsWith("Error: Bind failed on "), reply);
    }

    @Test
    void anIpv6WildcardCoversEveryAddress() throws Exception {
        Conn root = root(), a = as(A);
        int p = port(root.result("make socket any family=inet6 type=dgram host=:: port=0"));
        assertEquals(inUse(p), a.result("make socket x family=inet6 type=dgram host=::1 port=" + p));
        assertEquals(inUse(p), a.result("make socket x type=dgram host=127.0.0.1 port=" + p));
    }

    @Test
    void anotherUserCannotJoinRootsReusePortGroup() throws Exception {
        Conn root = root(), a = as(A);
        int p = port(root.result("make socket web reuseport=1"));
        assertEquals(inUse(p), a.result("make socket mine reuseport=1 port=" + p));
        assertEquals(inUse(p), a.result("make socket mine reuseport=1 host=0.0.0.0 port=" + p));
        assertEquals("", a.result("list sockets"));
    }

    @Test
    void aUsersPortIsNotBoundForRootEither() throws Exception {
        Conn root = root(), a = as(A);
        int p = port(a.result("make socket mine type=dgram port=0"));
        assertEquals(inUse(p), root.result("make socket theirs type=dgram host=0.0.0.0 port=" + p));
        // the same principal may (a second socket of its own on that port)
        assertTrue(a.result("make socket again type=dgram port=" + p).startsWith("again family=inet type=dgram "));
    }
}
