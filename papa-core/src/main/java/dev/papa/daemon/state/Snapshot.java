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
            for (int fd : new int[] {p.pidfdNumber(), p.stdoutNumber(), p.stderrNumber()}) if (fd >= 0) fds.add(fd);
        }
        return fds;
    }

    /** Writes the state; {@code descriptors} is {@link #descriptors()} plus the state's own memfd. */
    public void write(OutputStream out, String version, List<String> command, List<Integer> descriptors) throws IOException {
        write(out, version, command, descriptors, true);
    }

    /**
     * The state without queued output (the keeper's continuous copy, dev.papa.daemon.keeper):
     * each process keeps only its closed item, so an exit is still reported; the output
     * chunks are not carried (issue 23) and a restore starts each queue after them.
     */
    public void writeRecords(OutputStream out, String version, List<Integer> descriptors) throws IOException {
        write(out, version, List.of(), descriptors, false);
    }

    private void write(OutputStream out, String version, List<String> command, List<Integer> descriptors, boolean withOutput)
            throws IOException {
        try (StateFormat.Writer w = new StateFormat.Writer(out)) {
            w.entry("header", new Header(version, command, descriptors, daemon, new WallClock().nowMicros()));
            for (Map.Entry<String, ValueTable.Value> v : values.all().entrySet()) {
                w.entry("value", new ValueEntry(v.getKey(), v.getValue().text(), v.getValue().owner()));
            }
            for (HostedSocket s : sockets.all()) {
                w.entry("socket", new SocketEntry(s.name(), s.owner(), s.family(), s.type(), s.backlog(), s.path(), s.umask(), s.host(),
                        s.address() == null ? null : s.address().getHostAddress(), s.port(), s.iface(), s.reusePort(), s.adopted(), s.fileno(),
                        s.pathKey(), s.fileDev(), s.fileIno(), s.fileOwner()));
            }
            for (HostedProcess p : processes.all()) {
                OutputBuffer o = p.output();
                long from = withOutput ? o.headSeq() : o.isClosed() ? o.endSeq() - 1 : o.endSeq();
                w.entry("process", new ProcessEntry(p.spec(), p.owner(), p.pid(), p.startedMicros(), p.pidfdNumber(), p.stdoutNumber(),
                        p.stderrNumber(), p.running(), p.exitStatus(), p.removed(), p.pipeGraceMillis(), p.graceDue(),
                        from, Math.max(from, o.sentEnd()), o.droppedBytes(), (int) (o.endSeq() - from)));
                for (long seq = from; seq < o.endSeq(); seq++) {
                    w.entry("item", new ItemEntry(o.kind(seq), o.timeMicros(seq), o.chunk(seq)));
                }
            }
        }
    }
}
