package dev.papa.daemon.hardening;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Session quotas (docs/SECURITY.md, "Sessions") with real users papat11a and papat11b: one
 * user's idle sessions end at its own quota, non-administrators together leave the
 * administrators' share free, and a closed session gives its place back.
 */
@Timeout(120)
class SessionQuotaTest {
    @RegisterExtension
    static final UsersFixture users = new UsersFixture("papat11g", "papat11a", "papat11b");
    static int a;
    static int b;

    @BeforeAll
    static void createUsers() throws Exception {
        a = users.uid("papat11a");
        b = users.uid("papat11b");
    }

    /** 1,024 idle sessions of one user: 256 get in, the rest are refused, and root still gets in. */
    @Test
    void oneUserCannotLockRootOut() throws Exception {
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).allowUid(a));
             ManySessions idle = ManySessions.open(a, d.port(), 1024)) {
            assertEquals("opened 256 refused 768 Error: too many sessions for uid " + a + " (limit 256)", idle.summary);
            try (Conn root = Conn.open(d.port())) {
                assertEquals("", root.result("set root here"));
            }
        }
    }

    @Test
    void administratorsKeepTheirShareAndPlacesComeBack() throws Exception {
        // limit 40: 5 kept for administrators, 35 for everyone else, 30 for one uid
        try (Daemon d = Daemon.start(new DaemonConfig().port(0).allowUid(a).allowUid(b).maxSessions(40).maxSessionsPerUser(30))) {
            List<Conn> roots = new ArrayList<>();
            try (ManySessions first = ManySessions.open(a, d.port(), 30)) {
                assertEquals("opened 30 refused 0 ", first.summary);
                try (ManySessions second = ManySessions.open(b, d.port(), 30)) {
                    assertEquals("opened 5 refused 25 Error: too many sessions (limit 40, of which 5 are kept for administrators)",
                            second.summary);
                    for (int i = 0; i < 5; i++) roots.add(Conn.open(d.port()));
                    try (Conn over = Conn.tcp(d.port())) {
                        assertEquals("Error: too many sessions (limit 40)\n", over.readToEof());
                    }
                    for (Conn c : roots) c.close();
                }
            }
            // everyone's sessions closed: the quota counted them out again (polled: closes are asynchronous)
            long deadline = System.nanoTime() + 20_000_000_000L;
            String again;
            do {
                try (ManySessions later = ManySessions.open(b, d.port(), 30)) {
                    again = later.summary;
                }
            } while (!again.equals("opened 30 refused 0 ") && System.nanoTime() < deadline);
            assertEquals("opened 30 refused 0 ", again);
        }
    }
}
