package dev.papa.daemon.state;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.state.Carried.Header;
import dev.papa.daemon.state.Carried.ItemEntry;
import dev.papa.daemon.state.Carried.ProcessEntry;
import dev.papa.daemon.state.Carried.SocketEntry;
import dev.papa.daemon.state.Carried.ValueEntry;
import dev.papa.daemon.table.HostedSocket;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.daemon.table.SocketTable;
import dev.papa.daemon.table.ValueTable;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.IntUnaryOperator;

/**
 * Reads a state back ({@link #read}: also what {@code --check-state} does) and puts it into
 * new tables ({@link #apply}). Nothing here closes a descriptor: if restoring fails, the
 * previous image takes them all back.
 */
public final class Restore {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(Restore.class.getName());

    private Restore() {}

    /**
     * A whole state, read; {@code baseEnd}: the bytes of its base; {@code end}: of its base and
     * whole journal frames, which a later read of the same state's frames skips ({@link #readAfter}).
     */
    public record Image(Header header, List<ValueEntry> values, List<SocketEntry> sockets, List<Process> processes, long baseEnd,
                        long end) {
        /** A process and its queued items. */
        public record Process(ProcessEntry entry, List<ItemEntry> items) {}
    }

    /**
     * Reads and checks a whole state: the base, then the journal frames after it (the keeper's
     * state, {@link JournalFrame}) up to the first cut or damaged one, which a kill in the
     * middle of its write leaves. A replayed state's descriptor list is what its entries name.
     */
    public static Image read(InputStream in) throws StateException {
        StateFormat.Reader r = new StateFormat.Reader(in);
        if (!r.next() || !r.kind().equals("header")) throw new StateException("the state has no header");
        Header header = r.read(Header.class);
        Replay replay = new Replay();
        replay.apply(r);
        JournalFrame.Reader frames = r.frames();
        long baseEnd = frames.end();
        for (byte[] frame; (frame = frames.next()) != null; ) replay.apply(StateFormat.Reader.entries(frame));
        if (frames.cut() != null) LOG.warning("The state's journal ends after " + frames.frames() + " frames: " + frames.cut());
        if (frames.frames() > 0) {
            Carried.Daemonwide daemon = replay.daemon != null ? replay.daemon : header.daemon();
            header = new Header(header.version(), header.command(), replay.descriptors(daemon.listenerFd()), daemon,
                    header.writtenMicros(), header.generation());
        }
        List<SocketEntry> sockets = replay.sockets();
        List<Image.Process> processes = replay.processes();
        check(header, sockets, processes);
        return new Image(header, replay.values(), sockets, processes, baseEnd, frames.end());
    }

    /** Only the header: enough to hand the state back to the previous image. */
    public static Header header(InputStream in) throws StateException {
        StateFormat.Reader r = new StateFormat.Reader(in);
        if (!r.next() || !r.kind().equals("header")) throw new StateException("the state has no header");
        return r.read(Header.class);
    }

    /** Every descriptor named by an entry is listed in the header, once. */
    private static void check(Header h, List<SocketEntry> sockets, List<Image.Process> processes) throws StateException {
        Set<Integer> listed = new HashSet<>(h.descriptors());
        List<Integer> used = new ArrayList<>();
        used.add(h.daemon().listenerFd());
        for (SocketEntry s : sockets) if (s.fd() >= 0) used.add(s.fd());
        for (Image.Process p : processes) {
            for (int fd : new int[] {p.entry().pidfd(), p.entry().stdout(), p.entry().stderr()}) if (fd >= 0) used.add(fd);
        }
        Set<Integer> seen = new HashSet<>();
        for (int fd : used) {
            if (!listed.contains(fd)) throw new StateException("descriptor " + fd + " is not in the state's list");
            if (!seen.add(fd)) throw new StateException("descriptor " + fd + " is used twice");
        }
    }

    /** Puts the state into the (new, empty) tables. The loop must not run yet. */
    public static void apply(Image image, ValueTable values, SocketTable sockets, ProcessTable processes) throws StateException {
        apply(image, values, sockets, processes, IntUnaryOperator.identity());
    }

    /**
     * As {@link #apply(Image, ValueTable, SocketTable, ProcessTable)}, with each descriptor the
     * state names found at {@code number.applyAsInt(named)} (an upgrade under the keeper hands
     * some over at other numbers: dev.papa.daemon.keeper.KeeperUpgrade).
     */
    public static void apply(Image image, ValueTable values, SocketTable sockets, ProcessTable processes, IntUnaryOperator number)
            throws StateException {
        for (ValueEntry v : image.values()) values.restore(v.name(), v.value(), v.owner());
        for (SocketEntry s : image.sockets()) {
            InetAddress address;
            try {
                address = s.address() == null ? null : InetAddress.getByName(s.address()); // a literal: no lookup
            } catch (IOException e) {
                throw new StateException("socket " + s.name() + ": address " + s.address(), e);
            }
            sockets.adopt(HostedSocket.restored(s.name(), s.owner(), s.family(), s.type(), s.backlog(), s.path(), s.umask(), s.host(),
                    address, s.port(), s.iface(), s.reusePort(), s.adopted(), descriptor(s.fd(), number), s.pathKey(), s.fileDev(), s.fileIno(),
                    s.fileOwner()));
        }
        for (Image.Process ip : image.processes()) {
            ProcessEntry p = ip.entry();
            OutputBuffer output = processes.adopt(p.spec(), p.owner(), p.pid(), p.startedMicros(), descriptor(p.pidfd(), number),
                    descriptor(p.stdout(), number), descriptor(p.stderr(), number), p.running(), p.exitStatus(), p.removed(),
                    p.pipeGraceMillis(), p.graceDue()).output();
            output.startAt(p.headSeq(), p.sentEnd(), p.dropped());
            queue(output, ip);
        }
    }

