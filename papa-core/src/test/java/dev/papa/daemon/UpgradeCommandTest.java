package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

/** {@code version} and the refusals of {@code upgrade} that need no second image (UpgradeIT has the rest). */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class UpgradeCommandTest extends DaemonTestBase {

    @Test
    void versionIsOneLineWithVersionBuildAndStateFormat() throws Exception {
        ProtocolClient c = connect();
        String v = c.ok("version");
        assertTrue(v.matches("papa \\S+ build \\S+ state " + java.util.regex.Pattern.quote(dev.papa.daemon.state.StateFormat.version())), v);
        assertEquals(v, c.ok("v"), "version may be abbreviated");
        assertEquals(v, c.ok("VERSION"));
    }

    @Test
    void upgradeIsNeverAbbreviatedAndOtherAbbreviationsKeepTheirMeaning() throws Exception {
        ProtocolClient c = connect();
        for (String w : new String[] {"u", "up", "upgrad", "UPGRAD"}) {
            assertEquals("You cannot abbreviate \"upgrade\"", c.error(w + " /x.jar"));
        }
        assertEquals("", c.ok("s x 1"));
        assertEquals("1", c.ok("g x"));
        assertEquals("Nothing to watch", c.error("w p"));
        assertTrue(c.ok("help upgrade").startsWith("Upgrade the daemon in place"));
    }

    @Test
    void badUpgradeRequestsAreRefusedAndChangeNothing() throws Exception {
        ProtocolClient c = connect();
        c.ok("set kept 1");
        assertEquals("cannot upgrade to /nonexistent/papa.jar - no such file", c.error("upgrade /nonexistent/papa.jar"));
        assertEquals("cannot upgrade to rel.jar - the jar path must be absolute", c.error("upgrade rel.jar"));
        assertEquals("cannot upgrade to /nonexistent/java - no such file", c.error("upgrade java=/nonexistent/java"));
        assertEquals("Unknown upgrade option \"jvm\"", c.error("upgrade jvm=x /a.jar"));
        assertEquals("upgrade takes one jar", c.error("upgrade /a.jar /b.jar"));
        assertEquals("1", c.ok("get kept"));
    }
}
