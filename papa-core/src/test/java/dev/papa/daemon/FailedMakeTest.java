package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A refused {@code make process} leaves no descriptor and no zombie behind. Counted in a daemon of
 * its own JVM: the shared test JVM's descriptors change with whatever its other threads do.
 */
@Timeout(60)
class FailedMakeTest extends DaemonTestBase {
    @Override
    protected boolean ownJvm() {
        return true;
    }

    @Test
    void failedMakeProcessLeavesNothingBehind() throws Exception {
        ProtocolClient c = connect();
        Path notExecutable = tmp.resolve("plain.txt");
        Files.writeString(notExecutable, "not a program");
        Files.setPosixFilePermissions(notExecutable, PosixFilePermissions.fromString("rw-r--r--"));
        String[] bad = {
            "x /nonexistent/program",
            "x nosuchprogram-anywhere",
            "x " + notExecutable,
            "x " + tmp,
            "x working_dir=" + tmp.resolve("missing") + " /bin/true",
            "x uid=nosuchuser /bin/true",
        };
        ProcessHandle daemonProcess = daemonJvm.process.toHandle();
        Set<Long> zombiesBefore = zombieChildren(daemonProcess);
        for (String b : bad) c.error("make process " + b); // warm up: classes and lanes that open descriptors once
        long fdsBefore = daemonFds();
        for (int round = 0; round < 5; round++) {
            for (String b : bad) c.error("make process " + b);
        }
        assertTrue(c.error("make process " + bad[0]).startsWith("Bad command - "));
        assertTrue(c.error("make process " + bad[1]).startsWith("Bad command - "));
        assertTrue(c.error("make process " + bad[2]).startsWith("Bad command - "));
        assertTrue(c.error("make process " + bad[4]).startsWith("Bad working_dir - "));
        assertEquals("No command", c.error("make process x"));
        assertEquals("No command", c.error("make process x env.A=1 bufsize=1k"));
        assertEquals("\n> ", c.send("list processes"));
        await("no descriptor leaked (before " + fdsBefore + ", now " + daemonFds() + ")", 5_000,
                () -> daemonFdsAtMost(fdsBefore));
        await("no new zombie children", 5_000, () -> zombiesBefore.containsAll(zombieChildren(daemonProcess)));
    }
}
