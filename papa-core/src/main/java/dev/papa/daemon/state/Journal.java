package dev.papa.daemon.state;

import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;
import dev.papa.posix.PosixException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntPredicate;

/**
 * The keeper's copy of the state (docs/KEEPER.md): a base state, the whole tables as
 * {@link Snapshot#writeRecords} writes them, in a memfd the keeper holds, followed by journal
 * frames ({@link JournalFrame}) appended in place with pwrite. A frame holds the entries that
 * changed ({@link ChangedEntries}) as they are now, or their tombstones: a change costs what
 * it changed, not the size of the tables. {@link Restore#read} replays base and frames.
 *
 * <p>It also knows which entry names which descriptor, so that a frame tells which
 * descriptors the keeper must hold before it and which it may release after it, without
 * looking at the other entries. The journal is compacted into a new base once it outgrows the
 * base (at least {@link #MIN_COMPACT} bytes). Loop thread only; the keeper's messages are the
 * caller's (dev.papa.daemon.keeper.KeeperLink).
 */
public final class Journal {
    /** Journals below this size are never compacted: a new base costs the whole tables. */
    static final long MIN_COMPACT = 1 << 20;

    private final Snapshot snapshot;
    private final ChangedEntries changed;
    private final String version;
    /** The state the keeper holds; appends go to its end. */
    private Fd state;
    private long end;
    private long baseSize;
    private long generation;
    private boolean needsBase = true;
    /** {@link #claimAhead} found the claims of these tables. */
    private boolean claimed;
    /** Descriptor number to the entry ("socket NAME", "process NAME") whose record in the state names it. */
    private final Map<Integer, String> claims = new HashMap<>();
    /** The other way: the entries whose record names descriptors, as they were when it was written. */
    private final Map<String, Snapshot.Named> byEntry = new HashMap<>();

    /** @param generation the generation of the state this JVM restored (0 for none): its bases are numbered after it */
    public Journal(Snapshot snapshot, ChangedEntries changed, String version, long generation) {
        this.snapshot = snapshot;
        this.changed = changed;
        this.version = version;
        this.generation = generation;
    }

    /** A base, not yet handed to the keeper ({@link #useBase}). */
    public record Base(Fd memfd, long size) {}

    /** What one write of the changes is: frames, the descriptors to hold before {@code after}, those to release after it. */
    public record Batch(List<byte[]> before, List<Integer> hold, List<byte[]> after, List<Integer> release) {
        public boolean isEmpty() {
            return before.isEmpty() && after.isEmpty() && release.isEmpty();
        }
    }

    /** True until a base is held, and again after a failed append (the memfd may end with part of a frame). */
    public boolean needsBase() {
        return needsBase;
    }

    /** A write failed part-way: the next one is a new base. */
    public void rebase() {
        needsBase = true;
    }

    /** The journal outgrew its bound: the next write should be a new base. */
    public boolean wantsCompaction() {
        return end - baseSize > Math.max(MIN_COMPACT, baseSize);
    }

    /**
     * The whole tables in a new memfd, sealed against shrinking. {@code descriptors} is
     * {@link Snapshot#descriptors()}, all already held by the keeper; the memfd's own number is
     * added, as in an upgrade's state.
     */
    public Base writeBase(List<Integer> descriptors) throws IOException {
        Fd memfd = Memfd.create("papa-keeper-state");
        try {
            List<Integer> all = new ArrayList<>(descriptors);
            all.add(memfd.get());
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(1 << 16);
            snapshot.writeRecords(bytes, version, all, generation + 1);
            Memfd.writeAt(memfd.get(), bytes.toByteArray(), 0);
            Memfd.sealShrink(memfd.get());
            return new Base(memfd, bytes.size());
        } catch (IOException | RuntimeException e) {
            memfd.close();
            throw e;
        }
    }

