package dev.papa.daemon.state;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.protocol.WallClock;
import dev.papa.daemon.state.Carried.Header;
import dev.papa.daemon.state.Carried.ItemEntry;
import dev.papa.daemon.state.Carried.ProcessEntry;
import dev.papa.daemon.state.Carried.SocketEntry;
import dev.papa.daemon.state.Carried.ValueEntry;
import dev.papa.daemon.table.HostedProcess;
import dev.papa.daemon.table.HostedSocket;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.daemon.table.SocketTable;
import dev.papa.daemon.table.ValueTable;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Writes the daemon's tables as a state (loop thread only: the tables must hold still). */
public final class Snapshot {
    private final ValueTable values;
    private final SocketTable sockets;
    private final ProcessTable processes;
    private final Carried.Daemonwide daemon;
    /**
     * What the keeper's state last said of each process's queue ({@link #queueMark}, as written
     * without output): an upgrade's hand-over carries the queues that moved since ({@link #queuesMoved}).
     */
    private final Map<String, long[]> journaled = new java.util.HashMap<>();

    public Snapshot(ValueTable values, SocketTable sockets, ProcessTable processes, Carried.Daemonwide daemon) {
        this.values = values;
        this.sockets = sockets;
        this.processes = processes;
        this.daemon = daemon;
    }

    /** Every descriptor the state refers to: the ones that must survive the exec. */
    public List<Integer> descriptors() {
        List<Integer> fds = new ArrayList<>();
        fds.add(daemon.listenerFd());
        for (HostedSocket s : sockets.all()) if (s.fileno() >= 0) fds.add(s.fileno());
        for (HostedProcess p : processes.all()) {
            for (int fd : descriptors(p)) if (fd >= 0) fds.add(fd);
        }
        return fds;
    }

    private static int[] descriptors(HostedProcess p) {
        return new int[] {p.pidfdNumber(), p.stdoutNumber(), p.stderrNumber()};
    }

    /** Tells {@code changes} of every change to an entry of the tables (the keeper's journal). */
    public void watch(dev.papa.daemon.table.TableChanges changes) {
        values.changes(changes);
        sockets.changes(changes);
        processes.changes(changes);
    }

    /** Writes the state; {@code descriptors} is {@link #descriptors()} plus the state's own memfd. */
    public void write(OutputStream out, String version, List<String> command, List<Integer> descriptors) throws IOException {
        write(out, version, command, descriptors, true, 0);
    }

    /**
     * The state without queued output (the keeper's base state, dev.papa.daemon.keeper): each
     * process keeps only its closed item, so an exit is still reported; the output chunks are
     * not carried (issue 23) and a restore starts each queue after them.
     */
    public void writeRecords(OutputStream out, String version, List<Integer> descriptors, long generation) throws IOException {
        write(out, version, List.of(), descriptors, false, generation);
    }

    private void write(OutputStream out, String version, List<String> command, List<Integer> descriptors, boolean withOutput,
                       long generation) throws IOException {
        if (!withOutput) journaled.clear();
        try (StateFormat.Writer w = new StateFormat.Writer(out)) {
            w.entry("header", new Header(version, command, descriptors, daemon, new WallClock().nowMicros(), generation));
            for (Map.Entry<String, ValueTable.Value> v : values.all().entrySet()) value(w, v.getKey(), v.getValue());
            for (HostedSocket s : sockets.all()) socket(w, s);
            for (HostedProcess p : processes.all()) process(w, p, withOutput);
        }
    }

    /**
     * A process's queue as its record says it: the first item carried, every item below the
     * second sent, the bytes dropped, and the items carried ({@code withOutput}: all; else only
     * a closed item).
     */
    private static long[] queueMark(HostedProcess p, boolean withOutput) {
        OutputBuffer o = p.output();
        long from = withOutput ? o.headSeq() : o.isClosed() ? o.endSeq() - 1 : o.endSeq();
        return new long[] {from, Math.max(from, o.sentEnd()), o.droppedBytes(), o.endSeq() - from};
    }

    private static void value(StateFormat.Writer w, String name, ValueTable.Value v) throws IOException {
        w.entry("value", new ValueEntry(name, v.text(), v.owner()));
    }

