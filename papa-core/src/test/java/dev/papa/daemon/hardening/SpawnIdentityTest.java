package dev.papa.daemon.hardening;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How a child's identity, directory and open-files limit are set (issue 9, items 2, 5, 6), on
 * real daemons in their own JVMs: one running as nobody, one as root under a low soft limit.
 */
@Timeout(120)
class SpawnIdentityTest {
    private static final int NOBODY = 65534;

    /** A daemon without privileges starts processes as itself; another user is a clear error. */
    @Test
    void nonRootDaemonStartsProcessesAsItself() throws Exception {
        try (DaemonJvm d = DaemonJvm.startAs(NOBODY); Conn c = Conn.open(d.port)) {
            try {
                assertEquals("uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n",
                        output(c, "a uid=nobody /usr/bin/id"));
                assertEquals("uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n",
                        output(c, "b uid=65534 gid=nogroup /usr/bin/id"));
                assertEquals("Error: Could not start r - the daemon runs as uid 65534 without the privilege"
                        + " to start processes as uid 0 gid 0", c.result("make process r uid=root /bin/true"));
                assertEquals("Error: Could not start g - the daemon runs as uid 65534 without the privilege"
                        + " to start processes as gid 0", c.result("make process g gid=0 /bin/true"));
                assertEquals("", c.result("list processes r g"), "a failed start leaves nothing behind");
            } catch (AssertionError | IOException e) {
                throw new AssertionError("daemon log:\n" + d.logText(), e);
            }
        }
    }

    /**
     * Started under a soft limit of 1024 (hard 4096) the daemon raises its own limit, but its
     * children get the 1024 they would have had without papa, unless they ask otherwise. And an
     * administrator's process enters its working directory before it becomes the user.
     */
    @Test
    void childrenGetTheStartingOpenFilesLimitAndEnterTheirDirectoryFirst() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of("prlimit", "--nofile=1024:4096")); Conn c = Conn.open(d.port)) {
            try {
                assertTrue(openFiles(d.pid()).matches("Max open files\\s+4096\\s+4096\\s+files\\s*"), openFiles(d.pid()));
                assertEquals("1024\n4096\n", output(c, "n1 /bin/sh -c ulimit\\ -Sn;ulimit\\ -Hn"));
                assertEquals("2000\n2000\n", output(c, "n2 rlimit.nofile=2000 /bin/sh -c ulimit\\ -Sn;ulimit\\ -Hn"));
                assertEquals("/root\n65534\n", output(c, "w uid=nobody working_dir=/root /bin/sh -c pwd;id\\ -u"));
            } catch (AssertionError | IOException e) {
                throw new AssertionError("daemon log:\n" + d.logText(), e);
            }
        }
    }

    private static String openFiles(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/limits")).stream()
                .filter(l -> l.startsWith("Max open files")).findFirst().orElse("");
    }

    /** Makes the process with watch=1 and returns its stdout, checking it exited with 0. */
    private static String output(Conn c, String rest) throws IOException {
        c.send("make process " + rest.replaceFirst(" ", " watch=1 ") + "\n");
        String line = c.readLine();
        assertTrue(line.matches(rest.split(" ")[0] + " pid=\\d+ .*"), line);
        StringBuilder out = new StringBuilder();
        for (;;) {
            boolean closed = false;
            for (Conn.Item item : c.readBatch()) {
                if (item.kind().equals("out")) out.append(new String(item.data(), StandardCharsets.UTF_8));
                if (item.kind().equals("err")) out.append("stderr: ").append(new String(item.data(), StandardCharsets.UTF_8));
                if (item.kind().equals("closed")) {
                    assertEquals(0, item.exitStatus(), "exit status; output " + out);
                    closed = true;
                }
            }
            c.send("\n");
            if (closed) {
                assertEquals("Nothing left to watch", c.readLine());
                assertEquals("> ", new String(c.readN(2), StandardCharsets.US_ASCII));
                return out.toString();
            }
        }
    }
}
