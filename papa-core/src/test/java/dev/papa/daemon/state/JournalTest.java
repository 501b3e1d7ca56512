package dev.papa.daemon.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.buffer.OutputBudget;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.WallClock;
import dev.papa.daemon.spawn.Activation;
import dev.papa.daemon.spawn.ProcessSpec;
import dev.papa.daemon.table.HostedProcess;
import dev.papa.daemon.table.HostedSocket;
import dev.papa.daemon.table.Overflow;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.daemon.table.SocketTable;
import dev.papa.daemon.table.ValueTable;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.Memfd;
import dev.papa.posix.Sockets;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * The keeper's journal (docs/KEEPER.md "The state the keeper holds") on real tables, real
 * descriptors and a real memfd, with the keeper's holding simulated by number and identity as
 * KeeperLink does: replaying base and frames gives the tables, the keeper holds exactly what the
 * state names, and a frame cut or damaged anywhere ends the journal with everything before it.
 */
class JournalTest {
    private static final Principal ADMIN = Principal.administrator(0);

    private EventLoop loop;
    private Worker work;
    private ValueTable values;
    private SocketTable sockets;
    private ProcessTable processes;
    private Snapshot snapshot;
    private ChangedEntries changes;
    private Journal journal;
    private Fd listener;
    /** What the simulated keeper holds: number to identity. */
    private final Map<Integer, long[]> held = new HashMap<>();
    private final List<Fd> writeEnds = new ArrayList<>();
    /** Holds that replaced another object under the same number. */
    private int replaced;
    /** What the write being checked holds, for the messages. */
    private String current = "";
    /** Quiet: every change is audited and every cut journal warned of, thousands of lines. */
    private static final java.util.logging.Logger DAEMON_LOG = java.util.logging.Logger.getLogger("dev.papa.daemon");
    private java.util.logging.Level level;

    @BeforeEach
    void tables() throws Exception {
        level = DAEMON_LOG.getLevel();
        DAEMON_LOG.setLevel(java.util.logging.Level.SEVERE);
        loop = new EventLoop();
        work = new Worker(loop, 5000);
        values = new ValueTable(1 << 20, 0);
        sockets = new SocketTable(work);
        processes = new ProcessTable(loop, work, new WallClock(), sockets, new OutputBudget(1 << 20));
        processes.exitsFromKeeper();
        listener = Io.eventFd();
        snapshot = new Snapshot(values, sockets, processes, new Carried.Daemonwide(listener.get(), 0, 0, -1, 0));
        changes = new ChangedEntries(() -> {});
        snapshot.watch(changes);
        journal = new Journal(snapshot, changes, "test", 0);
    }

    @AfterEach
    void close() {
        processes.closeAll();
        sockets.closeAll();
        for (Fd f : writeEnds) f.close();
        if (journal.state() != null) journal.state().close();
        listener.close();
        work.close();
        DAEMON_LOG.setLevel(level);
    }

    // ------------------------------------------------ the keeper, simulated as KeeperLink does it

    private void base() throws Exception {
        List<Integer> fds = snapshot.descriptors();
        for (int fd : fds) hold(fd);
        Journal.Base b = journal.writeBase(fds);
        hold(b.memfd().get());
        Set<Integer> now = new HashSet<>(fds);
        now.add(b.memfd().get());
        Fd old = journal.useBase(b);
        held.keySet().retainAll(now);
        if (old != null) old.close();
    }

    private void persist() throws Exception {
        Journal.Batch batch = journal.changes(fd -> !same(fd));
        journal.append(batch.before());
        // what the state names is held: as it was when its record was written (it may be
        // closed here already, or its number reused by an object of the second frame)
        for (int fd : readHeld().header().descriptors()) {
            assertTrue(held.containsKey(fd), "descriptor " + fd + " named by the state but not held, after the first frame of " + current);
        }
        for (int fd : batch.hold()) register(fd);
        journal.append(batch.after());
        assertNamedAreHeld("the second frame");
        for (int fd : batch.release()) held.remove(fd);
        if (journal.wantsCompaction()) base();
    }