    /**
     * The keeper holds {@code base}: frames go there from now on, and what its records name is
     * known again. Returns the previous state, which the caller closes after releasing it.
     */
    public Fd useBase(Base base) {
        Fd old = state;
        state = base.memfd();
        end = baseSize = base.size();
        generation++;
        needsBase = false;
        claimAll();
        return old;
    }

    /**
     * Goes on writing in the state an upgrade handed over, whose base and frames ({@code
     * baseSize}, {@code end} bytes) are these tables already: the take-over read its frames into
     * tables built from its base, so no new base is written.
     */
    public void continueIn(Fd memfd, long baseSize, long end) throws IOException {
        state = memfd;
        this.end = end;
        this.baseSize = baseSize;
        needsBase = false;
        if (!claimed) claimAll();
        snapshot.markJournaled();
        Frames daemonwide = new Frames(); // this JVM's own record (its upgrades count) in place of the base's
        daemonwide.add(snapshot::daemonNow);
        append(daemonwide.done());
    }

    /**
     * An upgrade's standby, its tables built: which entry names which descriptor is found now,
     * before the port waits for the take-over ({@link #continueIn} then has it; a take-over only
     * refills values and queues, which name no descriptor).
     */
    public void claimAhead() {
        claimAll();
        claimed = true;
    }

    /** The tables this journal writes. */
    public Snapshot snapshot() {
        return snapshot;
    }

    /** What the tables' records name, as the state now says (after a base, or at a take-over). */
    private void claimAll() {
        changed.clear();
        claims.clear();
        byEntry.clear();
        for (String name : snapshot.socketNames()) claim("socket " + name, snapshot.socketNamed(name));
        for (String name : snapshot.processNames()) claim("process " + name, snapshot.processNamed(name));
    }

    /**
     * The frames for every entry changed since the last write, and what the keeper must hold
     * (again: {@code hold} lists only new objects, to be registered even if the keeper has a
     * descriptor of the same identity under that number) and may release. {@code needsHold}
     * tells a descriptor the keeper does not hold as it is now (not at all, or another object
     * of another identity under its number). An entry naming one goes in a
     * frame written only after it is held; tombstones and the other entries go before: so a
     * number reused for another object is replaced in the keeper only after the state stopped
     * naming the old one. An entry of that second frame whose record in the state names
     * descriptors (a socket or process removed and made again under its name in one write)
     * gets a tombstone in the first, for the same reason: between the two it is absent, as
     * it was between its removal and its new making.
     */
    public Batch changes(IntPredicate needsHold) throws IOException {
        Frames before = new Frames();
        Frames after = new Frames();
        Set<Integer> hold = new LinkedHashSet<>();
        List<Integer> release = new ArrayList<>();
        for (String name : changed.values) before.add(w -> snapshot.valueNow(w, name));
        for (String name : changed.sockets) {
            entry("socket", name, snapshot.socketNamed(name), w -> snapshot.socketNow(w, name), needsHold, hold, release, before, after);
        }
        for (String name : changed.processes) {
            entry("process", name, snapshot.processNamed(name), w -> snapshot.processNow(w, name), needsHold, hold, release, before, after);
        }
        changed.clear();
        release.removeIf(claims::containsKey); // named again, by another entry of this batch
        return new Batch(before.done(), List.copyOf(hold), after.done(), release);
    }

    /**
     * One changed socket or process ({@code kind}): its record goes into the first frame, unless
     * it names a descriptor the keeper must hold first; then into the second, after a tombstone
     * in the first if the state named it before.
     */
    private void entry(String kind, String name, Snapshot.Named now, Frames.Entry record, IntPredicate needsHold,
                       Set<Integer> hold, List<Integer> release, Frames before, Frames after) throws IOException {
        String entry = kind + " " + name;
        boolean named = byEntry.containsKey(entry);
        if (!reclaim(entry, now, needsHold, hold, release)) {
            before.add(record);
            return;
        }
        if (named) before.add(w -> Snapshot.gone(w, kind + "-gone", name));
        after.add(record);
    }

