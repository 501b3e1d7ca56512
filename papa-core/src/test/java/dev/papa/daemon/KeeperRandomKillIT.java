package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Kills the daemon JVM under the keeper at random instants while one client changes values,
 * sockets and processes as fast as it can (so kills land mid-set, mid-spawn, mid-removal and
 * mid-acknowledgement of exits). The client's model is what the daemon answered: after every
 * kill, a change whose reply arrived must still be there, and a change in flight when the JVM
 * died must be either wholly there or wholly absent; at the end the daemon's tables equal the
 * model. Kills: {@code -Dpapa.keeper.randomKills=N} (default 5; the issue asks for 200 outside
 * the default run).
 */
class KeeperRandomKillIT {
    static final int KILLS = Integer.getInteger("papa.keeper.randomKills", 5);

    @Test
    void aReplyIsNeverUndoneByAKill() throws Exception {
        try (JarDaemon d = JarDaemon.start(JarDaemon.java17(), JarDaemon.jar(), List.of(KeeperKillIT.CHECK_JOURNAL), List.of("--keeper"))) {
            int keeper = d.pid();
            Model model = new Model(d);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread client = new Thread(() -> {
                try {
                    model.run(stop);
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, "changer");
            client.start();
            Random random = new Random(Long.getLong("papa.keeper.seed", System.nanoTime()));
            try {
                for (int i = 0; i < KILLS && failure.get() == null; i++) {
                    // served long enough not to be a quick death (no restart pause), then a random instant
                    Thread.sleep(KeeperKillIT.SERVE_BEFORE_KILL_MS + random.nextInt(400));
                    int jvm = KeeperKillIT.daemonJvm(keeper);
                    int done = model.acknowledged.get();
                    dev.papa.posix.Processes.kill(jvm, 9);
                    long deadline = System.currentTimeMillis() + JarDaemon.TIMEOUT_MS;
                    while (model.acknowledged.get() < done + 20 && failure.get() == null) { // changes go on after the kill
                        assertTrue(System.currentTimeMillis() < deadline, "no change acknowledged after kill " + i);
                        Thread.sleep(5);
                    }
                }
            } finally {
                stop.set(true);
                client.join(JarDaemon.TIMEOUT_MS);
            }
            if (failure.get() != null) throw new AssertionError("the client's check failed", failure.get());
            model.checkAll();
            KeeperKillIT.assertJournalChecked(d, KILLS + 1);
            System.out.printf("keeper random kills: %d kills, %d changes acknowledged, %d in flight at a kill "
                    + "(%d of them found applied)%n", KILLS, model.acknowledged.get(), model.inFlight.get(), model.inFlightApplied.get());
            assertTrue(model.inFlight.get() >= 1, "at least one kill landed on a change in flight");
        }
    }

    /** One client, one change at a time; what the daemon answered is the truth to check against. */
    static final class Model {
        final JarDaemon d;
        final TreeMap<String, String> values = new TreeMap<>();
        final TreeSet<String> sockets = new TreeSet<>();
        final TreeSet<String> processes = new TreeSet<>();
        /** Removed while perhaps still running: listed until the keeper reports the exit, then gone. */
        final TreeSet<String> removedProcesses = new TreeSet<>();
        final AtomicInteger acknowledged = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger inFlightApplied = new AtomicInteger();
        final Random random = new Random(42);
        ProtocolClient c;

        Model(JarDaemon d) {
            this.d = d;
        }

        void run(AtomicBoolean stop) throws Exception {
            c = d.connect();
            for (int n = 0; !stop.get(); n++) {
                int what = random.nextInt(6);
                String name = Integer.toString(random.nextInt(8));
                String request;
                switch (what) {
                    case 0: case 1: request = "set v" + name + " x" + n; break;
                    case 2: request = "remove values v" + name; break;
                    case 3: request = sockets.contains("s" + name) ? "remove sockets s" + name : "make socket s" + name + " port=0"; break;
                    // a new name each time: a removed process stays listed until it exits, and a make of its
                    // name meanwhile would get that process back (Part 1), which then leaves the table
                    case 4: request = "make process p" + n + " /bin/true"; break;
                    default: request = processes.isEmpty() ? "list values" : "remove processes " + processes.first(); break;
                }
                String reply;
                try {
                    reply = c.send(request);
                } catch (java.io.IOException | AssertionError killed) {
                    inFlight.incrementAndGet();
                    c = d.connect();
                    resolve(request);
                    continue;
                }
                assertTrue(!reply.startsWith("Error:") || request.startsWith("remove"), request + " -> " + reply);
                if (!reply.startsWith("Error:")) apply(request);
                acknowledged.incrementAndGet();
                if (n % 50 == 0) checkAll();
            }
        }

        private void apply(String request) {
            String[] w = request.split(" ");
            switch (w[0] + " " + w[1]) {
                case "set v0": default:
                    if (w[0].equals("set")) values.put(w[1], w[2]);
                    break;
                case "remove values": values.remove(w[2]); break;
                case "make socket": sockets.add(w[2]); break;
                case "remove sockets": sockets.remove(w[2]); break;
                case "make process": processes.add(w[2]); break;
                case "remove processes": processes.remove(w[2]); removedProcesses.add(w[2]); break;
                case "list values": break;
            }
        }

        /** The change was in flight when the JVM died: it is wholly there or wholly absent; the model takes what is. */
        private void resolve(String request) throws Exception {
            String[] w = request.split(" ");
            boolean applied;
            if (w[0].equals("set")) {
                String now = query("get " + w[1]);
                String before = values.getOrDefault(w[1], "");
                assertTrue(now.equals(before) || now.equals(w[2]), request + ": found [" + now + "], before [" + before + "]");
                applied = now.equals(w[2]) && !now.equals(before);
            } else if (request.startsWith("remove values")) {
                applied = query("get " + w[2]).isEmpty() && values.containsKey(w[2]);
            } else if (w[1].startsWith("socket")) {
                applied = query("list sockets " + w[2]).isEmpty() == request.startsWith("remove");
            } else if (request.startsWith("make process")) {
                applied = !query("list processes " + w[2]).isEmpty();
            } else if (request.startsWith("remove processes")) {
                applied = true; // listed or not, it may have been removed: it may only go now
                if (!query("list processes " + w[2]).isEmpty()) inFlightApplied.decrementAndGet();
            } else {
                return; // list values: nothing changes
            }
            if (applied) {
                inFlightApplied.incrementAndGet();
                apply(request);
            }
            checkAll();
        }

        /** The daemon's tables equal the model: nothing acknowledged was undone, nothing unacknowledged appeared. */
        void checkAll() throws Exception {
            TreeMap<String, String> actual = new TreeMap<>();
            for (String line : query("list values").split("\n")) {
                if (line.isEmpty()) continue;
                int space = line.indexOf(' '); // "name value"
                actual.put(line.substring(0, space), line.substring(space + 1));
            }
            assertEquals(values, actual, "values");
            assertEquals(sockets, names(query("list sockets")), "sockets");
            TreeSet<String> listed = names(query("list processes"));
            assertTrue(listed.containsAll(processes), "processes made and not removed: " + processes + ", listed " + listed);
            listed.removeAll(processes);
            assertTrue(removedProcesses.containsAll(listed), "listed but neither made nor removed: " + listed);
        }

        /** A read-only request, asked again on a new connection when a kill cut it. */
        private String query(String line) throws Exception {
            while (true) {
                try {
                    return c.ok(line);
                } catch (java.io.IOException cut) {
                    c = d.connect();
                } catch (AssertionError e) {
                    if (!String.valueOf(e.getMessage()).contains("connection closed")) throw e;
                    c = d.connect();
                }
            }
        }

        private static TreeSet<String> names(String list) {
            TreeSet<String> s = new TreeSet<>();
            for (String line : list.split("\n")) if (!line.isEmpty()) s.add(line.split(" ")[0]);
            return s;
        }
    }
}
