package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Client text in the log (and in replies) has control, format and separator characters escaped,
 * so a request cannot forge a log line (docs/SECURITY.md, "Principals"): a daemon with {@code -d}, whose
 * audit lines (INFO) carry a process's arguments and a socket's path.
 */
@Timeout(120)
class LogEscapingTest {
    /** A carriage return, a line separator, an escape sequence and a right-to-left override. */
    private static final String FORGED = "a\r2026-12-05T00:00:00Z SEVERE forged\u2028line\u001b[2K\u202e";
    private static final String SHOWN = "a\\x0d2026-12-05T00:00:00Z SEVERE forged\\u2028line\\x1b[2K\\u202e";

    @Test
    void aRequestCannotForgeALogLine() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of(), "-d"); Conn c = Conn.open(d.port)) {
            String made = c.result("make process forger /bin/true " + FORGED);
            assertTrue(made.startsWith("forger pid=") && made.endsWith(" args=/bin/true " + SHOWN),
                    "replies show client text escaped the same way (issue 21, item 6): " + made);
            String path = "/tmp/papa-log-" + d.pid() + FORGED;
            String socket = c.result("make socket s path=" + path.replace(" ", "\\ "));
            assertTrue(socket.startsWith("s family=unix"), socket);
            assertTrue(c.result("remove sockets s").isEmpty());
            c.result("set v " + FORGED); // the value is never logged; its name is checked text
            long deadline = System.currentTimeMillis() + 20_000;
            while (!d.logText().contains("set value v")) {
                assertTrue(System.currentTimeMillis() < deadline, "no audit line for the value:\n" + d.logText());
                Thread.sleep(20); // polling the log file
            }
            String log = d.logText();
            assertTrue(log.contains("args=/bin/true " + SHOWN), log);
            assertTrue(log.contains("path=/tmp/papa-log-" + d.pid() + SHOWN), log);
            for (char raw : new char[] {'\r', '\u2028', '\u001b', '\u202e'}) {
                assertFalse(log.indexOf(raw) >= 0, "raw U+" + Integer.toHexString(raw) + " in the log:\n" + log);
            }
        }
    }
}