    /**
     * Moves an entry's claims to the descriptors it has now (none when {@code now} is null: it
     * is gone); what it no longer names goes to {@code release}, what the keeper must hold to
     * {@code hold}. True when it needs a hold. A descriptor the record did not name before is
     * a new object (an entry only loses descriptors), and so is every descriptor of an entry
     * made again under its name: those are held whatever {@code needsHold} says, since an
     * identity (device, inode) cannot tell two pidfds apart (one anonymous inode for all).
     */
    private boolean reclaim(String entry, Snapshot.Named now, IntPredicate needsHold, Set<Integer> hold, List<Integer> release) {
        Snapshot.Named had = byEntry.get(entry);
        boolean same = had != null && now != null && had.entry() == now.entry();
        int[] nowFds = now == null ? new int[0] : now.fds();
        if (had != null) {
            for (int fd : had.fds()) {
                if (fd >= 0 && !(same && contains(nowFds, fd)) && entry.equals(claims.get(fd))) {
                    claims.remove(fd);
                    release.add(fd);
                }
            }
        }
        claim(entry, now);
        boolean needs = false;
        for (int fd : nowFds) {
            if (fd >= 0 && (!same || !contains(had.fds(), fd) || needsHold.test(fd))) {
                hold.add(fd);
                needs = true;
            }
        }
        return needs;
    }

    private void claim(String entry, Snapshot.Named now) {
        boolean any = false;
        if (now != null) {
            for (int fd : now.fds()) {
                if (fd < 0) continue;
                claims.put(fd, entry);
                any = true;
            }
        }
        if (any) byEntry.put(entry, now);
        else byEntry.remove(entry);
    }

    private static boolean contains(int[] fds, int fd) {
        for (int f : fds) if (f == fd) return true;
        return false;
    }

    /**
     * The frames of an upgrade's hand-over, written after every change is: each process whose
     * queue moved since its record was written ({@link Snapshot#queuesMoved}), with its queued
     * output. The state then holds the whole tables with their output, as a state written
     * whole would. Null when that output is over {@code bound} bytes (the frames are built in
     * the heap): the caller writes a whole state instead.
     */
    public List<byte[]> handOverFrames(long bound) throws IOException {
        Frames frames = new Frames();
        long bytes = 0;
        for (dev.papa.daemon.table.HostedProcess p : snapshot.queuesMoved()) {
            bytes += p.output().bytes();
            if (bytes > bound) return null;
            frames.add(w -> snapshot.processWithOutput(w, p));
        }
        return frames.done();
    }

    /** Appends frames to the state the keeper holds. A failure leaves it as it was up to its last whole frame; a base follows. */
    public void append(List<byte[]> frames) throws PosixException {
        try {
            for (byte[] f : frames) {
                Memfd.writeAt(state.get(), f, end);
                end += f.length;
            }
        } catch (PosixException | RuntimeException e) {
            needsBase = true;
            throw e;
        }
    }

    /** The state the keeper holds (for the self-check), or null before the first base. */
    public Fd state() {
        return state;
    }

    /** Bytes of the held state: base and frames. */
    public long size() {
        return end;
    }

    public long generation() {
        return generation;
    }

    /** Entries grouped into frames of about {@link JournalFrame#SPLIT} bytes; an entry's group (a process and its item) is never split. */
    private static final class Frames {
        interface Entry {
            void write(StateFormat.Writer w) throws IOException;
        }

        private final List<byte[]> frames = new ArrayList<>();
        private final ByteArrayOutputStream payload = new ByteArrayOutputStream(256);

        void add(Entry e) throws IOException {
            try (StateFormat.Writer w = StateFormat.Writer.entries(payload)) {
                e.write(w);
            }
            if (payload.size() >= JournalFrame.SPLIT) cut();
        }

        private void cut() {
            frames.add(JournalFrame.encode(payload.toByteArray()));
            payload.reset();
        }

        List<byte[]> done() {
            if (payload.size() > 0) cut();
            return frames;
        }
    }
}