    /** As KeeperLink's base: registers fd unless the keeper holds the same identity under its number. */
    private void hold(int fd) throws Exception {
        if (!same(fd)) held.put(fd, Io.identity(fd));
    }

    /**
     * As KeeperLink's journal: registers fd, a new object (a pidfd's identity cannot tell it
     * from the pidfd it replaces); a number held for another object is replaced only once no
     * record names it (a kill in between keeps a true state).
     */
    private void register(int fd) throws Exception {
        if (held.containsKey(fd)) {
            replaced++;
            assertFalse(readHeld().header().descriptors().contains(fd),
                    "descriptor " + fd + " replaced in the keeper while the held state still names the old object, in " + current);
        }
        held.put(fd, Io.identity(fd));
    }

    /** Every descriptor the held state names is held, as the object it is now. */
    private void assertNamedAreHeld(String after) throws Exception {
        for (int fd : readHeld().header().descriptors()) {
            assertTrue(same(fd), "descriptor " + fd + " named by the state but not held as it is, after " + after + " of " + current);
        }
    }

    /** Whether the keeper holds fd as the object it is now; false for a number not open here. */
    private boolean same(int fd) {
        long[] had = held.get(fd);
        long[] id;
        try {
            id = Io.identity(fd);
        } catch (dev.papa.posix.PosixException e) {
            return false;
        }
        return had != null && had[0] == id[0] && had[1] == id[1];
    }

    private Restore.Image readHeld() throws Exception {
        try (InputStream in = Memfd.input(journal.state().get())) {
            return Restore.read(in);
        }
    }

