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

    /** A whole state, read. */
    public record Image(Header header, List<ValueEntry> values, List<SocketEntry> sockets, List<Process> processes) {
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
        for (byte[] frame; (frame = frames.next()) != null; ) replay.apply(StateFormat.Reader.entries(frame));
        if (frames.cut() != null) LOG.warning("The state's journal ends after " + frames.frames() + " frames: " + frames.cut());
        if (frames.frames() > 0) {
            header = new Header(header.version(), header.command(), replay.descriptors(header.daemon().listenerFd()), header.daemon(),
                    header.writtenMicros(), header.generation());
        }
        List<SocketEntry> sockets = replay.sockets();
        List<Image.Process> processes = replay.processes();
        check(header, sockets, processes);
        return new Image(header, replay.values(), sockets, processes);
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
            for (ItemEntry item : ip.items()) {
                if (item.kind() == OutputBuffer.CLOSED) output.appendClosed(item.timeMicros(), p.exitStatus());
                else output.append((byte) item.kind(), item.timeMicros(), item.chunk());
            }
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
