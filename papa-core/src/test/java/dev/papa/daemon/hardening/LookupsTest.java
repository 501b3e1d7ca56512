package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The lookup lane (docs/SECURITY.md, "Lookups"): a resolver that never answers and a user who
 * sends many slow lookups delay nobody else; each user's lookups are bounded; a lookup has a
 * deadline. Each daemon runs in a private mount namespace whose resolver never answers.
 */
@Timeout(120)
class LookupsTest {
    private static final String GROUP = "papalookg";
    private static final String USER = "papalooka";
    @RegisterExtension
    static final UsersFixture users = new UsersFixture(GROUP, USER);
    private final List<Long> pids = new ArrayList<>();

    @BeforeAll
    static void createUser() throws Exception {
        assumeTrue(HungResolver.possible(), "needs root and mount namespaces");
    }

    @AfterEach
    void killProcesses() {
        for (long pid : pids) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }

    /** A host lookup the resolver does not answer gets an error at the daemon's deadline, not the resolver's. */
    @Test
    void aLookupIsAnsweredAtTheDeadline() throws Exception {
        try (HungResolver resolver = HungResolver.start(60);
             DaemonJvm d = DaemonJvm.start(resolver.prefix(), "--lookup-timeout", "1");
             Conn c = Conn.open(d.port)) {
            long asked = System.nanoTime();
            c.send("make socket s host=hung.papa-test.invalid port=0\n");
            resolver.awaitQuery();
            assertEquals("Error: No answer looking up host hung.papa-test.invalid within 1 s\n> ", c.readUntilPrompt());
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked);
            assertTrue(waited >= 1000, "answered after " + waited + " ms, before the deadline");
            assertTrue(waited < 30_000, "answered after " + waited + " ms: the resolver's 60 s were waited for");
            assertEquals("", c.result("list sockets"), "nothing was made");
            // the lane took a new thread for the one left hanging: lookups go on
            String made = c.result("make process p uid=nobody /bin/sleep 30");
            assertTrue(made.startsWith("p pid="), made);
            pids.add(Long.parseLong(made.split(" ")[1].substring(4)));
            assertTrue(d.logText().contains("A lookup of host hung.papa-test.invalid has not returned after 1000 ms; "
                    + "1 lookup thread(s) wait for the user database or resolver"), d.logText());
        }
    }

    /** A user's hung lookups, however many, do not delay another user's: users take turns. */
    @Test
    void oneUsersHungLookupsDelayNoOtherUser() throws Exception {
        try (HungResolver resolver = HungResolver.start(60);
             DaemonJvm d = DaemonJvm.start(resolver.prefix(), "--lookup-timeout", "60", "--allow-user", USER)) {
            List<Conn> slow = new ArrayList<>();
            try {
                for (int i = 0; i < 6; i++) {
                    Conn c = Conn.asUser(USER, Integer.toString(d.port));
                    slow.add(c);
                    c.send("make socket s" + i + " host=hung" + i + ".papa-test.invalid port=0\n");
                }
                resolver.awaitQuery(); // the user's first lookup hangs; five more wait behind it
                try (Conn root = Conn.open(d.port)) {
                    String made = root.result("make process p uid=nobody gid=nogroup /bin/sleep 30");
                    assertTrue(made.startsWith("p pid="), made);
                    pids.add(Long.parseLong(made.split(" ")[1].substring(4)));
                }
                for (Conn c : slow) assertEquals(0, c.available(), "a hung lookup was answered: the test proves nothing");
            } finally {
                for (Conn c : slow) c.close();
            }
        }
    }

    /** A user has at most 64 lookups waiting or running; more are refused at once, and others are served. */
    @Test
    void aUsersLookupsAreBounded() throws Exception {
        try (HungResolver resolver = HungResolver.start(60);
             DaemonJvm d = DaemonJvm.start(resolver.prefix(), "--lookup-timeout", "60", "--allow-user", USER)) {
            List<Conn> conns = new ArrayList<>();
            try {
                for (int i = 0; i < 70; i++) {
                    Conn c = Conn.open(d.port);
                    conns.add(c);
                    c.send("make socket s" + i + " host=hung" + i + ".papa-test.invalid port=0\n");
                }
                // Whichever 64 the daemon took first wait; the other 6 are refused at once.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                List<Conn> refused = new ArrayList<>();
                while (refused.size() < 6 && System.nanoTime() < deadline) {
                    for (Conn c : conns) if (!refused.contains(c) && c.available() > 0) refused.add(c);
                    Thread.sleep(10); // polling the 70 connections for their replies
                }
                assertEquals(6, refused.size(), "refused at once");
                for (Conn c : refused) {
                    assertEquals("Error: Too many lookups in progress for uid 0 (64), try again\n> ", c.readUntilPrompt());
                }
                // another user is served meanwhile (a non-administrator's process needs its groups looked up)
                try (Conn other = Conn.asUser(USER, Integer.toString(d.port))) {
                    String made = other.result("make process q /bin/sleep 30");
                    assertTrue(made.startsWith("q pid="), made);
                    pids.add(Long.parseLong(made.split(" ")[1].substring(4)));
                }
                for (Conn c : conns) {
                    if (!refused.contains(c)) assertEquals(0, c.available(), "a hung lookup was answered: the test proves nothing");
                }
            } finally {
                for (Conn c : conns) c.close();
            }
        }
    }
}
