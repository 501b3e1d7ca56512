package dev.papa.daemon.hardening;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon in its own JVM receives SIGPIPE, SIGHUP and SIGCHLD bursts while 1,000 of its
 * children exit at once: no crash, no zombie, no descriptor leak.
 */
@Timeout(120)
class SignalStormTest {
    static final int CHILDREN = Integer.getInteger("papa.hardening.stormChildren", 1000);

    @Test
    void signalsAndAThousandSimultaneousExits() throws Exception {
        Path dir = Files.createTempDirectory("papa-storm");
        Path fifo = dir.resolve("go");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        try (DaemonJvm d = DaemonJvm.start(List.of())) {
            long pid = d.pid();
            try (Conn c = Conn.open(d.port)) {
                // warm up the code paths that open descriptors once (JIT, log, /proc readers)
                assertTrue(c.result("make process warm /bin/true").startsWith("warm pid="));
                drainAll(c, "warm", 1);
                int fdsBefore = settledFdCount(pid); // the warm process's pipes close just after its ack

                signals(pid, 200);
                // 1,000 children reading the fifo. The test holds it open for writing (O_RDWR: the
                // open does not wait for a reader), so no child's open waits; once every child has
                // it open, closing the test's end gives all of them EOF at once. (A child that
                // opened only after the last writer left would wait in open() for ever.)
                FileChannel writer = FileChannel.open(fifo, StandardOpenOption.READ, StandardOpenOption.WRITE);
                java.util.concurrent.FutureTask<Void> storm;
                try {
                    StringBuilder many = new StringBuilder();
                    for (int i = 0; i < CHILDREN; i++) many.append("make process c").append(i).append(" /bin/cat ").append(fifo).append('\n');
                    c.send(many.toString());
                    List<Long> children = new ArrayList<>();
                    for (int i = 0; i < CHILDREN; i++) {
                        String r = c.readUntilPrompt();
                        Matcher m = Pattern.compile("c" + i + " pid=(\\d+) ").matcher(r);
                        assertTrue(m.lookingAt(), r);
                        children.add(Long.parseLong(m.group(1)));
                    }
                    assertTrue(ProcStats.fdCount(pid) >= fdsBefore + 2 * CHILDREN);
                    awaitOpened(children, fifo);
                    // all exit at once (EOF on the fifo), while signals keep coming
                    storm = new java.util.concurrent.FutureTask<>(() -> {
                        signals(pid, 1000);
                        return null;
                    });
                    new Thread(storm, "signal-storm").start();
                } finally {
                    writer.close();
                }
                storm.get(60, TimeUnit.SECONDS); // rethrows the storm's failure; times out if it hangs
                drainAll(c, "c*", CHILDREN);
                assertTrue(d.process.isAlive(), "daemon died: " + d.logText());
                assertEquals("", c.result("list processes"));
                assertEquals(List.of(), ProcStats.zombieChildren(pid));
                assertEquals(List.of(), ProcStats.children(pid));
                // the last exits' pipes and pidfds are closed as their items are acknowledged:
                // give the daemon the moment after the last reply; a leak never comes back down
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (ProcStats.fdCount(pid) > fdsBefore && System.nanoTime() < deadline) Thread.sleep(10);
                assertEquals(fdsBefore, ProcStats.fdCount(pid), "descriptors leaked");
            }
            try (Conn c = Conn.open(d.port)) {
                assertEquals("", c.result("set alive yes"));
            }
            assertTrue(d.process.isAlive());
        } finally {
            Files.deleteIfExists(fifo);
            Files.deleteIfExists(dir);
        }
    }

    /** The daemon's descriptor count once it stayed the same for 300 ms. */
    static int settledFdCount(long pid) throws Exception {
        int last = ProcStats.fdCount(pid);
        long since = System.nanoTime();
        long deadline = since + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() - since < TimeUnit.MILLISECONDS.toNanos(300) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            int n = ProcStats.fdCount(pid);
            if (n != last) {
                last = n;
                since = System.nanoTime();
            }
        }
        return last;
    }

    /** Polls until each of {@code pids} has {@code fifo} open (the handshake before the common EOF). */
    static void awaitOpened(List<Long> pids, Path fifo) throws Exception {
        List<Long> waiting = new ArrayList<>(pids);
        Path target = fifo.toRealPath(); // what /proc/PID/fd/N links to
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (;;) {
            waiting.removeIf(child -> holds(child, target));
            if (waiting.isEmpty()) return;
            assertTrue(System.nanoTime() < deadline, waiting.size() + " children never opened the fifo, e.g. " + waiting.get(0));
            Thread.sleep(10); // poll interval
        }
    }

    /** Whether process {@code pid} has {@code file} open (false once it is gone). */
    static boolean holds(long pid, Path file) {
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    if (Files.readSymbolicLink(fd).equals(file)) return true;
                } catch (NoSuchFileException closedMeanwhile) {
                    // not this one
                }
            }
            return false;
        } catch (NoSuchFileException gone) {
            return false;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** SIGPIPE, SIGHUP and SIGCHLD, {@code rounds} times each, from one shell. */
    static void signals(long pid, int rounds) throws Exception {
        Process p = new ProcessBuilder("bash", "-c",
                "for i in $(seq " + rounds + "); do kill -PIPE " + pid + "; kill -HUP " + pid + "; kill -CHLD " + pid + "; done")
                .inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
    }

    /** Watches {@code pattern} and acknowledges until every one of {@code n} processes exited with 0. */
    static void drainAll(Conn c, String pattern, int n) throws Exception {
        c.send("watch processes " + pattern + "\n");
        assertEquals("Watching " + n, c.readLine());
        Set<String> closed = new HashSet<>();
        while (closed.size() < n) {
            for (Conn.Item it : c.readBatch()) {
                if (it.kind().equals("closed")) {
                    assertEquals(0, it.exitStatus(), it.name());
                    assertTrue(closed.add(it.name()), "closed twice: " + it.name());
                }
            }
            c.send("\n");
        }
        assertEquals("Nothing left to watch\n> ", c.readUntilPrompt());
    }
}
