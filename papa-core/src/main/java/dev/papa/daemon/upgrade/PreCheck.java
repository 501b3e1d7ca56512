package dev.papa.daemon.upgrade;

import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Child;
import dev.papa.posix.Epoll;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.SpawnSpec;
import dev.papa.posix.Spawner;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs {@code JAR ... --check-state 3} as a child with a copy of the state at descriptor 3,
 * watched by the loop like any process (the loop never waits for it). It passes when it exits
 * 0 after printing its version line; otherwise its last line of output is the reason.
 */
final class PreCheck {
    private static final Logger LOG = Logger.getLogger(PreCheck.class.getName());
    static final int STATE_FD = 3;
    /** A new JVM reads a state in well under this; one that hangs is killed. */
    static final long TIMEOUT_MILLIS = 60_000;
    private static final int MAX_OUTPUT = 8192;
    private static final int SIGKILL = 9;
    /** The check's status when the keeper reaped it. */
    private static final int REAPED_BY_KEEPER = Integer.MIN_VALUE;
    private static final int ECHILD = 10;

    interface Outcome {
        void passed(String version);

        void failed(String reason);
    }

    private final EventLoop loop;
    private final Child child;
    private final Outcome outcome;
    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private final ByteBuffer buf = ByteBuffer.allocate(4096);
    private final EventLoop.Timer deadline;
    private boolean timedOut;
    private boolean done;

    private PreCheck(EventLoop loop, Child child, Outcome outcome) {
        this.loop = loop;
        this.child = child;
        this.outcome = outcome;
        this.deadline = loop.schedule(TIMEOUT_MILLIS, this::timeout);
    }

    /**
     * Starts the check on the worker's spawn lane (clone+exec of a JVM must not hold up the
     * loop); {@code state} is closed once the child has its copy.
     */
    static void start(EventLoop loop, Worker work, List<String> command, Fd state, Outcome outcome) {
        SpawnSpec spec = new SpawnSpec(command).env(dev.papa.client.DaemonLauncher.daemonEnvironment(System.getenv())).passFd(state.get(), STATE_FD)
                .stdout(SpawnSpec.Output.PIPE).stderr(SpawnSpec.Output.STDOUT);
        work.spawn(() -> {
            try {
                return Spawner.spawn(spec);
            } catch (PosixException e) {
                throw new CommandError("cannot run it: " + e.getMessage());
            }
        }, (child, error) -> {
            state.close();
            if (error != null) {
                outcome.failed(error.getMessage());
                return;
            }
            PreCheck check = new PreCheck(loop, child, outcome);
            try {
                loop.register(child.pidfd().get(), Epoll.IN, ev -> check.exited());
                loop.register(child.stdout().get(), Epoll.IN, ev -> check.read());
            } catch (PosixException e) {
                check.deadline.cancel();
                check.kill();
                try {
                    Processes.waitFor(child.pid()); // killed: no zombie left behind
                } catch (PosixException gone) {
                    LOG.log(Level.FINE, "reap check", gone);
                }
                loop.unregister(child.pidfd().get());
                child.pidfd().close();
                child.stdout().close();
                outcome.failed("cannot watch it: " + e.getMessage());
            }
        });
    }

    private void read() {
        Fd out = child.stdout();
        if (!out.isOpen()) return;
        for (;;) {
            buf.clear();
            int n;
            try {
                n = Io.read(out.get(), buf);
            } catch (PosixException e) {
                n = Io.EOF;
            }
            if (n == Io.AGAIN) return;
            if (n == Io.EOF) {
                loop.unregister(out.get());
                out.close();
                return;
            }
            if (output.size() < MAX_OUTPUT) output.write(buf.array(), 0, Math.min(n, MAX_OUTPUT - output.size()));
        }
    }

    private void exited() {
        Integer status;
        try {
            status = Processes.reap(child.pid());
        } catch (PosixException e) {
            // Under the keeper the check is the keeper's child (CLONE_PARENT), reaped there: its
            // pidfd said it ended, and its last line says whether it read the state.
            status = e.errno() == ECHILD ? REAPED_BY_KEEPER : -1;
        }
        if (status == null) return;
        loop.unregister(child.pidfd().get());
        child.pidfd().close();
        read(); // everything it wrote is in the pipe now
        if (child.stdout().isOpen()) {
            loop.unregister(child.stdout().get());
            child.stdout().close();
        }
        deadline.cancel();
        if (done) return;
        done = true;
        String text = output.toString(StandardCharsets.UTF_8).strip();
        String last = text.isEmpty() ? "" : text.substring(text.lastIndexOf('\n') + 1).strip();
        if ((status == 0 || status == REAPED_BY_KEEPER) && last.startsWith("papa ")) {
            outcome.passed(last);
        } else if (timedOut) {
            outcome.failed("it did not read the state within " + TIMEOUT_MILLIS / 1000 + " s");
        } else {
            outcome.failed(!last.isEmpty() ? last : status == REAPED_BY_KEEPER ? "it ended without reading the state"
                    : "it exited with status " + status);
        }
    }

    private void timeout() {
        timedOut = true;
        kill();
    }

    /** Our own helper, not a hosted process: the daemon may end it. */
    private void kill() {
        try {
            Processes.kill(child.pid(), SIGKILL);
        } catch (PosixException e) {
            LOG.log(Level.FINE, "kill check", e);
        }
    }
}
