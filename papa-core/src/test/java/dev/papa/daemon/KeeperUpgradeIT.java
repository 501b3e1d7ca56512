package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The upgrade under the keeper (docs/KEEPER.md, "Upgrading"), against the packaged jar: the new
 * JVM starts beside the serving one and takes over its tables, queued output included; the
 * keeper stays the pid the user started and the parent of every process; a new JVM that fails
 * before it took over leaves the serving one serving, unchanged.
 */
class KeeperUpgradeIT {
    private static final Pattern PID = Pattern.compile(" pid=(\\d+) ");
    private static final Pattern DAEMON = Pattern.compile("(?m)^daemon=(\\d+)$");

    @TempDir
    Path dir;

    @Test
    void theNewJvmTakesEverythingOverAndTheKeeperStays() throws Exception {
        Path jar = JarDaemon.jar();
        Path copy = Files.copy(jar, dir.resolve("papa-new.jar"));
        Path go = dir.resolve("go");
        // exits with 7 while the new JVM takes over (the test creates the file once the upgrade was asked)
        Path leaver = Files.writeString(dir.resolve("leaver.sh"), "while [ ! -e " + go + " ]; do sleep 0.01; done; echo bye; exit 7\n");
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of(KeeperKillIT.CHECK_JOURNAL), List.of("--keeper"))) {
            int keeper = d.pid();
            String socket;
            String sleeper;
            int oldDaemon;
            try (ProtocolClient c = d.connect()) {
                c.ok("set motd hello upgraded world");
                socket = c.ok("make socket web port=0");
                sleeper = c.ok("make process sleeper /bin/sleep 600");
                // 100 lines queued and never acknowledged before the upgrade
                c.ok("make process lines /usr/bin/seq -f line%g 100");
                d.hosted(UpgradeIT.number(PID, c.ok("make process leaver /bin/sh " + leaver))); // killed at the end if the test fails first
                oldDaemon = UpgradeIT.number(DAEMON, c.ok("list daemon"));
                awaitQueued(c, "lines", 100);
            }
            d.hosted(UpgradeIT.number(PID, sleeper));

            Thread exit = new Thread(() -> {
                try {
                    Thread.sleep(300); // during the new JVM's start
                    Files.createFile(go);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            exit.start();
            String reply = d.upgrade(copy.toString());
            exit.join();
            assertTrue(reply.startsWith("Upgrading to papa "), reply);

            try (ProtocolClient c = d.connect()) {
                String daemon = c.ok("list daemon");
                int newDaemon = UpgradeIT.number(DAEMON, daemon);
                assertNotEquals(oldDaemon, newDaemon, daemon);
                assertTrue(daemon.contains("\nupgrades=1\n") && daemon.contains("\nrestarts=0\n"), daemon);
                assertEquals(keeper, JarDaemon.parentOf(newDaemon), "the new JVM is the keeper's child");
                assertFalse(Files.exists(Path.of("/proc/" + oldDaemon)), "the old JVM ended (and was reaped)");
                String cmdline = Files.readString(Path.of("/proc/" + newDaemon + "/cmdline")).replace('\0', ' ');
                assertTrue(cmdline.contains(" -jar " + copy + " "), cmdline);

                assertEquals("hello upgraded world", c.ok("get motd"));
                assertEquals(socket, c.ok("list sockets"));
                String sleeperAfter = c.ok("list processes sleeper");
                assertEquals(sleeper, sleeperAfter);
                assertEquals(keeper, JarDaemon.parentOf(UpgradeIT.number(PID, sleeper)), "still the keeper's child");

                c.writeLine("watch processes lines");
                assertEquals("Watching 1", c.readLine());
                List<ProtocolClient.Item> lines = c.watchToEnd();
                assertEquals(expectedLines(), ProtocolClient.out(lines), "every queued line, once, in order");
                assertEquals(0, ProtocolClient.closedItem(lines, "lines").status(), lines.toString());

                c.writeLine("watch processes leaver");
                assertEquals("Watching 1", c.readLine());
                List<ProtocolClient.Item> items = c.watchToEnd();
                assertEquals("bye\n", ProtocolClient.out(items));
                assertEquals(7, ProtocolClient.closedItem(items, "leaver").status(), items.toString());
            }
            String log = d.logText();
            assertTrue(log.contains("papa keeper: upgrade: the new daemon (pid "), log);
            assertTrue(log.contains(") took over from pid " + oldDaemon), log);
            KeeperKillIT.assertJournalChecked(d, 2); // the serving JVM and the one that took over
        }
    }

    /**
     * The standby builds its tables from the serving JVM's kept state while that JVM serves;
     * values set and removed meanwhile, and output queued meanwhile, come in the frames the
     * hand-over adds to that state, and only those are read at the take-over.
     */
    @Test
    void valuesAndOutputChangedWhileTheStandbyWaitsComeInTheHandOversFrames() throws Exception {
        Path hold = dir.resolve("hold");
        Path go = dir.resolve("go");
        Path ticker = Files.writeString(dir.resolve("ticker.sh"),
                "i=0; while [ ! -e " + go + " ]; do i=$((i+1)); echo tick$i; sleep 0.01; done; echo end\n");
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(KeeperKillIT.CHECK_JOURNAL,
                "-D" + DaemonMain.HOLD_STANDBY_PROPERTY + "=" + hold), List.of("--keeper"))) {
            try (ProtocolClient c = d.connect()) {
                c.ok("set kept 1");
                c.ok("set gone 1");
                c.ok("make process lines /usr/bin/seq -f line%g 100");
                awaitExited(c, "lines");
                d.hosted(UpgradeIT.number(PID, c.ok("make process ticker /bin/sh " + ticker)));
            }
            java.util.concurrent.CompletableFuture<String> reply = upgradeHeldAt(d, hold);
            try (ProtocolClient c = d.connect()) { // the standby's tables are built; the serving JVM changes its own
                c.ok("set kept 2");
                c.ok("remove values gone");
                c.ok("set new 3");
            }
            Files.createFile(hold);
            String answer = reply.get();
            assertTrue(answer.startsWith("Upgrading to papa "), answer);
            Files.createFile(go);
            try (ProtocolClient c = d.connect()) {
                assertEquals("2", c.ok("get kept"));
                assertEquals("", c.ok("get gone"));
                assertEquals("3", c.ok("get new"));
                c.writeLine("watch processes lines");
                assertEquals("Watching 1", c.readLine());
                assertEquals(expectedLines(), ProtocolClient.out(c.watchToEnd()), "every queued line, once, in order");
                c.writeLine("watch processes ticker");
                assertEquals("Watching 1", c.readLine());
                String[] ticks = ProtocolClient.out(c.watchToEnd()).split("\n");
                assertEquals("end", ticks[ticks.length - 1]);
                for (int i = 0; i < ticks.length - 1; i++) assertEquals("tick" + (i + 1), ticks[i], "every tick, once, in order");
            }
            String log = awaitLog(d, ", and its frames since, into tables built before the hand-over"); // said once it serves
            assertTrue(log.contains("queued output added to the held state"), log);
            KeeperKillIT.assertJournalChecked(d, 2);
        }
    }

    /**
     * Upgrades in a row: each new JVM goes on writing the state it was handed, so the next one
     * builds its tables from it and takes over into them too; the count goes on, and a JVM
     * killed after them is restarted from that same state with everything.
     */
    @Test
    void upgradesInARowEachTakeOverAndAKillAfterThemLosesNothing() throws Exception {
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(KeeperKillIT.CHECK_JOURNAL), List.of("--keeper"))) {
            String sleeper;
            String socket;
            try (ProtocolClient c = d.connect()) {
                c.ok("set v 0");
                socket = c.ok("make socket web port=0");
                sleeper = c.ok("make process sleeper /bin/sleep 600");
                d.hosted(UpgradeIT.number(PID, sleeper));
            }
            String into = ", and its frames since, into tables built before the hand-over";
            for (int u = 1; u <= 3; u++) {
                assertTrue(d.upgrade(JarDaemon.jar().toString()).startsWith("Upgrading to papa "));
                try (ProtocolClient c = d.connect()) {
                    assertTrue(c.ok("list daemon").contains("\nupgrades=" + u + "\n"), "upgrade " + u + " took");
                    c.ok("set v " + u);
                }
                String log = awaitLog(d, into);
                long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
                while ((log = d.logText()).split(into, -1).length - 1 < u) { // the new JVM says it once it serves
                    assertTrue(System.currentTimeMillis() < deadline, "upgrade " + u + " was not taken over into tables built before:\n" + log);
                    Thread.sleep(20);
                }
            }
            int jvm = KeeperKillIT.daemonJvm(d.pid());
            dev.papa.posix.Processes.kill(jvm, 9);
            KeeperKillIT.awaitServing(d, jvm, d.pid());
            try (ProtocolClient c = d.connect()) {
                assertEquals("3", c.ok("get v"));
                assertEquals(socket, c.ok("list sockets"));
                assertEquals(sleeper, c.ok("list processes"));
                String daemon = c.ok("list daemon");
                assertTrue(daemon.contains("\nupgrades=3\n") && daemon.contains("\nrestarts=1\n"), daemon);
            }
            KeeperKillIT.assertJournalChecked(d, 5);
        }
    }

    /**
     * More queued output than the hand-over's frames carry (32 MiB, built in the heap): the
     * serving JVM hands a whole state over, which the new JVM reads whole, every byte with it.
     */
    @Test
    void moreQueuedOutputThanTheFramesCarryIsHandedOverWhole() throws Exception {
        int bytes = 40 << 20;
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(KeeperKillIT.CHECK_JOURNAL, "-Xmx512m"),
                List.of("--keeper", "--output-budget", "256m"))) {
            try (ProtocolClient c = d.connect()) {
                c.ok("make process big bufsize=64m /usr/bin/head -c " + bytes + " /dev/zero");
                awaitExited(c, "big");
                assertTrue(c.ok("list daemon").contains("\nqueued=" + bytes + "\n"), "all of it queued");
            }
            assertTrue(d.upgrade(JarDaemon.jar().toString()).startsWith("Upgrading to papa "));
            awaitLog(d, " into tables built anew (the state handed over is a whole state)");
            try (ProtocolClient c = d.connect()) {
                c.writeLine("watch processes big");
                assertEquals("Watching 1", c.readLine());
                List<ProtocolClient.Item> items = c.watchToEnd();
                assertEquals(bytes, ProtocolClient.outBytes(items).length, "every queued byte");
                assertEquals(0, ProtocolClient.closedItem(items, "big").status());
            }
            assertTrue(d.logText().contains("; state written in "), "a whole state was written");
        }
    }

    /** A process made while the standby waits: the take-over builds its tables anew, from the whole state handed over. */
    @Test
    void aProcessMadeWhileTheStandbyWaitsIsTakenOverFromTheWholeState() throws Exception {
        Path hold = dir.resolve("hold");
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(KeeperKillIT.CHECK_JOURNAL,
                "-D" + DaemonMain.HOLD_STANDBY_PROPERTY + "=" + hold), List.of("--keeper"))) {
            String sleeper;
            try (ProtocolClient c = d.connect()) {
                c.ok("set kept 1");
                sleeper = c.ok("make process sleeper /bin/sleep 600");
                d.hosted(UpgradeIT.number(PID, sleeper));
            }
            java.util.concurrent.CompletableFuture<String> reply = upgradeHeldAt(d, hold);
            String late;
            try (ProtocolClient c = d.connect()) {
                late = c.ok("make process late /bin/sleep 600");
                d.hosted(UpgradeIT.number(PID, late));
                c.ok("set kept 2");
            }
            Files.createFile(hold);
            String answer = reply.get();
            assertTrue(answer.startsWith("Upgrading to papa "), answer);
            try (ProtocolClient c = d.connect()) {
                assertEquals("2", c.ok("get kept"));
                assertEquals(late + "\n" + sleeper, c.ok("list processes"));
            }
            awaitLog(d, " into tables built anew (process late changed since the standby started)");
            KeeperKillIT.assertJournalChecked(d, 2);
        }
    }

    /** The daemon's log once it contains {@code text} (a line the new JVM writes after it serves). */
    private static String awaitLog(JarDaemon d, String text) throws Exception {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        String log;
        while (!(log = d.logText()).contains(text)) {
            if (System.currentTimeMillis() > deadline) throw new AssertionError("no \"" + text + "\" in the log:\n" + log);
            Thread.sleep(20); // polling the log file
        }
        return log;
    }

    /** Asks for an upgrade on another thread; returns once the standby (held at {@code hold}) has built its tables. */
    private static java.util.concurrent.CompletableFuture<String> upgradeHeldAt(JarDaemon d, Path hold) throws InterruptedException {
        java.util.concurrent.CompletableFuture<String> reply = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return d.upgrade(JarDaemon.jar().toString());
            } catch (Exception e) {
                return e.toString();
            }
        });
        awaitFile(Path.of(hold + ".built"));
        return reply;
    }

    private static void awaitFile(Path p) throws InterruptedException {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        while (!Files.exists(p)) {
            if (System.currentTimeMillis() > deadline) throw new AssertionError(p + " never appeared: the standby did not build its tables");
            Thread.sleep(10); // polling for a file the standby JVM creates
        }
    }

    /** Waits until {@code name} has exited (its record then stays as it is). */
    private static void awaitExited(ProtocolClient c, String name) throws Exception {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        while (!c.ok("list processes " + name).contains(" running=False ")) {
            if (System.currentTimeMillis() > deadline) throw new AssertionError(name + " did not exit");
            Thread.sleep(20);
        }
    }

    private static String expectedLines() {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= 100; i++) b.append("line").append(i).append('\n');
        return b.toString();
    }

    /** Waits until {@code name}'s queue holds its lines (list daemon's queued= counts every process). */
    private static void awaitQueued(ProtocolClient c, String name, int lines) throws Exception {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        int bytes = expectedLines().length();
        while (System.currentTimeMillis() < deadline) {
            String daemon = c.ok("list daemon");
            java.util.regex.Matcher m = Pattern.compile("(?m)^queued=(\\d+)$").matcher(daemon);
            if (m.find() && Long.parseLong(m.group(1)) >= bytes) return;
            Thread.sleep(20);
        }
        throw new AssertionError(name + " did not queue its " + lines + " lines");
    }

    /**
     * A real broken jar: it lacks a class only the take-over needs, so it passes --check-state,
     * starts, builds its tables, says it is ready and dies of NoClassDefFoundError taking over. The serving JVM,
     * which handed over and waited, serves on with everything.
     */
    @Test
    void aNewJvmThatDiesTakingOverLeavesTheServingOneUnchanged() throws Exception {
        Path jar = JarDaemon.jar();
        Path broken = Files.copy(jar, dir.resolve("papa-no-take-over.jar"), StandardCopyOption.REPLACE_EXISTING);
        try (java.nio.file.FileSystem zip = java.nio.file.FileSystems.newFileSystem(broken)) {
            Files.delete(zip.getPath("dev/papa/daemon/keeper/KeeperUpgrade$TakeOver.class"));
        }
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of(), List.of("--keeper"))) {
            String sleeper;
            String daemonBefore;
            try (ProtocolClient c = d.connect()) {
                c.ok("set kept 1");
                sleeper = c.ok("make process sleeper /bin/sleep 600");
                // 100 lines queued when the hand-over adds them to the held state
                Path talker = Files.writeString(dir.resolve("talker.sh"), "seq -f line%g 100; exec sleep 600\n");
                d.hosted(UpgradeIT.number(PID, c.ok("make process talker /bin/sh " + talker)));
                awaitQueued(c, "talker", 100);
                daemonBefore = c.ok("list daemon");
            }
            d.hosted(UpgradeIT.number(PID, sleeper));
            assertTrue(d.upgrade(broken.toString()).startsWith("Upgrading to papa "));
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get kept"));
                assertEquals(sleeper, c.ok("list processes sleeper"));
                String daemon = c.ok("list daemon");
                assertEquals(UpgradeIT.number(DAEMON, daemonBefore), UpgradeIT.number(DAEMON, daemon), "the same JVM serves");
                assertTrue(daemon.contains("\nupgrades=0\n"), daemon);
                c.ok("set after 2"); // and changes are kept
                assertEquals("2", c.ok("get after"));
            }
            String log = d.logText();
            assertTrue(log.contains("upgrade failed: the new daemon (pid "), log);
            assertTrue(log.contains("NoClassDefFoundError: dev/papa/daemon/keeper/KeeperUpgrade$TakeOver"), log);

            // the lines are acknowledged, then the JVM dies: the next one must not deliver them
            // again from the hand-over's frames (the serving JVM wrote a new base when it resumed)
            try (ProtocolClient c = d.connect()) {
                c.writeLine("watch processes talker");
                assertEquals("Watching 1", c.readLine());
                StringBuilder got = new StringBuilder();
                while (!got.toString().equals(expectedLines())) {
                    got.append(ProtocolClient.out(c.readBatch()));
                    c.writeLine("");
                }
            }
            try (ProtocolClient c = d.connect()) {
                long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
                while (!c.ok("list daemon").contains("\nqueued=0\n")) {
                    assertTrue(System.currentTimeMillis() < deadline, "the acknowledgement was not taken");
                    Thread.sleep(20);
                }
            }
            int jvm = KeeperKillIT.daemonJvm(d.pid());
            dev.papa.posix.Processes.kill(jvm, 9);
            KeeperKillIT.awaitServing(d, jvm, d.pid());
            try (ProtocolClient c = d.connect()) {
                c.writeLine("watch processes talker");
                assertEquals("Watching 1", c.readLine());
                Thread.sleep(500); // a batch of what is queued is sent at once
                assertEquals("", c.pending(), "acknowledged lines came again after a death");
            }
        }
    }

    /** A new JVM that exits at start (after passing the check): the upgrade is refused with why, nothing stopped. */
    @Test
    void aNewJvmThatCannotStartIsRefusedWhileTheDaemonServes() throws Exception {
        Path jar = JarDaemon.jar();
        Path failing = Files.writeString(dir.resolve("java-fails"), "#!/bin/sh\n"
                + "case \" $* \" in *' --check-state '*) exec '" + JarDaemon.java17() + "' \"$@\";; esac\nexit 3\n");
        Files.setPosixFilePermissions(failing, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of(), List.of("--keeper"))) {
            try (ProtocolClient c = d.connect()) {
                c.ok("set kept 1");
            }
            assertEquals("Error: cannot upgrade to " + jar + " - the new daemon ended (exit status 3) before it took over",
                    d.upgrade("java=" + failing + " " + jar));
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get kept"));
                assertTrue(c.ok("list daemon").contains("\nupgrades=0\n"));
            }
            // and the next upgrade works
            assertTrue(d.upgrade(jar.toString()).startsWith("Upgrading to papa "));
            try (ProtocolClient c = d.connect()) {
                assertEquals("1", c.ok("get kept"));
                assertTrue(c.ok("list daemon").contains("\nupgrades=1\n"));
            }
        }
    }
}
