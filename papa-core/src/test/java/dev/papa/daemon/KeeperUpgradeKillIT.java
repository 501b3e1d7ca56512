package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;

/**
 * Kills during an upgrade under the keeper (docs/KEEPER.md, "Upgrading"): at a random instant
 * after `upgrade` is asked, the serving JVM or the new one gets SIGKILL (before it started,
 * while it warms up, during the hand-over or the take-over). Whatever the instant, the daemon
 * serves again with every value, socket and process (same pids, the keeper's children), a
 * change made after it is kept, the journaled state equals the tables in every JVM, and the
 * keeper is left with exactly one daemon JVM. Kills: {@code -Dpapa.keeper.upgradeKills=N}
 * (default 6), seed {@code -Dpapa.keeper.seed}.
 */
class KeeperUpgradeKillIT {
    static final int KILLS = Integer.getInteger("papa.keeper.upgradeKills", 6);
    private static final Pattern PID = Pattern.compile(" pid=(\\d+) ");

    @Test
    void aKillAtAnyInstantOfAnUpgradeLosesNothing() throws Exception {
        Path jar = JarDaemon.jar();
        long seed = Long.getLong("papa.keeper.seed", System.nanoTime());
        Random random = new Random(seed);
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), jar, List.of(KeeperKillIT.CHECK_JOURNAL), List.of())) {
            int keeper = d.pid();
            String sockets;
            String sleeper;
            try (ProtocolClient c = d.connect()) {
                c.ok("set round -1");
                c.ok("make socket web port=0");
                sockets = c.ok("list sockets");
                sleeper = c.ok("make process sleeper /bin/sleep 600");
            }
            int sleeperPid = d.hosted(UpgradeIT.number(PID, sleeper));
            // one upgrade without a kill: how long one takes here, the span the kills are spread over
            long started = System.nanoTime();
            int before = daemonJvms(keeper).get(0);
            assertTrue(d.upgrade(jar.toString()).startsWith("Upgrading to papa "));
            awaitOneJvm(keeper, "the first upgrade");
            int span = (int) ((System.nanoTime() - started) / 1_000_000) + 200;
            assertTrue(!daemonJvms(keeper).contains(before), "the first upgrade replaced the JVM");
            List<String> what = new ArrayList<>();
            for (int i = 0; i < KILLS; i++) {
                boolean killNext = i % 2 == 0;
                long delay = random.nextInt(span);
                int serving = daemonJvms(keeper).get(0); // the only one: awaitOneJvm
                Thread upgrade = new Thread(() -> {
                    try {
                        d.upgrade(jar.toString()); // an error reply, the upgrade's reply, or the session cut by the kill
                    } catch (Exception | AssertionError cut) {
                        // the JVM serving the request was killed
                    }
                }, "upgrade");
                upgrade.start();
                Thread.sleep(delay);
                List<Integer> jvms = daemonJvms(keeper);
                // the new JVM, if it runs yet; or the one that served when the upgrade was asked, or,
                // when the upgrade is already over, the one that serves now
                int victim = killNext ? jvms.stream().filter(p -> p != serving).findFirst().orElse(-1)
                        : jvms.contains(serving) ? serving : jvms.isEmpty() ? -1 : jvms.get(0);
                boolean over = !killNext && !jvms.contains(serving);
                String outcome = victim <= 0 ? " (none yet)" : over ? " (the upgrade was over: the new one)" : "";
                try {
                    if (victim > 0) dev.papa.posix.Processes.kill(victim, 9);
                } catch (dev.papa.posix.PosixException gone) {
                    outcome = " (it had just ended: retired or given up)";
                }
                what.add((killNext ? "next" : "serving") + " after " + delay + " ms" + outcome);
                upgrade.join(JarDaemon.TIMEOUT_MS);

                String context = "kill " + i + " (" + what.get(i) + ", seed " + seed + ")";
                awaitOneJvm(keeper, context);
                try (ProtocolClient c = d.connect()) {
                    assertEquals(Integer.toString(i - 1), c.ok("get round"), context);
                    c.ok("set round " + i);
                    assertEquals(sockets, c.ok("list sockets"), context);
                    assertEquals(sleeper, c.ok("list processes"), context);
                }
                assertEquals(keeper, JarDaemon.parentOf(sleeperPid), context + ": the sleeper is the keeper's child");
            }
            KeeperKillIT.assertJournalNeverDiffered(d);
            assertTrue(d.process.isAlive(), "the keeper lives: " + what);
            System.out.println("KeeperUpgradeKillIT (seed " + seed + ", an upgrade takes " + (span - 200) + " ms): " + what);
        }
    }

    /** The keeper's daemon JVMs: its java children given the channel (not the --check-state child). */
    static List<Integer> daemonJvms(int keeper) {
        List<Integer> jvms = new ArrayList<>();
        for (ProcessHandle h : ProcessHandle.of(keeper).orElseThrow().children().toList()) {
            String cmdline;
            try {
                cmdline = Files.readString(Path.of("/proc/" + h.pid() + "/cmdline"));
            } catch (IOException gone) {
                continue;
            }
            if (cmdline.contains(dev.papa.daemon.keeper.KeeperLink.OPTION)) jvms.add((int) h.pid());
        }
        return jvms;
    }

    /** Until the keeper runs one daemon JVM only (a retired, killed or abandoned one is gone) and it serves. */
    private static void awaitOneJvm(int keeper, String context) throws Exception {
        long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
        while (daemonJvms(keeper).size() != 1) {
            assertTrue(System.currentTimeMillis() < deadline, context + ": daemon JVMs " + daemonJvms(keeper));
            Thread.sleep(20);
        }
    }
}
