package dev.papa.daemon.table;

import dev.papa.daemon.spawn.ProcessSpec;

import dev.papa.daemon.buffer.OutputBudget;
import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.Printable;
import dev.papa.daemon.protocol.WallClock;
import dev.papa.posix.Fd;

import java.util.ArrayList;
import java.util.List;

/**
 * A process the daemon started: its pid, the descriptors it watches it through (pidfd and the
 * read ends of its stdout/stderr pipes) and its output queue. Lives on the event loop.
 */
public final class HostedProcess implements dev.papa.daemon.principal.Owned {
    final ProcessSpec spec;
    final byte[] nameBytes;
    final int owner;
    final int pid;
    final long startedMicros;
    final OutputBuffer output;
    Fd pidfd;
    Fd stdout;
    Fd stderr;
    boolean running = true;
    int exitStatus;
    /** {@code remove processes} was asked: keep nothing, forget at exit. */
    boolean removed;
    /** Left the table; its pipes may still be drained until descendants close them. */
    boolean gone;

    EventLoop.Timer pipeDeadline;
    /** overflow=block and the queue is full: its pipes are not read (PipeGate). */
    boolean blocked;
    /** The pipe grace after its exit ran out while it was blocked: finish once its pipes are read again. */
    boolean graceDue;
    final List<ProcessWatcher> watchers = new ArrayList<>(2);

    /**
     * Whether what its pipes give goes into its queue. Not once its exit was queued (or it left
     * the table) while descendants still hold the pipes: they are read until end of file and
     * what they write is discarded, never left to block them or kill them with SIGPIPE.
     */
    boolean keepsOutput() {
        return !removed && !gone && !output.isClosed();
    }

    HostedProcess(ProcessSpec spec, int owner, boolean ownerAdmin, int pid, long startedMicros, OutputBudget budget) {
        this.spec = spec;
        this.owner = owner;
        this.nameBytes = spec.name().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        this.pid = pid;
        this.startedMicros = startedMicros;
        this.output = new OutputBuffer(spec.bufsize(), budget, owner, ownerAdmin);
        output.pauses(spec.overflow() == Overflow.BLOCK);
    }

    public String name() { return spec.name(); }
    /** The name as UTF-8, for watch headers. */
    public byte[] nameBytes() { return nameBytes; }
    public int pid() { return pid; }
    /** The uid of the principal that made it. */
    @Override public int owner() { return owner; }
    public boolean running() { return running; }
    /** overflow=block and its queue is full: its pipes are not read. */
    public boolean blocked() { return blocked; }
    public boolean isGone() { return gone; }
    public OutputBuffer output() { return output; }
    public ProcessSpec spec() { return spec; }
    public long startedMicros() { return startedMicros; }
    public int exitStatus() { return exitStatus; }
    public boolean removed() { return removed; }
    /** The descriptors the daemon holds for this process; -1 for none (any longer). */
    public int pidfdNumber() { return pidfd != null && pidfd.isOpen() ? pidfd.get() : -1; }
    public int stdoutNumber() { return stdout != null ? stdout.get() : -1; }
    public int stderrNumber() { return stderr != null ? stderr.get() : -1; }
    /** Milliseconds left of the pipe grace after the exit (descendants hold the pipes); -1 for none. */
    public long pipeGraceMillis() { return pipeDeadline == null ? -1 : pipeDeadline.remainingMillis(); }
    /** The pipe grace ran out while it was blocked: it finishes once its pipes are read again. */
    public boolean graceDue() { return graceDue; }

    public void addWatcher(ProcessWatcher w) {
        if (!watchers.contains(w)) watchers.add(w);
    }

    public void removeWatcher(ProcessWatcher w) {
        watchers.remove(w);
    }

    /** The reply and {@code list processes} line. */
    public String line() {
        StringBuilder sb = new StringBuilder(128);
        sb.append(spec.name()).append(" pid=").append(pid)
                .append(" running=").append(running ? "True" : "False")
                .append(" started=");
        WallClock.append(sb, startedMicros);
        if (spec.uid() != null) sb.append(" uid=").append(spec.uid());
        if (spec.gid() != null) sb.append(" gid=").append(spec.gid());
        if (spec.shell()) sb.append(" shell=True");
        spec.activation().appendTo(sb);
        if (spec.overflow() == Overflow.BLOCK) sb.append(" overflow=block");
        else if (spec.overflow() == Overflow.DROP) sb.append(" overflow=drop dropped=").append(output.droppedBytes());
        if (blocked) sb.append(" blocked=True");
        sb.append(" args=").append(Printable.of(String.join(" ", spec.args()))); // an argument may hold any character
        return sb.toString();
    }
}
