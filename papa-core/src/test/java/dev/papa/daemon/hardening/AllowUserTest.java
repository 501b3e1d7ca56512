package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** docs/SECURITY.md, "Who may connect": {@code --allow-user} at start, and what a refusal leaves alone. */
@Timeout(120)
class AllowUserTest {
    /** An unknown user name stops the daemon at start: {@code papa: unknown user "NAME"}, the usage, status 2. */
    @Test
    void anUnknownUserStopsTheDaemonAtStart() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-cp", DaemonJvm.classpath(), "dev.papa.Main",
                "-p", "0", "--allow-user", "papa-no-such-user").redirectErrorStream(true).start();
        boolean stopped = p.waitFor(60, TimeUnit.SECONDS);
        if (!stopped) p.destroyForcibly();
        assertTrue(stopped, "the daemon stops");
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(output.startsWith("papa: unknown user \"papa-no-such-user\"\nusage: "), output);
        assertEquals(2, p.exitValue(), "a bad option: " + output);
    }

    /**
     * A refused connection never counts as a session and does not cancel a pending
     * {@code exit-if-idle}: the daemon exits once the last real session closes.
     */
    @Test
    void aRefusedConnectionDoesNotCancelAPendingExit() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of()); Conn stays = Conn.open(d.port)) {
            exitsAfterARefusal(d, stays, () -> assertEquals(AccessControlTest.REFUSED,
                    AsUser.client(AccessControlTest.NOBODY, Integer.toString(d.port))));
        }
    }

    /** Nor does a connection refused for a session limit (here a user's, which its open session uses up). */
    @Test
    void aSessionRefusedForTheLimitDoesNotCancelAPendingExit() throws Exception {
        try (TestUsers users = TestUsers.create("papat20g", "papat20a")) {
            int uid = users.uid("papat20a");
            try (DaemonJvm d = DaemonJvm.start(List.of(), "--allow-user", "papat20a", "--max-sessions-per-user", "1");
                 Conn stays = Conn.asUser("papat20a", Integer.toString(d.port))) {
                exitsAfterARefusal(d, stays, () -> assertEquals("Error: too many sessions for uid " + uid + " (limit 1)\n",
                        AsUser.client(uid, Integer.toString(d.port))));
            }
        }
    }

    interface Refusal { void happen() throws Exception; }

    /** exit-if-idle while {@code stays} is open; then the refusal; then {@code stays} closes. */
    private static void exitsAfterARefusal(DaemonJvm d, Conn stays, Refusal refusal) throws Exception {
        {
            try (Conn asks = Conn.open(d.port)) {
                assertEquals("Exiting papa!\n> ", asks.cmd("exit-if-idle"));
                assertEquals("", asks.readToEof());
            }
            refusal.happen();
            assertTrue(d.process.isAlive(), "a session is still open:\n" + d.logText());
            assertEquals("", stays.result("get x"), "and served");
            stays.close();
            assertTrue(d.process.waitFor(20, TimeUnit.SECONDS), "the refusal cancelled the exit:\n" + d.logText());
            assertEquals(0, d.process.exitValue(), d.logText());
            assertTrue(d.logText().lines().anyMatch("papa: stopped: exit-if-idle"::equals), d.logText());
        }
    }
}
