package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * What docs/PROTOCOL.md, "Upgrading in place", says carries over, seen through a real upgrade of
 * a daemon run from the packaged jar: owners (a value and a socket of {@code nobody}, acting
 * through {@code ctl} run as nobody), {@code dropped=}, {@code overflow=block} state, and the
 * queued items with their capture timestamps.
 */
class UpgradeCarriesStateIT {
    private static final Pattern PID = Pattern.compile(" pid=(\\d+) ");
    private static final Pattern DROPPED = Pattern.compile(" dropped=(\\d+) ");

    /** {@code java -jar JAR ctl -p PORT WORDS...} run as nobody; must exit 0; its output. */
    private static String asNobody(JarDaemon d, Path jar, String... words) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                JarDaemon.java17(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", jar.toString(),
                "ctl", "-p", Integer.toString(d.port)));
        cmd.addAll(List.of(words));
        Process p = new ProcessBuilder(cmd).directory(new java.io.File("/")).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "ctl " + String.join(" ", words));
        assertEquals(0, p.exitValue(), "ctl " + String.join(" ", words) + ": " + out);
        return out.strip();
    }

    /** The batch a watcher gets now; the connection closes without acknowledging it. */
    private static List<ProtocolClient.Item> peek(JarDaemon d, String name) throws Exception {
        try (ProtocolClient w = d.connect()) {
            w.writeLine("watch processes " + name);
            assertEquals("Watching 1", w.readLine());
            return w.readBatch();
        }
    }

    private static String awaitListed(ProtocolClient c, String name, String part) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        while (true) {
            String line = c.ok("list processes " + name);
            if (line.contains(part)) return line;
            assertTrue(System.currentTimeMillis() < deadline, name + " never showed" + part + ": " + line);
            Thread.sleep(20); // polling the daemon's table
        }
    }

    @Test
    void ownersDroppedBlockedAndQueuedItemsCarryOver() throws Exception {
        Path jar = JarDaemon.jar();
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of(), List.of(JarDaemon.IN_PLACE, "--allow-user", "nobody"))) {
            assertEquals("", asNobody(d, jar, "set", "mine", "kept"));
            String theirs = asNobody(d, jar, "make", "socket", "theirs");
            assertTrue(theirs.startsWith("theirs family=inet"), theirs);
            String lossy;
            String audit;
            try (ProtocolClient c = d.connect()) {
                c.ok("set admins own");
                d.hosted(number(PID, c.ok("make process lossy overflow=drop bufsize=1k /usr/bin/seq 1 100000")));
                d.hosted(number(PID, c.ok("make process audit overflow=block bufsize=4k /usr/bin/seq 1 100000")));
                lossy = awaitListed(c, "lossy", " running=False ");
                assertTrue(number(DROPPED, lossy) > 0, lossy);
                audit = awaitListed(c, "audit", " blocked=True ");
                assertTrue(audit.contains(" running=True "), "blocked in write(): " + audit);
            }
            List<ProtocolClient.Item> lossyItems = peek(d, "lossy");
            List<ProtocolClient.Item> auditItems = peek(d, "audit");
            String version;
            try (ProtocolClient c = d.connect()) {
                version = c.ok("version");
            }

            assertEquals("Upgrading to " + version, d.upgrade(jar.toString()));

            try (ProtocolClient c = d.connect()) {
                assertEquals(lossy, c.ok("list processes lossy"), "dropped= is the same");
                assertEquals(audit, c.ok("list processes audit"), "still blocked");
                assertEquals("admins own\nmine kept", c.ok("list values"));
            }
            assertEquals("mine kept", asNobody(d, jar, "list", "values"), "nobody's value is still nobody's alone");
            assertEquals(theirs, asNobody(d, jar, "list", "sockets"));
            assertEquals(lossyItems.toString(), peek(d, "lossy").toString(), "same items, kinds and timestamps");

            try (ProtocolClient c = d.connect()) {
                c.writeLine("watch processes audit");
                assertEquals("Watching 1", c.readLine());
                List<ProtocolClient.Item> first = c.readBatch();
                assertEquals(auditItems.toString(), first.toString(), "same items, kinds and timestamps");
                c.writeLine(""); // the acknowledgement resumes reading where the process blocked
                String more = ProtocolClient.out(c.readBatch());
                StringBuilder seq = new StringBuilder();
                for (int i = 1; i <= 100_000; i++) seq.append(i).append('\n');
                String both = ProtocolClient.out(first) + more;
                assertTrue(!more.isEmpty() && seq.toString().startsWith(both), "the output goes on in order: " + both);
            }
        }
    }

    private static int number(Pattern p, String line) {
        Matcher m = p.matcher(line);
        assertTrue(m.find(), line);
        return Integer.parseInt(m.group(1));
    }
}
