package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The values' bound is shared (docs/SECURITY.md, "Values"): one non-administrator may hold a
 * quarter of it, all of them together all but an eighth, which stays for administrators. Before,
 * one user could fill the whole bound and every other principal's {@code set} failed.
 */
@Timeout(120)
class ValuesShareTest extends UsersDaemonTestBase {
    static final String A = "papat21a", B = "papat21b", C = "papat21c", D = "papat21d", GROUP = "papat21g";
    static final long LIMIT = 64 << 10;
    static final String CHUNK = "v".repeat(1000);
    @RegisterExtension
    static final UsersFixture users = new UsersFixture(GROUP, A, B, C, D);

    /** Sets values of {@code c} until the daemon refuses one; returns that refusal. */
    static String fill(Conn c, String prefix) throws Exception {
        for (int i = 0; i < 100; i++) {
            String r = c.result("set " + prefix + i + " " + CHUNK);
            if (!r.isEmpty()) return r;
        }
        throw new AssertionError("100 values of 1,000 characters were all taken under a " + LIMIT + "-byte bound");
    }

    @Test
    void oneUserCannotTakeTheWholeBound() throws Exception {
        daemon = Daemon.start(new DaemonConfig().port(0).valuesLimit(LIMIT)
                .allowUid(users.uid(A)).allowUid(users.uid(B)).allowUid(users.uid(C)).allowUid(users.uid(D)));
        Conn root = root(), a = as(A), b = as(B), c = as(C), d = as(D);
        assertEquals("Error: Too much stored by uid " + users.uid(A) + ": the values of one user may take "
                + LIMIT / 4 + " bytes of memory", fill(a, "a"));
        // the others are not affected by what A holds
        assertEquals("", b.result("set b " + CHUNK));
        assertEquals("", root.result("set r " + CHUNK));
        // A's own room comes back when it removes a value
        assertEquals("", a.result("remove values a0"));
        assertEquals("", a.result("set again " + CHUNK));
        // users together: three full shares and most of a fourth, then the administrators' eighth stays
        assertTrue(fill(b, "b").startsWith("Error: Too much stored by uid " + users.uid(B) + ": "));
        assertTrue(fill(c, "c").startsWith("Error: Too much stored by uid " + users.uid(C) + ": "));
        assertEquals("Error: Too much stored: the values of users other than administrators may take "
                + (LIMIT - LIMIT / 8) + " bytes of memory in all", fill(d, "d"));
        assertEquals("", root.result("set r2 " + CHUNK), "administrators keep their reserve");
        assertEquals("Error: Too much stored: values may take " + LIMIT + " bytes of memory in all", fill(root, "r"));
    }
}
