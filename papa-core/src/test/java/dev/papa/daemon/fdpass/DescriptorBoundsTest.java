package dev.papa.daemon.fdpass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.hardening.DaemonJvm;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.Sockets;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Descriptors a client can make the daemon hold are bounded per session (issue 21, items 2 and
 * 3), counted in a daemon of its own process (/proc/PID/fd).
 */
@Timeout(120)
class DescriptorBoundsTest {
    @TempDir Path tmp;

    /** Polls until the daemon has read everything {@code c} sent (SIOCOUTQ of the client's end is 0). */
    static void awaitRead(FdClient c) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (Sockets.unreadByPeer(c.fd()) > 0) {
            assertTrue(System.nanoTime() < deadline, "the daemon did not read what was sent");
            Thread.sleep(5);
        }
    }

    /** Polls until the daemon has at most {@code most} descriptors open; false after 10 s. */
    static boolean awaitFds(DaemonJvm d, int most) throws Exception {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (d.openFds() > most) {
            if (System.nanoTime() > deadline) return false;
            Thread.sleep(5);
        }
        return true;
    }

    @Test
    void anUnfinishedLineHoldsOneDescriptorHoweverManyArrive() throws Exception {
        Path control = tmp.resolve("papa.sock");
        Fd[] pipe = Io.pipe();
        try (DaemonJvm d = DaemonJvm.startUnix(List.of(), control); FdClient c = FdClient.connect(control)) {
            c.ok("set warm up");
            int before = d.openFds();
            byte[] x = "x".getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < 2000; i++) Sockets.sendFds(c.fd(), x, pipe[1].get()); // one byte, one descriptor, no newline
            awaitRead(c);
            // (the daemon closes each extra right after the read that brought it: allow it that moment)
            assertTrue(awaitFds(d, before + 1), "the daemon holds " + (d.openFds() - before) + " descriptors for one unfinished line");
            FdClient.Reply r = c.send("");
            assertEquals("Error: more descriptors were attached to the request than papa takes (1): refused, and every "
                    + "descriptor of it closed\n> ", r.text());
            // closed right after the reply was written, so the reply may come first
            assertTrue(awaitFds(d, before), "every one closed: " + d.openFds() + " open, " + before + " before");
            try (FdClient other = FdClient.connect(control)) { // greeted at once
                assertEquals("up", other.ok("get warm"));
            }
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
    }

    @Test
    void takesThatAreNeverReadHoldOneTakesDescriptors() throws Exception {
        Path control = tmp.resolve("papa.sock");
        try (DaemonJvm d = DaemonJvm.startUnix(List.of(), control); FdClient c = FdClient.connect(control)) {
            c.ok("make socket s");
            int before = d.openFds();
            // 5,000 takes in one go, and their replies (each with a descriptor) never read
            byte[] takes = "take sockets s\n".repeat(5000).getBytes(StandardCharsets.US_ASCII);
            Sockets.sendFds(c.fd(), takes);
            // the daemon stops parsing once a reply's descriptor cannot be written: wait until it stops reading
            long deadline = System.nanoTime() + 30_000_000_000L;
            int unread = -1;
            while (true) {
                int now = Sockets.unreadByPeer(c.fd());
                if (now == unread || now == 0) break;
                unread = now;
                assertTrue(System.nanoTime() < deadline, "the daemon kept reading");
                Thread.sleep(200);
            }
            int held = d.openFds() - before;
            assertTrue(held <= 2, "the daemon holds " + held + " descriptors for takes nobody reads (one take of one socket at a time)");
            // and serves everybody else meanwhile
            try (FdClient other = FdClient.connect(control)) {
                assertEquals("", other.ok("get x"));
                assertTrue(other.ok("list sockets").startsWith("s family=inet "));
            }
        }
    }
}