    private Restore.Image whole() throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        snapshot.writeRecords(b, "test", snapshot.descriptors(), 0);
        return Restore.read(new ByteArrayInputStream(b.toByteArray()));
    }

    /** The replayed state is the tables, and the keeper holds exactly what it names (and the state itself). */
    private void assertHeldIsTables(String after) throws Exception {
        Restore.Image h = readHeld();
        assertEquals(List.of(), JournalCheck.differences(h, whole()), after);
        assertEquals(new TreeSet<>(values.all().keySet()), names(h.values()), after);
        Set<Integer> named = new TreeSet<>(h.header().descriptors());
        named.add(journal.state().get());
        assertEquals(named, new TreeSet<>(held.keySet()), "held descriptors after " + after);
        for (int fd : held.keySet()) assertTrue(same(fd), "descriptor " + fd + " held as it is now, after " + after);
    }

    private static Set<String> names(List<Carried.ValueEntry> vs) {
        Set<String> s = new TreeSet<>();
        for (Carried.ValueEntry v : vs) s.add(v.name());
        return s;
    }

    // ------------------------------------------------ changes to the tables

    private void set(String name, String value) throws Exception {
        values.set(ADMIN, new ArrayList<>(List.of(name, value)));
    }

    private void addSocket(String name) throws Exception {
        Fd[] pipe = Io.pipe(); // stands for a bound socket: only its number and identity matter here
        pipe[1].close();
        addSocket(name, pipe[0]);
    }

    private void addSocket(String name, Fd fd) throws Exception {
        sockets.adopt(HostedSocket.restored(name, 0, Sockets.Family.INET, Sockets.Type.STREAM, 128, null, null, "127.0.0.1",
                java.net.InetAddress.getLoopbackAddress(), 1000 + name.length(), null, false, false, fd, null, 0, 0, null));
    }

    /** A process whose pidfd and pipes are real descriptors (eventfd, pipes whose write ends the test keeps). */
    private void addProcess(String name) throws Exception {
        Fd[] out = Io.pipe();
        Fd[] err = Io.pipe();
        writeEnds.add(out[1]);
        writeEnds.add(err[1]);
        ProcessSpec spec = new ProcessSpec(name, List.of("/bin/true", name), Map.of("A", "1"), Map.of(), null, null, null, null, 1, "1",
                1 << 16, Activation.NONE, Overflow.DEFAULT, false);
        processes.adopt(spec, 0, 100_000 + name.hashCode() % 1000, 1, Io.eventFd(), out[0], err[0], true, 0, false, -1, false);
    }

    @Test
    void replayOfRandomChangesEqualsTheTablesAndTheKeeperHoldsWhatTheyName() throws Exception {
        base();
        assertHeldIsTables("the first base");
        Random r = new Random(42);
        int frames = 0;
        for (int step = 0; step < 400; step++) {
            int changesNow = 1 + r.nextInt(4); // several changes in one write, as in one round of the loop
            StringBuilder what = new StringBuilder();
            for (int c = 0; c < changesNow; c++) {
                String name = "n" + r.nextInt(12);
                switch (r.nextInt(8)) {
                    case 0: case 1: set(name, "v" + step); what.append(" set ").append(name); break;
                    case 2: values.remove(ADMIN, new ArrayList<>(List.of(name))); what.append(" unset ").append(name); break;
                    case 3:
                        if (sockets.find(name) == null) addSocket(name);
                        else sockets.remove(ADMIN, new ArrayList<>(List.of(name)));
                        what.append(" socket ").append(name);
                        break;
                    case 4:
                        if (processes.find(name) == null) addProcess(name);
                        what.append(" make ").append(name);
                        break;
                    case 5: {
                        HostedProcess p = processes.find(name);
                        if (p != null && p.running()) processes.exitReported(p, r.nextInt(3));
                        what.append(" exit ").append(name);
                        break;
                    }
                    case 6:
                        if (processes.find(name) != null) processes.remove(ADMIN, new ArrayList<>(List.of(name)));
                        what.append(" remove ").append(name);
                        break;
                    default: {
                        // its descendants let go of its pipes: the next read gives end of file
                        HostedProcess p = processes.find(name);
                        if (p != null && !p.running()) processes.exitReported(p, 0);
                        what.append(" nothing ").append(name);
                        break;
                    }
                }
            }
            long before = journal.size();
            current = "step " + step + ":" + what;
            persist();
            if (journal.size() != before) frames++;
            assertHeldIsTables("step " + step + ":" + what);
        }
        assertTrue(frames > 300, frames + " writes appended frames");
        assertTrue(replaced > 0, "a number reused within one write (the ordering of holds and frames is exercised)");
    }

    /**
     * A process forgotten and made again under its name in one write, its new pidfd at the old
     * one's number (eventfds, like pidfds, share one anonymous inode: the same identity): the
     * keeper's copy is replaced, and only once the state no longer names the old one (a kill in
     * between restores no record with the wrong object under it).
     */
    @Test
    void aNameMadeAgainOnTheSameNumberInOneWriteIsHeldAgainAfterItsTombstone() throws Exception {
        addProcess("job");
        base();
        HostedProcess old = processes.find("job");
        int number = old.pidfdNumber();
        processes.exitReported(old, 0); // closes its pidfd
        processes.remove(ADMIN, new ArrayList<>(List.of("job")));
        assertEquals(null, processes.find("job"));
        Fd pidfd = Io.eventFd(); // another object, at the same number (the lowest free) or moved there
        if (pidfd.get() != number) {
            Io.dupOnto(pidfd.get(), number);
            pidfd.close();
        }
        Fd[] out = Io.pipe();
        Fd[] err = Io.pipe();
        writeEnds.add(out[1]);
        writeEnds.add(err[1]);
        ProcessSpec spec = new ProcessSpec("job", List.of("/bin/true", "again"), Map.of(), Map.of(), null, null, null, null, 1, "1",
                1 << 16, Activation.NONE, Overflow.DEFAULT, false);
        processes.adopt(spec, 0, 4242, 2, Fd.adopt(number), out[0], err[0], true, 0, false, -1, false);
        current = "job made again with its pidfd at " + number;
        persist();
        assertEquals(1, replaced, "the keeper's copy at " + number + " was replaced");
        assertHeldIsTables(current);
        assertEquals(List.of("/bin/true", "again"), readHeld().processes().get(0).entry().spec().args());
    }

    @Test
    void aLongJournalIsCompactedIntoANewBaseOfTheNextGeneration() throws Exception {
        base();
        long generation = journal.generation();
        Fd first = journal.state();
        String big = "x".repeat(10_000);
        for (int i = 0; i < 150; i++) {
            set("v" + (i % 5), big + i);
            persist();
        }
        assertFalse(first.isOpen(), "the first base was replaced (and closed after its release)");
        assertTrue(journal.generation() > generation);
        assertEquals(journal.generation(), readHeld().header().generation());
        assertHeldIsTables("compaction");
        assertTrue(journal.size() < 2 * Journal.MIN_COMPACT + 100_000, journal.size() + " bytes held");
    }

    @Test
    void aFrameCutAtAnyByteOrDamagedAnywhereEndsTheJournalWithEverythingBeforeIt() throws Exception {
        set("kept", "1");
        addProcess("p");
        base();
        set("kept", "2");
        addSocket("web");
        persist();
        byte[] whole = read(journal.state());
        Restore.Image beforeLast = readHeld();
        set("kept", "3");
        values.remove(ADMIN, new ArrayList<>(List.of("kept")));
        set("new", "value");
        processes.exitReported(processes.find("p"), 7);
        sockets.remove(ADMIN, new ArrayList<>(List.of("web")));
        persist();
        byte[] withLast = read(journal.state());
        Restore.Image after = readHeld();
        int last = whole.length;
        assertTrue(withLast.length > last + JournalFrame.OVERHEAD, "one more frame");
        assertEquals(List.of("new"), List.copyOf(names(after.values())));
        assertEquals(List.of(), after.sockets());
        assertEquals(7, after.processes().get(0).entry().exitStatus());
        for (int cut = last; cut < withLast.length; cut++) {
            Restore.Image i = Restore.read(new ByteArrayInputStream(java.util.Arrays.copyOf(withLast, cut)));
            assertEquals(List.of(), JournalCheck.differences(i, beforeLast), "cut at byte " + cut);
            assertEquals(beforeLast.header().descriptors(), i.header().descriptors(), "cut at byte " + cut);
        }
        for (int at = last; at < withLast.length; at++) {
            byte[] damaged = withLast.clone();
            damaged[at] ^= 0x10;
            Restore.Image i = Restore.read(new ByteArrayInputStream(damaged));
            assertEquals(List.of(), JournalCheck.differences(i, beforeLast), "byte " + at + " flipped");
        }
        assertEquals(List.of(), JournalCheck.differences(Restore.read(new ByteArrayInputStream(withLast)), after));
    }

    @Test
    void aFrameIsLengthChecksumAndPayload() throws Exception {
        byte[] payload = {1, 2, 3, 4, 5};
        byte[] frame = JournalFrame.encode(payload);
        assertEquals(JournalFrame.OVERHEAD + payload.length, frame.length);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(payload);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(frame);
        assertEquals(payload.length, b.getInt());
        assertEquals((int) crc.getValue(), b.getInt());
        JournalFrame.Reader r = JournalFrame.Reader.of(new ByteArrayInputStream(frame));
        assertArrayEquals(payload, r.next());
        assertEquals(frame.length, r.end(), "the whole frame read");
        assertEquals(null, r.next());
        assertEquals(null, r.cut(), "a clean end is no cut");
    }

    private static byte[] read(Fd memfd) throws Exception {
        try (InputStream in = Memfd.input(memfd.get())) {
            return in.readAllBytes();
        }
    }
}
