package dev.papa.daemon.keeper;

import dev.papa.daemon.state.Restore;
import dev.papa.daemon.state.StateException;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.Memfd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.Sockets;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.Logger;

/**
 * The upgrade under the keeper (docs/KEEPER.md, "Upgrading"): the next JVM starts beside the
 * serving one, which serves until the next one is ready; then the serving JVM stops, hands over
 * its last state (the tables with their queued output) and waits, and the next one takes over.
 * The control port is not served only between the hand-over and the take-over.
 *
 * <p>The serving JVM's side: {@link #request}, then {@link Handover#handOver} on the loop
 * thread, {@link #handOver}, which returns only if the upgrade failed. The next JVM's side:
 * {@link #awaitTakeOver}, before its tables exist.
 */
public final class KeeperUpgrade {
    private static final Logger LOG = Logger.getLogger(KeeperUpgrade.class.getName());
    /** Reads of the serving JVM's state before the standby says it is ready: enough for the JIT to compile the reader. */
    private static final int WARM_UP_READS = 20;

    private KeeperUpgrade() {}

    /** What the serving JVM hears of the upgrade it asked for (on the loop thread). */
    public interface Handover {
        /** The next JVM is ready: stop serving, then {@link #handOver}. */
        void handOver();

        /** The upgrade did not happen (before the hand-over was asked). */
        void failed(String why);
    }

    /** Asks the keeper to start {@code command} (the next JVM's java, flags, jar, options) beside this JVM. */
    public static void request(KeeperLink link, List<String> command, Handover h) throws IOException {
        List<String> argv = new java.util.ArrayList<>(command);
        argv.add(KeeperLink.OPTION);
        try (Fd memfd = Memfd.create("papa-upgrade-command")) {
            try (OutputStream out = Memfd.output(memfd.get())) {
                for (String a : argv) {
                    out.write(a.getBytes(StandardCharsets.UTF_8));
                    out.write(0);
                }
            }
            Memfd.seal(memfd.get());
            link.upgrade(memfd, h);
        }
    }

    /**
     * Hands {@code state} (the tables with their queued output) over, then runs {@code handed},
     * and waits, the loop held still, until the next JVM took over (this JVM then exits at
     * once: it must touch nothing the next one now owns) or failed. Returns the reason it
     * failed; the state is released.
     */
    public static String handOver(KeeperLink link, Fd state, Runnable handed) throws PosixException {
        link.persistIfChanged(); // every descriptor the state names is held
        link.handed(state);
        handed.run();
        ByteBuffer buf = ByteBuffer.allocateDirect(64);
        for (;;) {
            KeeperMessage m = KeeperLink.read(link.channel(), buf);
            if (m == null) {
                LOG.severe("The keeper's channel closed during the hand-over: the keeper is gone");
                exitNow(1);
            } else if (m.type() == KeeperMessage.RETIRE) {
                LOG.warning("The new daemon took over; this one ends");
                exitNow(0);
            } else if (m.type() == KeeperMessage.RESUME) {
                link.release(state.get());
                link.rebaseAfterHandOver();
                return why((int) m.a());
            }
            // KM_EXITED: told again after a KM_RESUME; the next JVM is told them if it takes over
        }
    }

    /** This JVM cannot hand over: a hand-over naming no state makes the keeper end the next JVM. */
    public static void cancel(KeeperLink link) {
        link.send(KeeperMessage.HANDED, 0, 0);
    }

    /** Ends this JVM without shutdown hooks: the port file, the socket path and the processes are the next JVM's now. */
    private static void exitNow(int status) {
        for (Handler h : Logger.getLogger("").getHandlers()) h.flush();
        Runtime.getRuntime().halt(status);
    }

    /** Why an upgrade failed, from KM_RESUME's wait status of the next JVM (-1: it did not start). */
    static String why(int status) {
        if (status == -1) return "the keeper could not start it";
        int code = Processes.decode(status);
        return "the new daemon ended (" + (code < 0 ? "signal " + -code : "exit status " + code) + ") before it took over";
    }