    private static void queue(OutputBuffer output, Image.Process ip) {
        for (ItemEntry item : ip.items()) {
            if (item.kind() == OutputBuffer.CLOSED) output.appendClosed(item.timeMicros(), ip.entry().exitStatus());
            else output.append((byte) item.kind(), item.timeMicros(), item.chunk());
        }
    }

    /** A process entry's components that describe its queue, not the process. */
    private static final Set<String> QUEUE_COMPONENTS = Set.of("headSeq", "sentEnd", "dropped", "items");

    /**
     * What a keeper's state says after the part of it read before: the entries written since,
     * as they are last, and the names removed since; {@code end}: where its whole frames end.
     */
    public record Changes(List<ValueEntry> values, Set<String> valuesGone, List<SocketEntry> sockets, Set<String> socketsGone,
                          List<Image.Process> processes, Set<String> processesGone, Carried.Daemonwide daemon, long end) {
        /** Every process of {@code image} as written again (an upgrade's standby warms up by comparing a state with itself). */
        public static Changes processesOf(Image image) {
            return new Changes(List.of(), Set.of(), List.of(), Set.of(), image.processes(), Set.of(), null, image.end());
        }
    }

    /**
     * Reads {@link Changes} of a state: the frames after its first {@code end} bytes (an
     * {@link Image#end}: whole frames end there, and a state is only ever appended to).
     */
    public static Changes readAfter(InputStream in, long end) throws StateException {
        try {
            in.skipNBytes(end);
        } catch (IOException e) {
            throw new StateException("the state ends before the " + end + " bytes read before", e);
        }
        JournalFrame.Reader reader = JournalFrame.Reader.of(in);
        Replay replay = new Replay();
        for (byte[] frame; (frame = reader.next()) != null; ) replay.apply(StateFormat.Reader.entries(frame));
        if (reader.cut() != null) LOG.warning("The state's journal ends after " + reader.frames() + " frames: " + reader.cut());
        return new Changes(replay.values(), replay.valuesGone, replay.sockets(), replay.socketsGone, replay.processes(),
                replay.processesGone, replay.daemon, end + reader.end());
    }

    /**
     * Why tables {@link #apply applied} from {@code built} cannot take {@code changes} (the same
     * state's later frames) by {@link #refill}, or null when they can: only values and queues
     * changed, and no descriptor they use was {@code replaced} (another object is at its number
     * now). A socket or a process made, changed or removed since needs tables built anew.
     */
    public static String differs(Image built, Changes changes, Set<Integer> replaced) {
        for (int fd : built.header().descriptors()) if (replaced.contains(fd)) return "descriptor " + fd + " was replaced";
        if (changes.daemon() != null && !changes.daemon().equals(built.header().daemon())) return "the daemon-wide record";
        if (!changes.sockets().isEmpty() || !changes.socketsGone().isEmpty()) return "a socket";
        if (!changes.processesGone().isEmpty()) return "process " + changes.processesGone().iterator().next() + " left";
        java.util.Map<String, ProcessEntry> processes = new java.util.HashMap<>();
        for (Image.Process p : built.processes()) processes.put(p.entry().spec().name(), p.entry());
        for (Image.Process p : changes.processes()) {
            if (!RecordCodec.same(processes.get(p.entry().spec().name()), p.entry(), QUEUE_COMPONENTS)) {
                return "process " + p.entry().spec().name();
            }
        }
        return null;
    }

    /**
     * Gives tables applied from a state the values and queued output its later frames wrote
     * ({@code changes}, which {@link #differs} allows). The loop must not run yet.
     */
    public static void refill(Changes changes, ValueTable values, ProcessTable processes) throws StateException {
        for (String name : changes.valuesGone()) values.restoreGone(name);
        for (ValueEntry v : changes.values()) values.restore(v.name(), v.value(), v.owner());
        for (Image.Process ip : changes.processes()) {
            ProcessEntry p = ip.entry();
            dev.papa.daemon.table.HostedProcess hp = processes.find(p.spec().name());
            if (hp == null || hp.pid() != p.pid()) throw new StateException("process " + p.spec().name() + " is not in the tables built");
            hp.output().restartAt(p.headSeq(), p.sentEnd(), p.dropped());
            queue(hp.output(), ip);
        }
    }

    /** Takes a descriptor the exec kept open: close-on-exec again, so children get only what they ask for. */
    public static Fd descriptor(int fd) throws StateException {
        return descriptor(fd, IntUnaryOperator.identity());
    }

    /** {@link #descriptor(int)} of what the state names {@code named}, found at {@code number.applyAsInt(named)}. */
    public static Fd descriptor(int named, IntUnaryOperator number) throws StateException {
        if (named < 0) return null;
        int fd = number.applyAsInt(named);
        try {
            Io.setCloseOnExec(fd, true);
        } catch (PosixException e) {
            throw new StateException("descriptor " + fd + " did not survive the exec: " + e.getMessage(), e);
        }
        return Fd.adopt(fd);
    }
}
