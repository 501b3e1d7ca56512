package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 9, item 7: request lines up to 256 KiB by default (Circus sends a watcher's whole
 * environment in one {@code make process}), and {@code --max-line SIZE}.
 */
@Timeout(60)
class MaxLineTest extends DaemonTestBase {
    /** 2,000 environment variables of 100 bytes: a 220 KB request line, as copy_env makes it. */
    @Test
    void aWholeEnvironmentInOneMakeProcess() throws Exception {
        ProtocolClient c = connect();
        StringBuilder env = new StringBuilder();
        for (int i = 0; i < 2000; i++) env.append(" env.V").append(i).append('=').append("x".repeat(100));
        String rest = "e" + env + " /bin/sh -c " + esc("echo ${#V1999}; env | grep -c ^V");
        assertTrue(rest.length() > 200_000 && rest.length() < 256 * 1024, "line of " + rest.length());
        List<ProtocolClient.Item> items = run(c, rest);
        assertEquals("100\n2000\n", ProtocolClient.out(items));
    }

    @Test
    void maxLineOption() throws Exception {
        assertEquals(DaemonConfig.DEFAULT_MAX_LINE, DaemonMain.parse(new String[0]).maxLine());
        assertEquals(4096, DaemonMain.parse(new String[] {"--max-line", "4k"}).maxLine());
        assertEquals(1 << 20, DaemonMain.parse(new String[] {"--max-line=1m"}).maxLine());
        for (String bad : new String[] {"0", "100", "65m", "x", "-1k"}) {
            assertThrows(IllegalArgumentException.class, () -> DaemonMain.parse(new String[] {"--max-line", bad}), bad);
        }
        try (Daemon small = Daemon.start(new DaemonConfig().port(0).maxLine(4096));
             ProtocolClient c = ProtocolClient.tcp(small.port())) {
            String value = "v".repeat(4096 - "set a ".length());
            assertEquals("", c.ok("set a " + value)); // exactly 4096 bytes
            assertEquals("Error: Request line is too long (over 4096 bytes)\n> ", c.send("set a x" + value));
            assertEquals(value, c.ok("get a"));
        }
    }
}