    /**
     * Reads the serving JVM's newest continuous state, as a take-over reads the one handed
     * over, compares its processes with themselves and reads what follows it, as a take-over
     * into tables built before does: the classes and code of a take-over are then loaded and
     * warm when the control port is not served. Reads only; nothing is restored.
     */
    public static void warmUp(KeeperLink link) {
        long started = System.nanoTime();
        int state = link.newestState();
        int rounds = 0;
        for (; state >= 0 && rounds < WARM_UP_READS; rounds++) {
            try (java.io.InputStream in = Memfd.input(state); java.io.InputStream again = Memfd.input(state)) {
                Restore.Image image = Restore.read(in);
                Restore.differs(image, Restore.Changes.processesOf(image), java.util.Set.of());
                Restore.readAfter(again, image.end());
            } catch (IOException | StateException | RuntimeException ex) {
                int s = state;
                LOG.fine(() -> "warm-up read of state " + s + ": " + ex);
                break;
            }
        }
        for (Class<?> c : TAKE_OVER_CLASSES) {
            try {
                Class.forName(c.getName(), true, c.getClassLoader());
            } catch (ClassNotFoundException | LinkageError e) {
                LOG.fine(() -> "cannot initialize " + c.getName() + ": " + e);
            }
        }
        long ms = (System.nanoTime() - started) / 1_000_000;
        int n = rounds;
        LOG.fine(() -> "Warmed up with " + n + " reads of the serving daemon's state in " + ms + " ms");
    }

    /**
     * The next JVM: tells the keeper it is ready, then takes what the serving JVM registered
     * since this one started and its exits, and returns the state it handed over. A descriptor
     * the keeper holds at an id this JVM received at its start replaces that stale one at the
     * same number; any other is moved above every id the keeper holds, so a later registration
     * under its number replaces nothing still needed (the state names ids: {@link KeeperLink#number}).
     */
    /** The serving JVM's state as it was read before the hand-over, and which memfd it is (device, inode). */
    public record Serving(Restore.Image image, long[] identity) {
        /** Whether {@code state} is this memfd: the serving JVM handed over the state it kept, with frames added. */
        public boolean is(Fd state) {
            try {
                return java.util.Arrays.equals(identity, Io.identity(state.get()));
            } catch (PosixException e) {
                return false;
            }
        }
    }

    /**
     * The serving JVM's newest state as it is now, to build the tables from before the
     * hand-over; null when there is none or when it names a descriptor this JVM did not receive
     * at its start (registered since: the tables are then built at the take-over).
     */
    public static Serving servingState(KeeperLink link) {
        int state = link.newestState();
        if (state < 0) return null;
        Restore.Image image;
        long[] identity;
        try (java.io.InputStream in = Memfd.input(state)) {
            identity = Io.identity(state);
            image = Restore.read(in);
        } catch (IOException | StateException | RuntimeException e) {
            LOG.info("The serving daemon's state cannot be read ahead of the take-over (" + e.getMessage() + ")");
            return null;
        }
        for (int fd : image.header().descriptors()) { // the tables' and the state's own
            if (!link.inherited.containsKey(fd)) {
                LOG.fine(() -> "The serving daemon's state names descriptor " + fd + ", registered after this JVM started");
                return null;
            }
        }
        return new Serving(image, identity);
    }

    /**
     * What the take-over got: the state handed over, and the numbers at which a descriptor
     * replaced the one this JVM received at its start (tables built before use the old one).
     */
    public record TakeOver(Fd state, java.util.Set<Integer> replaced) {}