    private static void socket(StateFormat.Writer w, HostedSocket s) throws IOException {
        w.entry("socket", new SocketEntry(s.name(), s.owner(), s.family(), s.type(), s.backlog(), s.path(), s.umask(), s.host(),
                s.address() == null ? null : s.address().getHostAddress(), s.port(), s.iface(), s.reusePort(), s.adopted(), s.fileno(),
                s.pathKey(), s.fileDev(), s.fileIno(), s.fileOwner()));
    }

    /** A process and its queued items; without output, only its closed item if it has one. */
    private void process(StateFormat.Writer w, HostedProcess p, boolean withOutput) throws IOException {
        OutputBuffer o = p.output();
        long[] mark = queueMark(p, withOutput);
        long from = mark[0];
        w.entry("process", new ProcessEntry(p.spec(), p.owner(), p.pid(), p.startedMicros(), p.pidfdNumber(), p.stdoutNumber(),
                p.stderrNumber(), p.running(), p.exitStatus(), p.removed(), p.pipeGraceMillis(), p.graceDue(),
                from, mark[1], mark[2], (int) mark[3]));
        if (!withOutput) journaled.put(p.name(), mark);
        for (long seq = from; seq < o.endSeq(); seq++) {
            w.entry("item", new ItemEntry(o.kind(seq), o.timeMicros(seq), o.chunk(seq)));
        }
    }

    // ------------------------------------------------ one entry as it is now (the keeper's journal)

    /** The value of this name as it is now (without output, as {@link #writeRecords}), or its tombstone. */
    void valueNow(StateFormat.Writer w, String name) throws IOException {
        ValueTable.Value v = values.all().get(name);
        if (v == null) gone(w, "value-gone", name);
        else value(w, name, v);
    }

    void socketNow(StateFormat.Writer w, String name) throws IOException {
        HostedSocket s = sockets.find(name);
        if (s == null) gone(w, "socket-gone", name);
        else socket(w, s);
    }

    void processNow(StateFormat.Writer w, String name) throws IOException {
        HostedProcess p = processes.find(name);
        if (p == null) {
            journaled.remove(name);
            gone(w, "process-gone", name);
        } else {
            process(w, p, false);
        }
    }

    /**
     * The keeper's state says of every queue what it is now (an upgrade's take-over read it
     * into these tables, the hand-over's frames with the queued output included).
     */
    void markJournaled() {
        journaled.clear();
        for (HostedProcess p : processes.all()) journaled.put(p.name(), queueMark(p, true));
    }

    /** The daemon-wide record, as a journal frame carries it in place of the header's (state format 1.2). */
    void daemonNow(StateFormat.Writer w) throws IOException {
        w.entry("daemon", daemon);
    }

    /** A process with all its queued output (an upgrade's hand-over). */
    void processWithOutput(StateFormat.Writer w, HostedProcess p) throws IOException {
        process(w, p, true);
    }

    /**
     * The processes whose queue is not what the keeper's state last said of it: chunks queued,
     * or its numbers moved since (output read, acknowledged or dropped). A removed process keeps
     * no output: none of it is carried.
     */
    List<HostedProcess> queuesMoved() {
        List<HostedProcess> moved = new ArrayList<>();
        for (HostedProcess p : processes.all()) {
            if (!p.removed() && !java.util.Arrays.equals(queueMark(p, true), journaled.get(p.name()))) moved.add(p);
        }
        return moved;
    }

    List<String> socketNames() {
        List<String> names = new ArrayList<>();
        for (HostedSocket s : sockets.all()) names.add(s.name());
        return names;
    }

    List<String> processNames() {
        List<String> names = new ArrayList<>();
        for (HostedProcess p : processes.all()) names.add(p.name());
        return names;
    }

    /** A tombstone: the entry of this name is not in the state (from here on in the journal). */
    static void gone(StateFormat.Writer w, String kind, String name) throws IOException {
        w.entry(kind, new Carried.Gone(name));
    }

    /**
     * A table entry as the journal tracks it: the object itself (compared by reference: the
     * same name made again is another object) and the descriptors it has now (-1 for one it no
     * longer has).
     */
    record Named(Object entry, int[] fds) {}

    /** The socket of this name, or null when there is none. */
    Named socketNamed(String name) {
        HostedSocket s = sockets.find(name);
        return s == null ? null : new Named(s, new int[] {s.fileno()});
    }

    /** The process of this name, or null when there is none. */
    Named processNamed(String name) {
        HostedProcess p = processes.find(name);
        return p == null ? null : new Named(p, descriptors(p));
    }
}
