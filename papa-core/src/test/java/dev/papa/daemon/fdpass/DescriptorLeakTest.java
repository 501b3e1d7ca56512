package dev.papa.daemon.fdpass;

import static org.junit.jupiter.api.Assertions.*;

import dev.papa.daemon.hardening.DaemonJvm;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.Sockets;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon keeps none of the descriptors of a take or of a failed adopt (PROTOCOL.md
 * "Descriptor passing"). The daemon runs in a JVM of its own and its /proc/PID/fd is counted:
 * counting the shared test JVM's descriptors made the outcome depend on what its other threads
 * (an earlier test's daemon winding down, a class loader) opened or closed meanwhile.
 */
class DescriptorLeakTest {
    @TempDir Path tmp;

    @Test
    void atMost253SocketsInOneTake() throws Exception {
        Path control = tmp.resolve("papa.sock");
        try (DaemonJvm d = DaemonJvm.startUnix(List.of(), control); FdClient c = FdClient.connect(control)) {
            for (int i = 0; i < 254; i++) c.ok(String.format("make socket s%03d", i));
            int before = d.openFds();
            FdClient.Reply r = c.send("take sockets *");
            assertEquals("Error: at most 253 sockets in one take\n> ", r.text());
            assertEquals(0, r.fds().size());
            c.ok("remove sockets s253");
            FdClient.Reply all = c.send("take sockets s*");
            assertEquals(253, all.fds().size());
            assertEquals(253, all.text().split("\n").length - 1);
            for (int i = 0; i < 253; i++) {
                String lineI = all.text().split("\n")[i];
                int port = Integer.parseInt(lineI.replaceAll(".* port=(\\d+).*", "$1"));
                assertEquals(port, Sockets.describe(all.fds().get(i).get()).inet().getPort(), "descriptor " + i + " is line " + i);
            }
            all.closeFds();
            // less the socket removed: the daemon kept none of the duplicates it sent
            assertTrue(DescriptorBoundsTest.awaitFds(d, before - 1),
                    "the daemon holds " + d.openFds() + " descriptors, " + (before - 1) + " expected");
        }
    }

    @Test
    void aThousandFailingAdoptsLeakNoDescriptor() throws Exception {
        Path control = tmp.resolve("papa.sock");
        Fd[] pipe = Io.pipe();
        try (DaemonJvm d = DaemonJvm.startUnix(List.of(), control); FdClient c = FdClient.connect(control);
             Fd sock = DescriptorPassingTest.tcpListener(5)) {
            c.ok("make socket taken");
            int before = d.openFds();
            for (int i = 0; i < 1000; i++) {
                String reply = switch (i % 5) {
                    case 0 -> c.send("make socket p adopt=1", pipe[1].get()).text();          // not a socket
                    case 1 -> c.send("make socket p adopt=1", sock.get(), sock.get()).text(); // cut
                    case 2 -> c.send("make socket taken adopt=1", sock.get()).text();         // name in use
                    case 3 -> c.send("make socket p adopt=1 family=inet", sock.get()).text(); // bad option
                    default -> c.send("make socket bad:name adopt=1", sock.get()).text();     // bad name
                };
                assertTrue(reply.startsWith("Error: "), i + ": " + reply);
            }
            assertTrue(DescriptorBoundsTest.awaitFds(d, before),
                    "the daemon holds " + d.openFds() + " descriptors, " + before + " before");
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
    }
}