    /**
     * Classes a take-over first uses after the hand-over (the journal the new JVM starts),
     * linked and initialized now, while the serving JVM serves: not while the port waits.
     */
    private static final Class<?>[] TAKE_OVER_CLASSES = {dev.papa.daemon.state.Journal.class, dev.papa.daemon.state.ChangedEntries.class,
            dev.papa.daemon.state.JournalCheck.class, Restore.Changes.class, dev.papa.daemon.Version.class};

    public static TakeOver awaitTakeOver(KeeperLink link) throws IOException {
        // what the take-over needs of the descriptors received at the start, found before the port waits
        int above = 0;
        List<Integer> states = new java.util.ArrayList<>();
        for (Map.Entry<Integer, Integer> e : link.inherited.entrySet()) {
            above = Math.max(above, e.getKey());
            if (KeeperLink.isState(e.getValue())) states.add(e.getKey());
        }
        link.send(KeeperMessage.READY, 0, 0);
        Map<Integer, Fd> received = new LinkedHashMap<>();
        Map<Integer, Integer> kinds = new LinkedHashMap<>();
        java.util.Set<Integer> replaced = new java.util.HashSet<>();
        int stateId;
        try {
            for (;;) {
                Sockets.Received r = Sockets.receiveFds(link.channel(), KeeperMessage.SIZE, 1);
                if (r.data().length == 0) throw new IOException("the keeper's channel closed before the take-over");
                KeeperMessage m = KeeperMessage.decode(ByteBuffer.wrap(r.data()));
                if (m == null || (m.type() != KeeperMessage.HELD_FD && r.fds().length > 0)) {
                    for (Fd fd : r.fds()) fd.close();
                    if (m == null) continue;
                }
                if (m.type() == KeeperMessage.HELD_FD && r.fds().length == 1) {
                    Fd old = received.put(m.id(), r.fds()[0]);
                    if (old != null) old.close();
                    kinds.put(m.id(), (int) m.a());
                } else if (m.type() == KeeperMessage.EXITED) {
                    link.unmatched.put((int) m.a(), (int) m.b());
                } else if (m.type() == KeeperMessage.TAKE_OVER) {
                    stateId = m.id();
                    break;
                } else {
                    LOG.warning("Keeper message " + m.type() + " ignored while waiting to take over");
                }
            }
            for (int id : received.keySet()) above = Math.max(above, id);
            for (Map.Entry<Integer, Fd> e : received.entrySet()) {
                if (place(link, e.getKey(), e.getValue(), kinds.get(e.getKey()), above + 1)) replaced.add(e.getKey());
                if (KeeperLink.isState(kinds.get(e.getKey()))) states.add(link.number(e.getKey()));
            }
        } finally {
            for (Fd fd : received.values()) fd.close();
        }
        if (!received.containsKey(stateId)) throw new IOException("the keeper named state " + stateId + ", which it did not hand over");
        // the serving JVM's continuous states: the hand-over one is newer than all of them
        int stateNumber = link.number(stateId);
        for (int state : states) {
            if (state != stateNumber && KeeperLink.isState(link.inherited.getOrDefault(state, -1))) {
                Fd.adopt(state).close();
                link.inherited.remove(state);
            }
        }
        link.inherited.remove(stateNumber);
        return new TakeOver(Fd.adopt(stateNumber), replaced);
    }

    /**
     * Puts a descriptor held under {@code id} where {@link KeeperLink#number} finds it; true if
     * it replaced the one this JVM received at that number at its start.
     */
    private static boolean place(KeeperLink link, int id, Fd fd, int kind, int above) throws PosixException {
        long[] identity = Io.identity(fd.get());
        boolean replaced = link.inherited.containsKey(id);
        if (replaced) {
            Io.dupOnto(fd.get(), id); // the stale object this JVM got at id at its start
            link.inherited.put(id, kind);
        } else {
            Fd moved = Io.dupAtLeast(fd.get(), above);
            int number = moved.release();
            link.numbers.put(id, number);
            link.inherited.put(number, kind);
        }
        link.registered.put(id, identity);
        return replaced;
    }
}
