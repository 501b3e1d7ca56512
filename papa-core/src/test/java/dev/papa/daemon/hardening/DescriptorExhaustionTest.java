package dev.papa.daemon.hardening;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The daemon's JVM runs under {@code prlimit --nofile=N:N}: {@code make process} and
 * {@code make socket} fail with a clear error once descriptors run out, a connection that
 * cannot be accepted meanwhile does not make the daemon spin, and everything works again once
 * descriptors are freed.
 */
@Timeout(120)
class DescriptorExhaustionTest {
    @Test
    void outOfDescriptorsAndBack() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of("prlimit", "--nofile=256:256"))) {
            long pid = d.pid();
            try {
                run(d, pid);
            } catch (java.io.IOException | AssertionError e) {
                throw new AssertionError("daemon log:\n" + d.logText(), e);
            }
        }
    }

    private void run(DaemonJvm d, long pid) throws Exception {
        {
            try (Conn c = Conn.open(d.port)) {
                List<Integer> pids = new ArrayList<>();
                String error = null;
                for (int i = 0; i < 256 && error == null; i++) {
                    String r = c.result("make process p" + i + " /bin/sleep 600");
                    if (r.startsWith("Error: ")) error = r;
                    else pids.add(Integer.parseInt(r.replaceAll(".* pid=(\\d+) .*", "$1")));
                }
                assertTrue(error != null && error.contains("Too many open files"), "make process: " + error);
                String socketError = null;
                for (int i = 0; i < 256 && socketError == null; i++) {
                    String r = c.result("make socket s" + i);
                    if (r.startsWith("Error: ")) socketError = r;
                }
                assertTrue(socketError != null && socketError.contains("Too many open files"), "make socket: " + socketError);
                assertEquals("", c.result("set still serving")); // the session goes on

                // a connection the daemon cannot accept now: it must wait, not spin the loop
                Conn waiting = Conn.tcp(d.port);
                long cpu0 = cpuTicks(pid);
                Thread.sleep(2000);
                long cpu = cpuTicks(pid) - cpu0;
                assertTrue(cpu < 100, "daemon used " + cpu + " ticks in 2 s with a connection it cannot accept");
                // ~20 failed accepts in those 2 s: one log line, no stack trace (LogLimiter)
                String log = d.logText();
                assertEquals(1, log.split("accept failed", -1).length - 1, log);
                assertFalse(log.contains("Server.accept("), "stack trace in the log: " + log);

                // free everything: the waiting client gets in, making works again
                for (int p : pids) new ProcessBuilder("kill", Integer.toString(p)).start().waitFor();
                assertEquals("", c.result("remove sockets s*"));
                assertEquals("", c.result("remove processes p*"));
                waiting.expectGreeting();
                assertEquals("serving", waiting.result("get still"));
                waiting.close();
                String again = c.result("make process back /bin/true");
                assertTrue(again.startsWith("back pid="), again);
                assertTrue(c.result("make socket back").startsWith("back family=inet"));
                assertTrue(d.process.isAlive());
                System.out.println("descriptor exhaustion: " + pids.size() + " processes, then " + error + " / " + socketError);
            }
        }
    }

    /** utime + stime of a process, in clock ticks. */
    static long cpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
