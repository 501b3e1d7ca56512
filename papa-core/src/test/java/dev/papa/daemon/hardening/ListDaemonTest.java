package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code list daemon} (PROTOCOL.md Part 2, "The keeper") on a daemon without a keeper: the
 * facts an administrator sees, and the counts only a user other than an administrator sees.
 * Under the keeper: KeeperKillIT.
 */
@Timeout(120)
class ListDaemonTest extends UsersDaemonTestBase {
    static final String A = "papat22a";
    @RegisterExtension
    static final UsersFixture users = new UsersFixture("papat22g", A);

    @BeforeEach
    void start() throws Exception {
        daemon = Daemon.start(new DaemonConfig().port(0).allowUid(users.uid(A)));
    }

    static Map<String, String> facts(String reply) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : reply.split("\n")) {
            int eq = line.indexOf('=');
            assertTrue(eq > 0, "a key=value line: [" + line + "] in " + reply);
            m.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return m;
    }

    @Test
    void administratorsSeeTheWholeDaemonOthersTheirOwnCounts() throws Exception {
        Conn root = root(), a = as(A);
        assertEquals("", root.result("set r 1"));
        assertEquals("", root.result("set s 2"));
        assertEquals("", a.result("set mine 3"));
        assertTrue(root.result("make process none /nonexistent/papa-test").startsWith("Error: "), "a failed spawn");
        Map<String, String> all = facts(root.result("list daemon"));
        assertEquals(List.of("version", "daemon", "daemon_started", "restarts", "last_restart", "upgrades", "sessions",
                "processes", "sockets", "values", "queued", "budget", "dropped", "blocked", "rss", "threads", "fds", "spawns",
                "spawn_failures"),
                List.copyOf(all.keySet()), "no keeper= without a keeper");
        assertEquals(root.result("version"), all.get("version"));
        assertEquals(Long.toString(ProcessHandle.current().pid()), all.get("daemon"), "this test's JVM runs the daemon");
        assertEquals("0", all.get("restarts"));
        assertEquals("none", all.get("last_restart"));
        assertEquals("0", all.get("upgrades"));
        assertEquals("2", all.get("sessions"));
        assertEquals("3", all.get("values"));
        assertTrue(Long.parseLong(all.get("rss")) > 1 << 20, all.toString());
        assertTrue(Long.parseLong(all.get("fds")) > 3, all.toString());
        assertEquals("1", all.get("spawn_failures"), all.toString());
        assertEquals(all.keySet(), facts(root.result("l d")).keySet(), "abbreviated l d");

        Map<String, String> own = facts(a.result("list daemon"));
        assertEquals(List.of("version", "processes", "sockets", "values", "queued", "dropped", "blocked"), List.copyOf(own.keySet()));
        assertEquals("1", own.get("values"), "only its own value");
        assertFalse(own.containsKey("daemon"));

        assertEquals("Error: list daemon takes no pattern", root.result("list daemon x"));
        // Part 1's texts stay: the second words it names, and an unknown one's error
        assertEquals("Error: Bad \"list\" command. The following word must be one of: processes, sockets, values",
                root.result("list foo"));
        assertTrue(root.result("help list daemon").startsWith("Show facts about the daemon"));
    }
}
