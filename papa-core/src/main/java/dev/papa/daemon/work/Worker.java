package dev.papa.daemon.work;

import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.CommandError;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs what may block (clone+exec, NSS lookups of users and groups, DNS) off the loop thread,
 * and hands the result back to the loop through {@link EventLoop#execute}. A job gets only
 * values it owns and returns a value or an error; it never touches tables, sessions or the
 * loop's state, so "one thread owns the tables" still holds.
 *
 * <p>Two lanes of one thread each: a user database or resolver that never answers holds up
 * only other lookups, never a spawn that needs none; spawns run one at a time, so no spawn can
 * inherit another's half-made pipes.
 */
public final class Worker implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Worker.class.getName());

    /** Jobs waiting per lane. A session has at most one request in flight, so this is far above need. */
    public static final int QUEUE_LIMIT = 4096;

    public enum Lane {
        /** User and group lookups ({@code uid=}, {@code gid=}, group lists) and {@code host=} resolution. */
        LOOKUP("papa-lookup"),
        /** clone+exec. */
        SPAWN("papa-spawn");

        final String threadName;

        Lane(String threadName) {
            this.threadName = threadName;
        }
    }

    /** Work done off the loop; a CommandError becomes the request's {@code Error:} reply. */
    @FunctionalInterface
    public interface Job<T> {
        T run() throws CommandError;
    }

    /** Called on the loop thread with exactly one of value and error. */
    @FunctionalInterface
    public interface Answer<T> {
        void accept(T value, CommandError error);
    }

    private final EventLoop loop;
    /** Jobs taken and not yet answered (loop thread only): an upgrade waits for none. */
    private int inFlight;
    private final ThreadPoolExecutor[] lanes = new ThreadPoolExecutor[Lane.values().length];

    public Worker(EventLoop loop) {
        this.loop = loop;
        for (Lane lane : Lane.values()) {
            lanes[lane.ordinal()] = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
                    new LinkedBlockingQueue<>(QUEUE_LIMIT), r -> {
                        Thread t = new Thread(r, lane.threadName);
                        t.setDaemon(true); // an unfinished lookup never keeps the JVM alive
                        return t;
                    });
        }
    }

    /**
     * Runs {@code job} on {@code lane}, then {@code answer} on the loop. Call on the loop. A full
     * queue (or a closed worker) answers at once, before this method returns.
     */
    public <T> void run(Lane lane, Job<T> job, Answer<T> answer) {
        try {
            inFlight++;
            lanes[lane.ordinal()].execute(() -> {
                T value = null;
                CommandError error = null;
                try {
                    value = job.run();
                } catch (CommandError e) {
                    error = e;
                } catch (RuntimeException | LinkageError | StackOverflowError e) {
                    LOG.log(Level.SEVERE, lane.threadName + " job failed", e);
                    error = CommandError.internal();
                }
                T v = value;
                CommandError err = error;
                loop.execute(() -> {
                    inFlight--; // idle() is asked between loop tasks: a job this answer starts counts by then
                    answer.accept(v, err);
                });
            });
        } catch (RejectedExecutionException e) {
            inFlight--;
            answer.accept(null, new CommandError("Too many requests in progress (" + QUEUE_LIMIT + "), try again"));
        }
    }

    /** True when every job taken was answered (loop thread only). */
    public boolean idle() {
        return inFlight == 0;
    }

    /** Daemon exit: drops waiting jobs; a running one finishes, and its answer is not delivered. */
    @Override
    public void close() {
        for (ThreadPoolExecutor lane : lanes) lane.shutdownNow();
    }
}
