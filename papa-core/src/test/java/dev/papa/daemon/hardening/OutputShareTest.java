package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import java.util.List;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The output budget is shared (docs/SECURITY.md, "Output budget"): a user's {@code overflow=block}
 * process stops reading at that user's share, so an eighth of the budget stays for the
 * administrators' output. Before, the user's blocked queue held the whole budget and root's own
 * output was evicted as it arrived (issue 21 item 4).
 */
@Timeout(120)
class OutputShareTest extends UsersDaemonTestBase {
    static final String A = "papat21s", GROUP = "papat21t";
    static final long BUDGET = 8L << 20;
    @RegisterExtension
    static final UsersFixture users = new UsersFixture(GROUP, A);

    @Test
    void aUsersBlockedOutputLeavesTheAdministratorsReserve() throws Exception {
        daemon = Daemon.start(new DaemonConfig().port(0).outputBudget(BUDGET).allowUid(users.uid(A)));
        Conn root = root(), a = as(A);
        // about 21 MB that nobody reads: only the budget stops it (its own queue could take 1 GiB)
        assertTrue(a.result("make process flood overflow=block bufsize=1g /usr/bin/seq 1 3000000").startsWith("flood pid="));
        awaitLine(root, "flood ", " blocked=True");

        // about 2 MB of root's, then root reads what was kept of it
        assertTrue(root.result("make process mine /usr/bin/seq 1 300000").startsWith("mine pid="));
        awaitLine(root, "mine ", " running=False");
        root.send("watch processes mine\n");
        assertEquals("Watching 1", root.readLine());
        long kept = 0;
        int status = -1;
        for (Conn.Item item : root.readBatch()) {
            if (item.kind().equals("closed")) status = item.exitStatus();
            else kept += item.data().length;
        }
        assertEquals(0, status, "mine's exit delivered");
        root.send("\n");
        assertEquals("Nothing left to watch\n> ", root.readUntilPrompt());
        // the reserve is BUDGET / 8; what a chunk's heap overhead and the last read take off it stays under half
        assertTrue(kept >= BUDGET / 16, "root kept " + kept + " bytes of its output beside a user's blocked queue");
        // and the user's process is still paused at its share, its output kept
        String list = root.result("list processes");
        assertTrue(list.lines().anyMatch(l -> l.startsWith("flood ") && l.contains(" blocked=True")), list);
    }

    /** Polls {@code list processes} until the line starting with {@code name} contains {@code part}. */
    private static void awaitLine(Conn c, String name, String part) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        String last = "";
        while (System.nanoTime() < deadline) {
            for (String line : List.of(c.result("list processes").split("\n"))) {
                if (line.startsWith(name)) {
                    last = line;
                    if (line.contains(part)) return;
                }
            }
            Thread.onSpinWait();
        }
        throw new AssertionError("no" + part + " in: " + last);
    }
}
