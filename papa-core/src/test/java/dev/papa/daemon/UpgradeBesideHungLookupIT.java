package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.papa.daemon.hardening.HungResolver;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An upgrade never waits for a lookup (issue 21, item 5: one that hung made an upgrade serve
 * nothing for 45 s). The session that asked is ended with every other; its lookup is not
 * carried out, and the new image serves at once.
 */
@Timeout(180)
class UpgradeBesideHungLookupIT {
    @Test
    void anUpgradeDoesNotWaitForAHungLookup() throws Exception {
        Path jar = JarDaemon.jar();
        assumeTrue(HungResolver.possible(), "needs root and mount namespaces");
        try (HungResolver resolver = HungResolver.start(120);
             JarDaemon d = JarDaemon.start(resolver.prefix(), JarDaemon.java17(), jar, List.of(), List.of("--lookup-timeout", "120"))) {
            String before;
            try (ProtocolClient c = d.connect()) {
                before = c.ok("version");
            }
            try (ProtocolClient asker = d.connect()) {
                asker.writeLine("make socket s host=hung.papa-test.invalid port=0");
                resolver.awaitQuery(); // the lookup is in flight; the resolver waits 120 s
                long asked = System.nanoTime();
                String reply = d.upgrade(jar.toString());
                assertEquals("Upgrading to " + before, reply);
                asker.expectEof(); // ended by the upgrade, like every session
                try (ProtocolClient c = d.connect()) {
                    assertEquals(before, c.ok("version"));
                    assertEquals("", c.ok("list sockets"), "the lookup of a session that ended is not carried out");
                }
                long served = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - asked);
                // the old daemon waited for the lookup: 120 s here
                assertTrue(served < 60_000, "the new image served " + served + " ms after the upgrade was asked for");
            }
            assertTrue(d.logText().contains("Upgrading to " + before + " ("), d.logText());
        }
    }
}
