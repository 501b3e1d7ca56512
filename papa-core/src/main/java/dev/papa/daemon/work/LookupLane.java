package dev.papa.daemon.work;

import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.CommandError;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * User, group and host lookups, off the loop (docs/SECURITY.md, "Lookups"). A resolver or user
 * database that hangs, and a user who sends many slow lookups, must delay nobody else:
 * <ul>
 * <li>users take turns: the next lookup to run is the oldest of the next user in rotation, and a
 *     user has at most one lookup running, so one user's queue never delays another's by more
 *     than one lookup per user;</li>
 * <li>a user has at most {@link #PER_USER} lookups waiting or running; more are refused at once;</li>
 * <li>a lookup that does not answer within the timeout is answered with an error; its thread is
 *     left to the call that hangs and replaced, up to {@link #MAX_STUCK} such threads;</li>
 * <li>a session that leaves takes its lookups with it ({@link #forget}): one waiting is dropped,
 *     one running is no longer waited for. Nothing it asked for is carried out.</li>
 * </ul>
 * Whether a lookup is answered is decided on the loop thread only, so it is answered exactly once.
 */
final class LookupLane implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(LookupLane.class.getName());
    /** Threads that run lookups at once (each user one at most). */
    static final int THREADS = 4;
    /** Lookups one user may have waiting or running. */
    static final int PER_USER = 64;
    /** Threads left inside a call that never returned; past this none is replaced. */
    static final int MAX_STUCK = 16;
    static final String THREAD_NAME = "papa-lookup";

    private final EventLoop loop;
    private final long timeoutMillis;

    // Guarded by this: the queues and the threads' bookkeeping.
    private final Map<Integer, ArrayDeque<Task<?>>> waiting = new HashMap<>();
    /** Users with lookups waiting, in the order they get their next turn. */
    private final ArrayDeque<Integer> turns = new ArrayDeque<>();
    /** Users with a lookup running. */
    private final Set<Integer> running = new HashSet<>();
    private final Map<Integer, Integer> perUser = new HashMap<>();
    private int threads;
    private int stuck;
    private boolean closed;

    /** Tasks not answered yet, by the session that asked (loop thread only). */
    private final Map<Principal, Set<Task<?>>> bySession = new java.util.IdentityHashMap<>();

    private static final class Task<T> {
        final Principal by;
        final String what;
        final Worker.Job<T> job;
        final Worker.Answer<T> answer;
        /** Loop thread only. */
        boolean answered;
        EventLoop.Timer timer;
        /** Guarded by the lane: the thread running the job, until it returns or is given up. */
        Thread runner;
        boolean givenUp;

        Task(Principal by, String what, Worker.Job<T> job, Worker.Answer<T> answer) {
            this.by = by;
            this.what = what;
            this.job = job;
            this.answer = answer;
        }
    }

    LookupLane(EventLoop loop, long timeoutMillis) {
        this.loop = loop;
        this.timeoutMillis = timeoutMillis;
        synchronized (this) {
            for (int i = 0; i < THREADS; i++) startThread();
        }
    }

    /** Loop thread. Answers at once (before returning) when the lookup is refused. */
    <T> void run(Principal by, String what, Worker.Job<T> job, Worker.Answer<T> answer) {
        Task<T> task = new Task<>(by, what, job, answer);
        String refused = enqueue(task);
        if (refused != null) {
            answer.accept(null, new CommandError(refused));
            return;
        }
        bySession.computeIfAbsent(by, k -> new HashSet<>()).add(task);
    }

    private synchronized String enqueue(Task<?> task) {
        int uid = task.by.uid();
        if (closed || threads == 0) return notAnswering();
        int mine = perUser.getOrDefault(uid, 0);
        if (mine >= PER_USER) return "Too many lookups in progress for uid " + uid + " (" + PER_USER + "), try again";
        perUser.put(uid, mine + 1);
        ArrayDeque<Task<?>> queue = waiting.computeIfAbsent(uid, k -> new ArrayDeque<>());
        if (queue.isEmpty()) turns.addLast(uid);
        queue.addLast(task);
        notifyAll();
        return null;
    }

    /** Loop thread: the session of {@code by} has ended; its lookups are answered now and not carried out. */
    void forget(Principal by) {
        Set<Task<?>> tasks = bySession.remove(by);
        if (tasks == null) return;
        synchronized (this) {
            for (Task<?> t : tasks) {
                ArrayDeque<Task<?>> queue = waiting.get(t.by.uid());
                if (queue != null && queue.remove(t)) {
                    release(t.by.uid());
                    if (queue.isEmpty()) {
                        waiting.remove(t.by.uid());
                        turns.remove(t.by.uid());
                    }
                }
            }
        }
        for (Task<?> t : tasks) answer(t, null, new CommandError("The client left before " + t.what + " was looked up"), false);
    }

    /** A lookup thread: takes the next task in turn, runs it, hands the result to the loop. */
    private void work() {
        while (true) {
            Task<?> task = next();
            if (task == null) return;
            runOne(task);
            synchronized (this) {
                task.runner = null;
                if (!task.givenUp) {
                    running.remove(task.by.uid());
                    release(task.by.uid());
                    notifyAll();
                    continue;
                }
                // given up on while it hung: a thread replaced it; this one ends, or takes its place back
                stuck--;
                if (closed || threads >= THREADS) return;
                threads++;
            }
        }
    }

    private <T> void runOne(Task<T> task) {
        T value = null;
        CommandError error = null;
        try {
            value = task.job.run();
        } catch (CommandError e) {
            error = e;
        } catch (RuntimeException | LinkageError | StackOverflowError e) {
            LOG.log(Level.SEVERE, THREAD_NAME + " job failed", e);
            error = CommandError.internal();
        }
        T v = value;
        CommandError err = error;
        loop.execute(() -> answer(task, v, err, true));
    }

    /** Blocks until a task is due for this thread; null when the lane closes. */
    private synchronized Task<?> next() {
        while (true) {
            if (closed) {
                threads--;
                return null;
            }
            for (Iterator<Integer> it = turns.iterator(); it.hasNext(); ) {
                int uid = it.next();
                if (running.contains(uid)) continue;
                it.remove();
                ArrayDeque<Task<?>> queue = waiting.get(uid);
                Task<?> task = queue.removeFirst();
                if (queue.isEmpty()) waiting.remove(uid);
                else turns.addLast(uid);
                running.add(uid);
                task.runner = Thread.currentThread();
                Task<?> started = task;
                loop.execute(() -> started(started));
                return task;
            }
            try {
                wait();
            } catch (InterruptedException e) {
                // only close() interrupts; the loop above sees it
            }
        }
    }

    /**
     * Loop thread: the task began to run; from now on it has {@link #timeoutMillis} to return. Also
     * when it was answered already (its session left): a thread that hangs is given up all the same.
     */
    private void started(Task<?> task) {
        task.timer = loop.schedule(timeoutMillis, () -> timedOut(task));
    }

    private void timedOut(Task<?> task) {
        synchronized (this) {
            if (task.runner == null) return; // it returned; its answer is on its way
            task.givenUp = true;
            running.remove(task.by.uid());
            release(task.by.uid());
            stuck++;
            threads--;
            LOG.warning(() -> "A lookup of " + dev.papa.daemon.protocol.Printable.of(task.what) + " has not returned after " + timeoutMillis + " ms; "
                    + stuck + " lookup thread(s) wait for the user database or resolver");
            if (stuck <= MAX_STUCK) startThread();
            else if (threads == 0) failWaiting();
            notifyAll();
        }
        answer(task, null, new CommandError("No answer looking up " + task.what + " within " + seconds(timeoutMillis)), false);
    }

    /** Every thread hangs: what waits would wait forever; it is answered now. Holds the lock. */
    private void failWaiting() {
        for (ArrayDeque<Task<?>> queue : waiting.values()) {
            for (Task<?> t : queue) {
                release(t.by.uid());
                String why = notAnswering();
                loop.execute(() -> answer(t, null, new CommandError(why), false));
            }
        }
        waiting.clear();
        turns.clear();
    }

    /** Every thread waits in a call that has not returned. Holds the lock. */
    private String notAnswering() {
        return "Lookups are not answering (" + stuck + " still waiting for the user database or resolver), try again later";
    }

    /** Loop thread: the one answer a task gets; later ones (it was forgotten or timed out) are dropped. */
    private <T> void answer(Task<T> task, T value, CommandError error, boolean fromJob) {
        if (fromJob && task.timer != null) task.timer.cancel(); // it returned: no thread to give up
        if (task.answered) return;
        task.answered = true;
        Set<Task<?>> mine = bySession.get(task.by);
        if (mine != null && mine.remove(task) && mine.isEmpty()) bySession.remove(task.by);
        task.answer.accept(fromJob ? value : null, error);
    }

    private void release(int uid) {
        int left = perUser.getOrDefault(uid, 1) - 1;
        if (left == 0) perUser.remove(uid);
        else perUser.put(uid, left);
    }

    private void startThread() {
        threads++;
        Thread t = new Thread(this::work, THREAD_NAME);
        t.setDaemon(true); // a lookup that never returns never keeps the JVM alive
        t.start();
    }

    static String seconds(long millis) {
        return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
    }

    /** Daemon exit: nothing more is taken; a running lookup finishes and its answer is dropped. */
    @Override
    public synchronized void close() {
        closed = true;
        notifyAll();
    }
}
