package dev.papa.daemon.keeper;

import dev.papa.daemon.Version;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.session.Server;
import dev.papa.daemon.state.ChangedEntries;
import dev.papa.daemon.state.Journal;
import dev.papa.daemon.state.JournalCheck;
import dev.papa.daemon.state.Restore;
import dev.papa.daemon.state.Snapshot;
import dev.papa.daemon.state.StateException;
import dev.papa.daemon.state.Carried;
import dev.papa.daemon.table.HostedProcess;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.posix.Epoll;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.Memfd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.Sockets;
import dev.papa.posix.Spawner;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The daemon JVM's side of the keeper (src-c/keeper.c, docs/KEEPER.md). The keeper holds a
 * duplicate of every descriptor the state refers to, registered under the number it has here,
 * and places each at that same number in the next JVM; so a state written here is read back by
 * {@link Restore} in the next JVM exactly as after an in-place upgrade.
 *
 * <p>The state (values, sockets, processes with their exit statuses and closed items; not the
 * queued output) is a {@link Journal}: a base state in a memfd the keeper holds, and a frame
 * appended to it for the entries that changed, whenever a request changed them and before its
 * reply leaves ({@link #beforeReply}), whenever an exit is recorded, and at the end of a
 * round in which a table changed by itself; a new base replaces a journal grown too long, and
 * the previous base is released only after the new one is held. A JVM killed at any instant
 * therefore leaves the keeper a whole state at least as new as every reply sent.
 * Exits come from the keeper (it is the hosted processes' parent) and are acknowledged only
 * once a held state records them: reported exactly once across deaths. Loop thread only,
 * after {@link #connect}.
 */
public final class KeeperLink implements Server.StateWatch {
    private static final Logger LOG = Logger.getLogger(KeeperLink.class.getName());
    /** The daemon's option naming the channel (always {@link KeeperMessage#CHANNEL_FD}). */
    public static final String OPTION = "--keeper-channel";
    private static final int KIND_DESCRIPTOR = KeeperMessage.KIND_DESCRIPTOR, KIND_STATE = KeeperMessage.KIND_STATE;
    /** How soon to look again at an exit whose process is still being spawned. */
    private static final long UNMATCHED_RETRY_MILLIS = 20;
    /** After an upgrade's take-over: when the new JVM writes its first state (unless a change needs one sooner). */
    private static final long FIRST_STATE_AFTER_TAKE_OVER_MILLIS = 100;

    private final int channel = KeeperMessage.CHANNEL_FD;
    /** What the keeper handed this JVM: descriptor number here to kind. */
    final Map<Integer, Integer> inherited;
    /** Registered with the keeper: id (the number it has, or had, here) to {dev, ino} of what it was then. */
    final Map<Integer, long[]> registered = new HashMap<>();
    /**
     * Ids the keeper holds at another number here (an upgrade's descriptors held after this JVM
     * started, KeeperUpgrade): id to number. A state names ids; {@link #number} maps them.
     */
    final Map<Integer, Integer> numbers = new HashMap<>();
    /** Exits the keeper reported and no held state records yet: pid to wait status. */
    final Map<Integer, Integer> unmatched = new LinkedHashMap<>();
    /** Started for an upgrade: takes over from the serving JVM instead of starting afresh (KeeperUpgrade). */
    private final boolean standby;
    /** While this JVM asked for an upgrade: told when the next JVM is ready, or when the upgrade failed. */
    private KeeperUpgrade.Handover handover;
    private final int restarts;
    private final int lastDeath;
    private final long keeperStartedMicros;
    private final int keeperPid;
    private final ByteBuffer in = ByteBuffer.allocateDirect(64);
    private EventLoop loop;
    private ProcessTable processes;
    private Snapshot snapshot;
    private Journal journal;
    /** The highest generation of the states handed to this JVM (0: none); its bases come after it. */
    private long generation;
    private boolean checkJournal;
    private boolean changed = true;
    private boolean retryScheduled;
    private boolean alive = true;

    private KeeperLink(Map<Integer, Integer> inherited, Map<Integer, Integer> exits, int restarts, int lastDeath,
                       long keeperStartedMicros, int keeperPid, boolean standby) {
        this.inherited = inherited;
        this.standby = standby;
        this.unmatched.putAll(exits);
        this.restarts = restarts;
        this.lastDeath = lastDeath;
        this.keeperStartedMicros = keeperStartedMicros;
        this.keeperPid = keeperPid;
        for (int id : inherited.keySet()) {
            try {
                registered.put(id, Io.identity(id));
            } catch (PosixException e) {
                LOG.warning(() -> "The keeper handed descriptor " + id + " but it is not open: " + e.getMessage());
            }
        }
        this.generation = highestGeneration(inherited);
    }

    /**
     * The highest generation among the states the keeper handed (0 for none): this JVM's bases
     * are numbered after every one of them, also a standby's, which takes over a hand-over state.
     */
    private static long highestGeneration(Map<Integer, Integer> inherited) {
        long highest = 0;
        for (Map.Entry<Integer, Integer> e : inherited.entrySet()) {
            if (!isState(e.getValue())) continue;
            try (InputStream s = Memfd.input(e.getKey())) {
                highest = Math.max(highest, Restore.header(s).generation());
            } catch (IOException | StateException | RuntimeException ex) {
                // unreadable: takeState says so, and never takes it
            }
        }
        return highest;
    }

    /** Reads what the keeper hands a new JVM (held descriptors, exits, then its hello); blocks until it has. */
    public static KeeperLink connect() throws IOException {
        Map<Integer, Integer> held = new LinkedHashMap<>();
        Map<Integer, Integer> exits = new LinkedHashMap<>();
        ByteBuffer buf = ByteBuffer.allocateDirect(64);
        for (;;) {
            KeeperMessage m = read(KeeperMessage.CHANNEL_FD, buf);
            if (m == null) throw new IOException("the keeper's channel closed before its hello");
            switch (m.type()) {
                case KeeperMessage.HELD: held.put(m.id(), (int) m.a()); break;
                case KeeperMessage.EXITED: exits.put((int) m.a(), (int) m.b()); break;
                case KeeperMessage.HELLO:
                case KeeperMessage.STANDBY:
                    return new KeeperLink(held, exits, m.id(), (int) m.b(), m.a(), (int) m.c(), m.type() == KeeperMessage.STANDBY);
                default: LOG.warning("Unknown keeper message " + m.type() + " ignored"); break;
            }
        }
    }

    /** One message; null at end of file. Messages of another size are skipped. */
    static KeeperMessage read(int fd, ByteBuffer buf) throws PosixException {
        for (;;) {
            buf.clear();
            int n = Io.read(fd, buf);
            if (n == Io.EOF) return null;
            if (n == Io.AGAIN) continue;
            buf.flip();
            KeeperMessage m = KeeperMessage.decode(buf);
            if (m != null) return m;
            LOG.warning("Keeper message of " + n + " bytes ignored");
        }
    }

    /** How many times the keeper restarted the daemon, and why the last one died (a wait status, -1: never). */
    public int restarts() { return restarts; }

    public int lastDeath() { return lastDeath; }

    public long keeperStartedMicros() { return keeperStartedMicros; }

    public int keeperPid() { return keeperPid; }

    /** Started for an upgrade: {@link KeeperUpgrade#awaitTakeOver} instead of {@link #takeState}. */
    public boolean standby() { return standby; }

    /** The number here of what the state names as {@code id}. */
    public int number(int id) {
        return numbers.getOrDefault(id, id);
    }

    int channel() { return channel; }

    /**
     * The newest state the keeper holds (the previous JVM's last), or null for a first start:
     * a hand-over state first, then the highest generation, then the latest written. Older ones (a JVM that died between
     * holding a new base and releasing the old) are closed here and released at the first
     * {@link #persist}.
     */
    public Fd takeState() {
        int best = newestState();
        for (Map.Entry<Integer, Integer> e : inherited.entrySet()) {
            if (isState(e.getValue()) && e.getKey() != best) Fd.adopt(e.getKey()).close();
        }
        return best < 0 ? null : Fd.adopt(best);
    }

    /** The number of the newest state the keeper handed this JVM ({@link #takeState}'s order), or -1. */
    int newestState() {
        int best = -1;
        int bestHandover = -1;
        long bestGeneration = Long.MIN_VALUE;
        long bestMicros = Long.MIN_VALUE;
        for (Map.Entry<Integer, Integer> e : inherited.entrySet()) {
            if (!isState(e.getValue())) continue;
            Carried.Header h;
            try (InputStream s = Memfd.input(e.getKey())) {
                h = Restore.header(s);
            } catch (IOException | StateException | RuntimeException ex) {
                LOG.log(Level.SEVERE, "A state the keeper held is unreadable; ignored", ex);
                continue;
            }
            // a hand-over state is its JVM's last word (written after its last continuous one)
            int handover = e.getValue() == KeeperMessage.KIND_HANDOVER ? 1 : 0;
            if (handover > bestHandover || handover == bestHandover && (h.generation() > bestGeneration
                    || h.generation() == bestGeneration && h.writtenMicros() > bestMicros)) {
                bestHandover = handover;
                bestGeneration = h.generation();
                bestMicros = h.writtenMicros();
                best = e.getKey();
            }
        }
        return best;
    }

    /** A state: the keeper's continuous one, or the last one of a JVM that handed over (an upgrade cut short by a death). */
    static boolean isState(int kind) {
        return kind == KIND_STATE || kind == KeeperMessage.KIND_HANDOVER;
    }

    /**
     * Starts keeping the state in the keeper, once the tables exist (restored or new): children
     * are spawned as the keeper's, exits come from it, and descriptors the keeper handed back
     * that the state does not name (registered after the last state, whose request was never
     * answered) are closed. Writes the first state. Before the loop runs.
     */
    /** A state handed over that this JVM goes on writing ({@link #continueIn}), until {@link #attach}. */
    private record Continued(Fd state, long baseSize, long end) {}

    private Continued continued;

    /**
     * An upgrade's take-over read {@code state}'s frames into tables built from its base: its
     * {@code baseSize} bytes of base and {@code end} bytes in all are these tables, and
     * {@link #attach} makes it this JVM's journal, which takes the descriptor (no new base is
     * written: it would hold the loop for the whole tables just after the take-over).
     */
    public void continueIn(Fd state, long baseSize, long end) {
        continued = new Continued(state, baseSize, end);
    }

    private record Prepared(Journal journal, ChangedEntries changes) {}

    /** The journal an upgrade's standby made for its tables before the take-over, or null. */
    private Prepared prepared;

    private Prepared journalFor(Snapshot snapshot) {
        ChangedEntries changes = new ChangedEntries(this::changed);
        return new Prepared(new Journal(snapshot, changes, Version.line(), generation), changes);
    }

    /**
     * An upgrade's standby, its tables built: makes the journal it will write after the
     * take-over and finds which entry names which descriptor, while the serving JVM serves
     * ({@link #attach} uses them if it attaches these tables).
     */
    public void prepare(Snapshot snapshot) {
        prepared = journalFor(snapshot);
        prepared.journal().claimAhead();
    }

    public void attach(EventLoop loop, ProcessTable processes, Snapshot snapshot) throws IOException {
        this.loop = loop;
        this.processes = processes;
        this.snapshot = snapshot;
        // An upgrade's JVM: from here on it is the daemon, and what the keeper holds is its to change.
        if (standby) send(KeeperMessage.TAKEN, 0, 0);
        if (prepared == null || prepared.journal().snapshot() != snapshot) prepared = journalFor(snapshot);
        this.journal = prepared.journal();
        snapshot.watch(prepared.changes());
        prepared = null;
        checkJournal = JournalCheck.enabled();
        Spawner.childrenOfParent();
        processes.exitsFromKeeper();
        // A standby's stale copies are closed once it serves: a pass over every descriptor, not while the port waits.
        if (standby) loop.schedule(FIRST_STATE_AFTER_TAKE_OVER_MILLIS, this::closeUnnamed);
        else closeUnnamed();
        loop.register(channel, Epoll.IN, ev -> readMessages());
        if (continued != null) {
            // The state handed over, held, is these tables: this JVM writes its changes there.
            changed = false;
            try {
                journal.continueIn(continued.state(), continued.baseSize(), continued.end());
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.SEVERE, "cannot go on writing the state handed over; a new base follows", e);
                journal.rebase();
                changed = true;
                loop.afterRound(this::persistIfChanged);
            }
            continued = null;
        } else if (standby) {
            // The state handed over, held, is these tables until a change: the first state of
            // this JVM is written just after it serves again, not while the port waits for it.
            changed = false;
            loop.schedule(FIRST_STATE_AFTER_TAKE_OVER_MILLIS, () -> {
                changed = true;
                persist();
            });
        } else {
            persist();
        }
    }

    /** Closes what the keeper handed this JVM at its start that the tables do not name (registered after the last state). */
    private void closeUnnamed() {
        Set<Integer> named = new HashSet<>(snapshot.descriptors());
        for (Map.Entry<Integer, Integer> e : inherited.entrySet()) {
            if (e.getValue() == KIND_DESCRIPTOR && !named.contains(e.getKey())) Fd.adopt(e.getKey()).close();
        }
    }

    /**
     * A request changed the state, or a table told of a change: it is written before the next
     * reply leaves, or after this round.
     */
    @Override
    public void changed() {
        if (changed || loop == null) return;
        changed = true;
        loop.afterRound(this::persistIfChanged);
    }

    /** Before any reply is written: a reply a client received is never undone by a crash. */
    @Override
    public void beforeReply() {
        persistIfChanged();
    }

    /** Writes the state now if a change is not in the held one yet. */
    void persistIfChanged() {
        if (changed) persist();
    }

    /** The daemon serves: tells the keeper it started properly. */
    public void serving() {
        send(KeeperMessage.SERVING, 0, 0);
    }

    /** The daemon exits on purpose: the keeper ends with it instead of starting another. */
    public void ending() {
        send(KeeperMessage.ENDING, 0, 0);
    }

    private void readMessages() {
        KeeperMessage m;
        try {
            m = read(channel, in);
        } catch (PosixException e) {
            m = null;
            LOG.log(Level.SEVERE, "keeper channel", e);
        }
        if (m == null) {
            // The keeper is gone (killed): its death signal (SIGTERM, keeper.c) stops this daemon too.
            LOG.severe("The keeper's channel closed: the keeper is gone");
            loop.unregister(channel);
            alive = false;
            return;
        }
        if (m.type() == KeeperMessage.PING) {
            // the loop answers: the keeper tells systemd's watchdog it lives, and STATUS= these figures
            send(KeeperMessage.ALIVE, 0, processes.size(), processes.socketCount(), processes.queuedBytes());
        } else if (m.type() == KeeperMessage.EXITED) {
            unmatched.put((int) m.a(), (int) m.b());
            changed = true;
            persist();
        } else if (m.type() == KeeperMessage.RESUME && handover == null) {
            LOG.fine("The keeper resumed an upgrade this daemon had already given up");
        } else if ((m.type() == KeeperMessage.HAND_OVER || m.type() == KeeperMessage.RESUME) && handover != null) {
            KeeperUpgrade.Handover h = handover;
            if (m.type() == KeeperMessage.RESUME) handover = null;
            if (m.type() == KeeperMessage.HAND_OVER) h.handOver();
            else h.failed(KeeperUpgrade.why((int) m.a()));
        } else {
            LOG.warning("Unknown keeper message " + m.type() + " ignored");
        }
    }

    /**
     * Records reported exits in the tables, writes what changed (a journal frame, or a new base
     * at the first write and when the journal outgrew it), then acknowledges the exits that
     * the held state now records.
     */
    void persist() {
        if (!alive) {
            changed = false;
            return;
        }
        List<Integer> recorded = recordExits();
        changed = false; // after recordExits: the changes it makes are written now, not in another round
        try {
            if (journal.needsBase()) {
                writeBase();
            } else {
                appendChanges();
                if (journal.wantsCompaction()) writeBase();
            }
            if (checkJournal) JournalCheck.run(journal, snapshot);
            for (int pid : recorded) {
                send(KeeperMessage.ACK_EXIT, 0, pid);
                unmatched.remove(pid);
            }
        } catch (IOException | RuntimeException e) {
            // Not recorded: the keeper still has the state as of the last whole write; a new
            // base (the whole tables) is written at the next change.
            LOG.log(Level.SEVERE, "cannot hand the state to the keeper", e);
            journal.rebase();
            changed = true;
        }
        if (!unmatched.isEmpty() && !retryScheduled) {
            retryScheduled = true;
            loop.schedule(UNMATCHED_RETRY_MILLIS, () -> {
                retryScheduled = false;
                changed = true;
                persist();
            });
        }
    }

    /**
     * The changed entries as journal frames, appended to the state the keeper holds: the
     * descriptors they name held first, those no record names any more released after.
     */
    private void appendChanges() throws IOException {
        Journal.Batch batch = journal.changes(this::needsHold);
        journal.append(batch.before());
        for (int fd : batch.hold()) register(fd, KIND_DESCRIPTOR); // new objects, whatever their identity
        journal.append(batch.after());
        for (int fd : batch.release()) {
            if (registered.remove(fd) != null) send(KeeperMessage.RELEASE, fd, 0);
        }
    }

    /**
     * The whole tables as a new base, in a new memfd: every descriptor it names held first,
     * then the memfd; then what the keeper holds and the base does not name is released, the
     * previous state last.
     */
    private void writeBase() throws IOException {
        List<Integer> fds = snapshot.descriptors();
        Set<Integer> now = new HashSet<>(fds);
        for (int fd : fds) hold(fd, KIND_DESCRIPTOR);
        Journal.Base base = journal.writeBase(fds);
        try {
            hold(base.memfd().get(), KIND_STATE);
        } catch (IOException | RuntimeException e) {
            base.memfd().close();
            throw e;
        }
        now.add(base.memfd().get());
        Fd old = journal.useBase(base);
        for (Iterator<Map.Entry<Integer, long[]>> it = registered.entrySet().iterator(); it.hasNext(); ) {
            int id = it.next().getKey();
            if (now.contains(id)) continue;
            send(KeeperMessage.RELEASE, id, 0);
            it.remove();
        }
        if (old != null) old.close(); // after its release: its number may now be reused
    }

    /**
     * Puts reported exits into the table; returns the pids whose exit the next state records
     * (or that no process of the table will ever claim: a failed spawn's child, a descendant
     * the keeper reaped as subreaper). An exit of a pid still being spawned waits.
     */
    private List<Integer> recordExits() {
        List<Integer> recorded = new ArrayList<>();
        for (Map.Entry<Integer, Integer> e : unmatched.entrySet()) {
            int pid = e.getKey();
            HostedProcess p = processes.byPid(pid);
            if (p != null) {
                if (p.running()) processes.exitReported(p, Processes.decode(e.getValue()));
                recorded.add(pid);
            } else if (!processes.spawnInFlight()) {
                recorded.add(pid);
            }
        }
        return recorded;
    }

    /** Registers fd unless the keeper already holds this very object under its number. */
    private void hold(int fd, int kind) throws PosixException {
        if (same(registered.get(fd), Io.identity(fd))) return;
        register(fd, kind);
    }

    /** Registers fd, replacing what the keeper holds under its number. */
    private void register(int fd, int kind) throws PosixException {
        long[] id = Io.identity(fd);
        Sockets.sendFds(channel, new KeeperMessage(KeeperMessage.HOLD, fd, kind, 0, 0).encode(), fd);
        registered.put(fd, id);
    }

    /** Whether the keeper does not hold fd as it is now: not at all, or another object under its number. */
    private boolean needsHold(int fd) {
        try {
            return !same(registered.get(fd), Io.identity(fd));
        } catch (PosixException e) {
            throw new IllegalStateException("descriptor " + fd + " of the tables is not open", e);
        }
    }

    private static boolean same(long[] had, long[] id) {
        return had != null && had[0] == id[0] && had[1] == id[1];
    }

    /** Asks the keeper for an upgrade to {@code command}; {@code h} hears how it goes. */
    void upgrade(Fd command, KeeperUpgrade.Handover h) throws PosixException {
        handover = h;
        try {
            Sockets.sendFds(channel, new KeeperMessage(KeeperMessage.UPGRADE, 0, 0, 0, 0).encode(), command.get());
        } catch (PosixException e) {
            handover = null;
            throw e;
        }
    }

    /**
     * Queued output an upgrade hands over in frames of the held state, at most: more is
     * written as a whole state (frames are built in the heap, and one is at most JournalFrame.MAX).
     */
    static final long HAND_OVER_FRAMES_BOUND = 32 << 20;

    /**
     * The state to hand over at an upgrade, cheaply: the held one, every change written, with
     * frames of the queued output that moved since (the next JVM, its tables built from this
     * state, reads only what follows). A second number for it, the keeper's to hold as the
     * hand-over state; null when it cannot be (no whole held state, or too much output): the
     * caller writes a whole state.
     */
    public Fd handOverState() throws IOException {
        persistIfChanged();
        if (changed || journal.needsBase() || journal.state() == null) return null;
        List<byte[]> frames = journal.handOverFrames(HAND_OVER_FRAMES_BOUND);
        if (frames == null) return null;
        journal.append(frames);
        return Io.dupCloseOnExec(journal.state().get());
    }

    /**
     * An upgrade failed after the hand-over: a new base now, so that the queued output the
     * hand-over's frames put in the held state is not taken back after a later death.
     */
    void rebaseAfterHandOver() {
        journal.rebase();
        changed = true;
        persist();
    }

    /** Registers {@code fd} as the state handed over and tells the keeper (after this, the JVM waits). */
    void handed(Fd state) throws PosixException {
        handover = null;
        // registered even if the keeper holds this memfd at this number already (the state a
        // take-over went on writing): the next JVM is sent only what was registered since it started
        register(state.get(), KeeperMessage.KIND_HANDOVER);
        send(KeeperMessage.HANDED, state.get(), 0);
    }

    /** The keeper no longer needs to hold {@code fd} (a hand-over state the next JVM did not take). */
    void release(int fd) {
        send(KeeperMessage.RELEASE, fd, 0);
        registered.remove(fd);
    }

    void send(int type, int id, long a) {
        send(type, id, a, 0, 0);
    }

    private void send(int type, int id, long a, long b, long c) {
        if (!alive) return;
        try {
            Sockets.sendFds(channel, new KeeperMessage(type, id, a, b, c).encode());
        } catch (PosixException e) {
            LOG.log(Level.SEVERE, "cannot send to the keeper", e);
        }
    }

    /** For {@code list daemon}: what the keeper holds for this JVM. */
    public int heldCount() {
        return registered.size();
    }
}
