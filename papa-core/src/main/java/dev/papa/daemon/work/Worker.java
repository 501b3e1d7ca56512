package dev.papa.daemon.work;

import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.principal.Principal;
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
 * <p>Two lanes: lookups ({@link LookupLane}: users take turns, each bounded, each lookup timed
 * out), so a user database or resolver that never answers holds up no spawn and no other user;
 * and spawns, one at a time on one thread, so no spawn can inherit another's half-made pipes.
 */
public final class Worker implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Worker.class.getName());

    /** Spawns waiting. A session has at most one request in flight, so this is far above need. */
    public static final int QUEUE_LIMIT = 4096;
    /** How long a lookup may take unless --lookup-timeout says otherwise. */
    public static final long DEFAULT_LOOKUP_TIMEOUT_MILLIS = 5_000;

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
    private final LookupLane lookups;
    /** Spawns taken and not yet answered (loop thread only): an upgrade waits for none. */
    private int spawnsInFlight;
    private final ThreadPoolExecutor spawns;

    public Worker(EventLoop loop, long lookupTimeoutMillis) {
        this.loop = loop;
        this.lookups = new LookupLane(loop, lookupTimeoutMillis);
        this.spawns = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(QUEUE_LIMIT), r -> {
            Thread t = new Thread(r, "papa-spawn");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Looks up users, groups or a host name for the session of {@code by}, then {@code answer} on
     * the loop. {@code what} names it in errors ("host example.com"). Call on the loop; a refused
     * lookup is answered before this returns.
     */
    public <T> void lookup(Principal by, String what, Job<T> job, Answer<T> answer) {
        lookups.run(by, what, job, answer);
    }

    /** The session of {@code by} ended: its lookups are answered now and their results dropped. */
    public void forget(Principal by) {
        lookups.forget(by);
    }

    /**
     * Runs {@code job} (a clone+exec) on the spawn thread, then {@code answer} on the loop. Call on
     * the loop. A full queue (or a closed worker) answers at once, before this method returns.
     */
    public <T> void spawn(Job<T> job, Answer<T> answer) {
        try {
            spawnsInFlight++;
            spawns.execute(() -> {
                T value = null;
                CommandError error = null;
                try {
                    value = job.run();
                } catch (CommandError e) {
                    error = e;
                } catch (RuntimeException | LinkageError | StackOverflowError e) {
                    LOG.log(Level.SEVERE, "papa-spawn job failed", e);
                    error = CommandError.internal();
                }
                T v = value;
                CommandError err = error;
                loop.execute(() -> {
                    spawnsInFlight--; // idle() is asked between loop tasks: a job this answer starts counts by then
                    answer.accept(v, err);
                });
            });
        } catch (RejectedExecutionException e) {
            spawnsInFlight--;
            answer.accept(null, new CommandError("Too many requests in progress (" + QUEUE_LIMIT + "), try again"));
        }
    }

    /**
     * True when every spawn taken was answered (loop thread only). Lookups do not count: an
     * upgrade ends every session first, which answers their lookups.
     */
    public boolean spawnsIdle() {
        return spawnsInFlight == 0;
    }

    /** Daemon exit: drops waiting jobs; a running one finishes, and its answer is not delivered. */
    @Override
    public void close() {
        lookups.close();
        spawns.shutdownNow();
    }
}
