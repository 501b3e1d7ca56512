package dev.papa.daemon.table;

import dev.papa.daemon.buffer.OutputBudget;
import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.posix.Epoll;
import dev.papa.posix.Fd;
import dev.papa.posix.PosixException;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Whether the loop reads a process's pipes. Always, for Part 1's rule; for {@code overflow=block}
 * only while its queue has room: a full queue takes the pipes out of epoll (they stay open, so
 * the writer blocks in write() and loses nothing) until acknowledgements bring the queue down
 * to half of bufsize, so that a fast writer wakes the loop once per half buffer, not per chunk.
 * The same holds when the daemon's output budget has no room left: such a process waits (it is
 * never evicted) until acknowledgements or removals anywhere bring room back.
 * A blocked process costs the loop nothing, so it cannot hold up anyone else.
 */
final class PipeGate {
    private static final Logger LOG = Logger.getLogger(PipeGate.class.getName());

    /** Reads a process's pipe when it is ready (ProcessTable.drain). */
    interface Reader {
        void readable(HostedProcess p, byte kind);
    }

    private final EventLoop loop;
    private final OutputBudget budget;
    private final Reader reader;
    /** Blocked processes that wait for room in the budget rather than in their own queue. */
    private final Set<HostedProcess> awaitingBudget = new LinkedHashSet<>();

    PipeGate(EventLoop loop, OutputBudget budget, Reader reader) {
        this.loop = loop;
        this.budget = budget;
        this.reader = reader;
    }

    /** Starts reading the pipes p has open. */
    void open(HostedProcess p) throws PosixException {
        if (p.stdout != null) loop.register(p.stdout.get(), Epoll.IN, ev -> reader.readable(p, OutputBuffer.OUT));
        if (p.stderr != null) loop.register(p.stderr.get(), Epoll.IN, ev -> reader.readable(p, OutputBuffer.ERR));
    }

    /** How many bytes the next read from p's pipes may take: up to {@code readSize}, 0 when p must wait. */
    int room(HostedProcess p, int readSize) {
        if (p.spec.overflow() != Overflow.BLOCK || !p.keepsOutput()) return readSize;
        int room = (int) Math.min(readSize, p.output.room());
        if (room > 0 && !budget.hasRoomFor(p.output, OutputBudget.chunkCost(room))) {
            awaitingBudget.add(p);
            return 0;
        }
        return room;
    }

    /** The queue is full: stop reading until {@link #acknowledged}. */
    void block(HostedProcess p) {
        if (p.blocked) return;
        p.blocked = true;
        unregister(p.stdout);
        unregister(p.stderr);
        LOG.fine(() -> "Process " + p.name() + " blocked: its queue holds " + p.output.bytes() + " bytes");
    }

    /** Room may be back in p's queue; true when p was resumed (its pipes are read again from the next round on). */
    boolean acknowledged(HostedProcess p) {
        if (p.gone || !p.blocked || (!p.removed && p.output.bytes() > p.output.capacity() / 2)) return false;
        return resume(p);
    }

    /**
     * Room may be back in the budget: resumes the processes that waited for it (each checks
     * again as it reads) and returns them.
     */
    List<HostedProcess> budgetFreed(int readSize) {
        if (awaitingBudget.isEmpty() || !budget.hasRoomFor(OutputBudget.chunkCost(readSize))) return List.of();
        List<HostedProcess> resumed = new ArrayList<>(awaitingBudget.size());
        long cost = OutputBudget.chunkCost(readSize);
        for (java.util.Iterator<HostedProcess> it = awaitingBudget.iterator(); it.hasNext(); ) {
            HostedProcess p = it.next();
            if (p.blocked && !p.gone && !budget.hasRoomFor(p.output, cost)) continue; // its owner's share is still full
            it.remove();
            if (p.blocked && !p.gone && resume(p)) resumed.add(p);
        }
        return resumed;
    }

    /** p left the table. */
    void forget(HostedProcess p) {
        awaitingBudget.remove(p);
    }

    private boolean resume(HostedProcess p) {
        p.blocked = false;
        try {
            open(p);
        } catch (PosixException e) {
            // epoll can only fail here for lack of memory: keep the process blocked rather than lose output
            p.blocked = true;
            LOG.log(Level.SEVERE, "cannot resume reading " + p.name(), e);
            return false;
        }
        LOG.fine(() -> "Process " + p.name() + " resumed");
        return true;
    }

    private void unregister(Fd pipe) {
        if (pipe != null) loop.unregister(pipe.get());
    }
}
