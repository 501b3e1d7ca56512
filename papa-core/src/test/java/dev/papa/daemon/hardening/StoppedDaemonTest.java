package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests that the daemon reads only after their client is gone, or together with another
 * client's connection: the daemon's JVM is stopped with SIGSTOP while the clients act, then
 * continued, so it finds everything at once in one round (issue 9, items 9 and 10).
 */
@Timeout(120)
class StoppedDaemonTest {
    @TempDir Path tmp;

    /** A watch whose {@code Watching} line cannot be written is not revived after its close. */
    @Test
    void watchOfAClientThatIsGoneIsNotRevived() throws Exception {
        Path go = tmp.resolve("go");
        try (DaemonJvm d = DaemonJvm.start(List.of()); Conn a = Conn.open(d.port); Conn z = Conn.open(d.port)) {
            String sh = "while [ ! -e " + go + " ]; do sleep 0.02; done; echo late; sleep 30";
            String made = a.result("make process z /bin/sh -c " + sh.replace(" ", "\\ "));
            assertTrue(made.startsWith("z pid="), made);
            long pid = Long.parseLong(made.replaceAll(".* pid=(\\d+) .*", "$1"));
            signal("STOP", d.pid());
            try {
                z.send("watch processes z\n");
                z.abort(); // RST: the reply cannot be written
            } finally {
                signal("CONT", d.pid());
            }
            a.result("list processes z"); // the daemon has read z's request in an earlier round
            Files.createFile(go);
            a.send("watch processes z\n");
            assertEquals("Watching 1", a.readLine());
            List<Conn.Item> batch = a.readBatch();
            assertEquals("late\n", new String(batch.get(0).data(), StandardCharsets.UTF_8));
            a.send("q\n");
            assertEquals("Stopped watching\n> ", a.readUntilPrompt());
            String log = d.logText();
            assertFalse(log.contains("Exception") || log.contains("SEVERE"), "daemon log:\n" + log);
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /** exit-if-idle from a client that is gone before its reply is written still exits. */
    @Test
    void exitIfIdleWhoseReplyCannotBeWrittenExits() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of()); Conn c = Conn.open(d.port)) {
            signal("STOP", d.pid());
            try {
                c.send("exit-if-idle\n");
                c.abort();
            } finally {
                signal("CONT", d.pid());
            }
            assertTrue(d.process.waitFor(20, TimeUnit.SECONDS), "daemon still running:\n" + d.logText());
            assertEquals(0, d.process.exitValue(), "a clean exit-if-idle, not a crash:\n" + d.logText());
            assertTrue(d.logText().lines().anyMatch("papa: stopped: exit-if-idle"::equals), d.logText());
        }
    }

    /**
     * A client that connects in the round in which the last session closes after exit-if-idle
     * gets a normal session (and the exit is cancelled), not the greeting and then end of file.
     */
    @Test
    void connectionInTheRoundOfTheLastCloseGetsASession() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of()); Conn a = Conn.open(d.port)) {
            Conn late;
            signal("STOP", d.pid());
            try {
                a.send("exit-if-idle\n"); // ready first in the daemon's next round
                late = Conn.tcp(d.port);  // accepted by the kernel, seen by the daemon in the same round
            } finally {
                signal("CONT", d.pid());
            }
            int withLate;
            try (late) {
                assertEquals("Exiting papa!\n> ", a.readUntilPrompt());
                assertEquals("", a.readToEof()); // the daemon closed the exit-if-idle session
                late.expectGreeting();
                assertEquals("", late.result("get x")); // (no set: a value would make the daemon not idle)
                assertEquals("", late.result("list processes"));
                withLate = d.openFds();
            }
            // The late session was the last one: once the daemon has closed its end (one
            // descriptor fewer), it would have exited had the exit not been cancelled.
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (d.process.isAlive() && d.openFds() >= withLate && System.nanoTime() < deadline) Thread.sleep(10);
            assertTrue(d.process.isAlive(), "the daemon exited after the late session closed:\n" + d.logText());
            try (Conn again = Conn.open(d.port)) {
                assertEquals("", again.result("get x"));
            }
        }
    }

    private static void signal(String sig, long pid) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).start().waitFor());
    }
}
