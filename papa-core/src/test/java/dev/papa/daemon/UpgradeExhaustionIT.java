package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An upgrade tried while the daemon has no descriptor left fails cleanly, leaks nothing, and
 * works once descriptors are free (issue 21, item 7: the first try left the management classes
 * unusable, so every later upgrade failed with NoClassDefFoundError, a Java exception's text in
 * the reply, and memfds leaked). The open-files limit is lowered on the daemon's own process
 * (prlimit --pid), never on the test JVM.
 */
@Timeout(180)
class UpgradeExhaustionIT {
    static long memfds(int pid) throws Exception {
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return fds.filter(f -> {
                try {
                    return Files.readSymbolicLink(f).toString().startsWith("/memfd:");
                } catch (java.io.IOException e) {
                    return false; // closed meanwhile
                }
            }).count();
        }
    }

    static int openFds(int pid) throws Exception {
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return (int) fds.count();
        }
    }

    static void nofile(int pid, int soft) throws Exception {
        Process p = new ProcessBuilder("prlimit", "--pid", Integer.toString(pid), "--nofile=" + soft + ":").inheritIO().start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "prlimit");
    }

    @Test
    void anUpgradeWithNoDescriptorLeftFailsCleanlyAndWorksAfterwards() throws Exception {
        Path jar = JarDaemon.jar();
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of("-XX:-MaxFDLimit"))) {
            String version;
            try (ProtocolClient c = d.connect()) {
                version = c.ok("version");
            }
            try (ProtocolClient c = d.connect()) {
                nofile(d.pid(), openFds(d.pid()) + 40);
                int made = 0;
                while (true) { // every descriptor taken
                    String r = c.send("make socket s" + made);
                    if (r.startsWith("Error: ")) {
                        assertTrue(r.contains("Too many open files"), r);
                        break;
                    }
                    assertTrue(++made < 100, "the limit did not hold");
                }
                for (int i = 0; i < 3; i++) { // on this session: a new connection waits for a descriptor
                    assertEquals("Error: cannot upgrade to " + jar + " - memfd_create: Too many open files (errno 24)\n> ",
                            c.send("upgrade " + jar));
                }
                assertEquals(0, memfds(d.pid()), "no memfd left behind by the failed tries");
                assertEquals("", c.ok("remove sockets s*"));
            }
            assertEquals("Upgrading to " + version, d.upgrade(jar.toString()), "once descriptors are free");
            try (ProtocolClient c = d.connect()) {
                assertEquals(version, c.ok("version"));
            }
        }
    }
}
