package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * In-place upgrades of a daemon run from the packaged jar, with real processes: what survives,
 * what a process exiting meanwhile looks like, and the failures that leave the daemon serving.
 * The load test with 20 upgrades is {@link UpgradeUnderLoadIT}.
 */
class UpgradeIT {
    private static final Pattern PID = Pattern.compile(" pid=(\\d+) ");
    private static final Pattern FILENO = Pattern.compile(" fileno=(\\d+)");

    @TempDir
    Path dir;

    static int number(Pattern p, String line) {
        Matcher m = p.matcher(line);
        assertTrue(m.find(), line);
        return Integer.parseInt(m.group(1));
    }

    @Test
    void stateSurvivesAndAProcessExitingDuringTheUpgradeIsReported() throws Exception {
        Path jar = JarDaemon.jar();
        Path copy = Files.copy(jar, dir.resolve("papa-new.jar"));
        // Exits with 7 once its parent's command line changes: while the new image starts.
        Path script = Files.writeString(dir.resolve("leaver.sh"), String.join("\n",
                "before=$(tr '\\0' ' ' < /proc/$PPID/cmdline)",
                "while [ \"$(tr '\\0' ' ' < /proc/$PPID/cmdline)\" = \"$before\" ]; do sleep 0.01; done",
                "echo bye", "exit 7", ""));
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of())) {
            String sleeper;
            String socket;
            String leaver;
            try (ProtocolClient c = d.connect()) {
                c.ok("set motd hello upgraded world");
                socket = c.ok("make socket web port=0");
                sleeper = c.ok("make process sleeper /bin/sh -c echo\\ started;exec\\ sleep\\ 600");
                leaver = c.ok("make process leaver /bin/sh " + script);
                assertEquals("started", ProtocolClient.out(watchOne(c, "sleeper")).strip());
            }
            d.hosted(number(PID, sleeper));
            int fileno = number(FILENO, socket);
            String inode = d.descriptor(fileno);
            String version;
            try (ProtocolClient c = d.connect()) {
                version = c.ok("version");
            }

            String reply = d.upgrade(copy.toString());
            assertEquals("Upgrading to " + version, reply);

            try (ProtocolClient c = d.connect()) {
                assertEquals("hello upgraded world", c.ok("get motd"));
                assertEquals(socket, c.ok("list sockets"));
                assertEquals(inode, d.descriptor(fileno), "the same socket at the same number");
                String sleeperAfter = c.ok("list processes sleeper");
                assertEquals(sleeper.replace(" running=True", ""), sleeperAfter.replace(" running=True", ""));
                assertTrue(sleeperAfter.contains(" running=True"), sleeperAfter);
                assertEquals(d.pid(), JarDaemon.parentOf(number(PID, sleeper)), "still the daemon's child");
                c.writeLine("watch processes leaver");
                assertEquals("Watching 1", c.readLine());
                List<ProtocolClient.Item> items = c.watchToEnd();
                assertEquals("bye\n", ProtocolClient.out(items));
                assertEquals(7, ProtocolClient.closedItem(items, "leaver").status(), items.toString());
                assertFalse(Files.exists(Path.of("/proc/" + number(PID, leaver))), "reaped by the new image");
            }
            assertTrue(Files.readString(Path.of("/proc/" + d.pid() + "/cmdline")).contains(copy.toString()));
        }
    }

    /** Watches one process for its first batch and acknowledges it. */
    private static List<ProtocolClient.Item> watchOne(ProtocolClient c, String name) throws Exception {
        c.writeLine("watch processes " + name);
        assertEquals("Watching 1", c.readLine());
        List<ProtocolClient.Item> items = c.readBatch();
        c.writeLine("q");
        assertEquals("Stopped watching\n> ", c.readReply());
        return items;
    }

    @Test
    void failedUpgradesLeaveTheDaemonServingUnchanged() throws Exception {
        Path jar = JarDaemon.jar();
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of())) {
            try (ProtocolClient c = d.connect()) {
                c.ok("set kept 1");
            }
            Path missing = dir.resolve("missing.jar");
            assertEquals("Error: cannot upgrade to " + missing + " - no such file", d.upgrade(missing.toString()));
            assertEquals("Error: cannot upgrade to papa.jar - the jar path must be absolute", d.upgrade("papa.jar"));
            Path notAJar = Files.writeString(dir.resolve("not-a.jar"), "text");
            String reply = d.upgrade(notAJar.toString());
            assertTrue(reply.startsWith("Error: cannot upgrade to " + notAJar + " - "), reply);

            // Two at once: the second is refused while the first one's check runs. The check runs
            // through a java wrapper that waits on a fifo, so the test, not the scheduler, decides
            // that the check is still running when the second request arrives.
            Path started = dir.resolve("check-started");
            Path gate = dir.resolve("check-gate");
            assertEquals(0, new ProcessBuilder("mkfifo", gate.toString()).inheritIO().start().waitFor());
            Path gated = Files.writeString(dir.resolve("java-gated"), "#!/bin/sh\n"
                    + "case \" $* \" in *' --check-state '*) : > '" + started + "'; read _ < '" + gate + "';; esac\n"
                    + "exec '" + JarDaemon.java17() + "' \"$@\"\n");
            Files.setPosixFilePermissions(gated, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            try (ProtocolClient first = d.connect(); ProtocolClient second = d.connect()) {
                first.writeLine("upgrade java=" + gated + " " + jar);
                awaitFile(started);
                assertEquals("an upgrade is already in progress", second.error("upgrade " + jar));
                try (var release = Files.newOutputStream(gate)) {
                    release.write('\n');
                }
                assertTrue(first.readLine().startsWith("Upgrading to papa "));
            }
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get kept"));
            }
        }
    }

    private static void awaitFile(Path f) throws InterruptedException {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        while (!Files.exists(f)) {
            if (System.currentTimeMillis() > deadline) throw new AssertionError("the --check-state child did not start: no " + f);
            Thread.sleep(5);
        }
    }

    @Test
    void aStateOfAnUnknownMajorVersionIsRefusedByTheCheck() throws Exception {
        Path jar = JarDaemon.jar();
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of("-Dpapa.test.stateMajor=2"))) {
            try (ProtocolClient c = d.connect()) {
                c.ok("set kept 1");
            }
            assertEquals("Error: cannot upgrade to " + jar + " - unknown state format 2." + dev.papa.daemon.state.StateFormat.MINOR + " (this papa reads 1.x)",
                    d.upgrade(jar.toString()));
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get kept"));
            }
        }
    }

    @Test
    void aNewImageThatCannotRestoreFallsBackToThePreviousJar() throws Exception {
        Path jar = JarDaemon.jar();
        Path broken = Files.copy(jar, dir.resolve("papa-broken.jar"), StandardCopyOption.REPLACE_EXISTING);
        String log = upgradeFallsBack(jar, broken, List.of("-Dpapa.test.failRestoreIn=" + broken));
        assertTrue(log.contains("Cannot restore the state after an upgrade: restoring is made to fail in " + broken), log);
    }

    /**
     * A real broken jar: it lacks a class that only a restore needs, so it passes --check-state
     * and then dies of NoClassDefFoundError taking the state over (issue 21, item 8: that took
     * the daemon and every process down). The previous image takes the state back.
     */
    @Test
    void aNewImageThatDiesOfAnErrorAtRestoreFallsBackToThePreviousJar() throws Exception {
        Path jar = JarDaemon.jar();
        Path broken = Files.copy(jar, dir.resolve("papa-no-facts.jar"), StandardCopyOption.REPLACE_EXISTING);
        try (java.nio.file.FileSystem zip = java.nio.file.FileSystems.newFileSystem(broken)) {
            Files.delete(zip.getPath("dev/papa/daemon/DaemonFacts.class")); // made by the Daemon, not read by --check-state
        }
        String log = upgradeFallsBack(jar, broken, List.of());
        assertTrue(log.contains("Cannot restore the state after an upgrade: java.lang.NoClassDefFoundError: dev/papa/daemon/DaemonFacts"), log);
    }

    /**
     * Upgrades a daemon of {@code jar} to {@code broken}: the daemon is back on {@code jar}, in
     * the same pid, with its value and its process (still its child). Returns the log.
     */
    private String upgradeFallsBack(Path jar, Path broken, List<String> jvmFlags) throws Exception {
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, jvmFlags)) {
            String sleeper;
            try (ProtocolClient c = d.connect()) {
                c.ok("set kept 1");
                sleeper = c.ok("make process sleeper /bin/sleep 600");
            }
            d.hosted(number(PID, sleeper));
            assertTrue(d.upgrade(broken.toString()).startsWith("Upgrading to papa "));
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get kept"));
                assertEquals(sleeper, c.ok("list processes"));
            }
            assertEquals(d.pid(), JarDaemon.parentOf(number(PID, sleeper)), "the sleeper is still the daemon's child");
            String cmdline = Files.readString(Path.of("/proc/" + d.pid() + "/cmdline")).replace('\0', ' ');
            assertTrue(cmdline.contains(" -jar " + jar + " ") && cmdline.contains("--restore-fallback"), cmdline);
            String log = d.logText();
            assertTrue(log.contains("Falling back to the previous image"), log);
            return log;
        }
    }

    @Test
    void ctlUpgradeSendsItsOwnJarAndTheJavaClientReconnects() throws Exception {
        Path jar = JarDaemon.jar();
        Path copy = Files.copy(jar, dir.resolve("papa-ctl.jar"));
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of())) {
            try (dev.papa.client.Papa papa = dev.papa.client.Papa.builder().port(d.port).autoStart(false).connect()) {
                papa.set("kept", "1");
                String version = papa.version();
                assertEquals(version, papa.upgrade(jar));
                assertEquals("1", papa.get("kept"), "the next command reconnects to the new image");
            }
            Process ctl = new ProcessBuilder(JarDaemon.java17(), "-jar", copy.toString(), "ctl", "-p", Integer.toString(d.port),
                    "upgrade").redirectErrorStream(true).start();
            String out = new String(ctl.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertEquals(0, ctl.waitFor(), out);
            String[] lines = out.split("\n");
            assertTrue(lines[0].startsWith("Upgrading to papa "), out);
            assertTrue(lines[1].startsWith("Serving: papa "), out);
            String cmdline = Files.readString(Path.of("/proc/" + d.pid() + "/cmdline")).replace('\0', ' ');
            assertTrue(cmdline.contains(" -jar " + copy + " "), cmdline);
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get kept"));
            }
        }
    }

    @Test
    void java17ToJava25() throws Exception {
        Path jar = JarDaemon.jar();
        Path jdk25;
        try (var jvms = Files.list(Path.of("/usr/lib/jvm"))) {
            jdk25 = jvms.filter(p -> p.getFileName().toString().startsWith("temurin-25")).findFirst().orElse(null);
        } catch (java.io.IOException e) {
            jdk25 = null;
        }
        Assumptions.assumeTrue(jdk25 != null, "no Temurin 25 under /usr/lib/jvm");
        String java25 = jdk25.resolve("bin/java").toString();
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of())) {
            String sleeper;
            try (ProtocolClient c = d.connect()) {
                c.ok("set kept 1");
                sleeper = c.ok("make process sleeper /bin/sleep 600");
            }
            d.hosted(number(PID, sleeper));
            String exeBefore = Files.readSymbolicLink(Path.of("/proc/" + d.pid() + "/exe")).toString();
            assertTrue(d.upgrade("java=" + java25 + " " + jar).startsWith("Upgrading to papa "));
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get kept"));
                assertEquals(sleeper, c.ok("list processes"));
            }
            String exeAfter = Files.readSymbolicLink(Path.of("/proc/" + d.pid() + "/exe")).toString();
            assertNotEquals(exeBefore, exeAfter);
            assertTrue(exeAfter.startsWith(jdk25.toRealPath().toString()), exeAfter);
            assertEquals(d.pid(), JarDaemon.parentOf(number(PID, sleeper)));
            for (String line : Files.readAllLines(d.output)) {
                assertTrue(line.startsWith("papa: listening on "), "only the daemon's own lines, no JVM warning: " + line);
            }
        }
    }
}
