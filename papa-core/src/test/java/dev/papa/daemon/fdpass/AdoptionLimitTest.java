package dev.papa.daemon.fdpass;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.hardening.DaemonJvm;
import dev.papa.posix.Fd;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An adopted descriptor counts against the daemon's RLIMIT_NOFILE (PROTOCOL.md "Descriptor
 * passing"; the reserve in docs/SECURITY.md). The limit is lowered on a daemon in a JVM of its
 * own with prlimit(1): lowering the shared test JVM's limit made the outcome depend on what its
 * other threads opened meanwhile.
 */
class AdoptionLimitTest {
    @TempDir Path tmp;

    @Test
    void adoptingCountsAgainstRlimitNofile() throws Exception {
        Path control = tmp.resolve("papa.sock");
        try (DaemonJvm d = DaemonJvm.startUnix(List.of(), control);
             FdClient c = FdClient.connect(control);
             Fd sock = DescriptorPassingTest.tcpListener(5)) {
            c.ok("set warm up"); // the session's code paths are loaded before the count
            int open = d.openFds();
            // The daemon keeps 64 free below the soft limit: with 60 above what it holds, the one
            // more descriptor that arrives leaves too few (a margin of a few for the JVM's own).
            d.setNofileSoft(open + 60);
            String refused = c.send("make socket s adopt=1", sock.get()).text();
            assertTrue(refused.startsWith("Error: papa is short of descriptors: "), refused);
            assertTrue(c.send("list sockets").text().equals("\n> "), "nothing was adopted");
            d.setNofileSoft(open + 200);
            String adopted = c.send("make socket s adopt=1", sock.get()).text();
            assertTrue(adopted.startsWith("s family=inet type=stream"), adopted);
        }
    }
}
