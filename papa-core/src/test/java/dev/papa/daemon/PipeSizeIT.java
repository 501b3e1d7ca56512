package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.spawn.PipeSize;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Output pipes under the keeper (docs/KEEPER.md, "Output pipes"): a hosted process writes on
 * while the daemon JVM does not read (here stopped with SIGSTOP: a JVM in a long pause, or one
 * the keeper is restarting, reads nothing either) up to its pipe's size, and everything it wrote
 * reaches a watcher once the JVM reads again. Packaged jar, real keeper, real processes.
 */
class PipeSizeIT {
    /** {@code seq 1 120000}: 728,895 bytes, over the kernel's 64 KiB pipe and under 1 MiB. */
    static final int LINES = 120_000;

    @TempDir
    Path dir;

    @Test
    void aProcessWrites712KiBWhileTheDaemonJvmReadsNothing() throws Exception {
        List<String> options = new ArrayList<>(List.of("--keeper"));
        // the default under the keeper where the kernel's per-user pipe limits do not apply; asked elsewhere
        if (PipeSize.choose(-1, true) != PipeSize.KEEPER_DEFAULT) options.addAll(List.of("--pipe-size", "1m"));
        writeWhileStopped(options, true);
    }

    @Test
    void theKernelsDefaultPipeStopsTheWriterAt64KiB() throws Exception {
        writeWhileStopped(List.of("--keeper", "--pipe-size", "0"), false);
    }

    /** Stops the daemon JVM, lets the process write; whether it got to its end before SIGCONT is {@code finishes}. */
    private void writeWhileStopped(List<String> options, boolean finishes) throws Exception {
        Path go = dir.resolve("go"), done = dir.resolve("done");
        Path writer = Files.writeString(dir.resolve("writer.sh"),
                "while [ ! -e " + go + " ]; do sleep 0.01; done\nseq 1 " + LINES + "\ntouch " + done + "\n");
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(), options)) {
            int sh;
            try (ProtocolClient c = d.connect()) {
                String made = c.ok("make process writer /bin/sh " + writer);
                sh = d.hosted(Integer.parseInt(made.replaceAll("writer pid=(\\d+) .*", "$1")));
            }
            int jvm = KeeperKillIT.daemonJvm(d.pid());
            dev.papa.posix.Processes.kill(jvm, 19); // SIGSTOP
            try {
                await("the daemon JVM stopped", () -> state(jvm) == 'T');
                Files.createFile(go);
                if (finishes) {
                    await("the writer wrote everything while the JVM read nothing", () -> Files.exists(done));
                    assertEquals('T', state(jvm), "still stopped");
                } else {
                    await("seq waits in write() on its full pipe", () -> wchanOfChild(sh).endsWith("pipe_write"));
                    assertFalse(Files.exists(done));
                }
            } finally {
                dev.papa.posix.Processes.kill(jvm, 18); // SIGCONT
            }
            try (ProtocolClient c = d.connect()) {
                c.writeLine("watch processes writer");
                assertEquals("Watching 1", c.readLine());
                List<ProtocolClient.Item> items = c.watchToEnd();
                assertArrayEquals(BackpressureTest.seq(LINES), ProtocolClient.outBytes(items), "every byte, in order");
                assertEquals(0, ProtocolClient.closedItem(items, "writer").status());
            }
            assertTrue(Files.exists(done));
        }
    }

    private static char state(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2);
        } catch (java.io.IOException gone) {
            return '?';
        }
    }

    /** The wchan of {@code pid}'s child (seq under sh), "" while it has none. */
    private static String wchanOfChild(int pid) {
        try {
            String children = Files.readString(Path.of("/proc/" + pid + "/task/" + pid + "/children")).trim();
            if (children.isEmpty()) return "";
            return Files.readString(Path.of("/proc/" + children.split(" ")[0] + "/wchan")).trim();
        } catch (java.io.IOException gone) {
            return "";
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 20_000;
        while (!condition.getAsBoolean()) {
            assertTrue(System.currentTimeMillis() < deadline, what);
            Thread.sleep(10); // polling /proc and the files the process makes
        }
    }
}
