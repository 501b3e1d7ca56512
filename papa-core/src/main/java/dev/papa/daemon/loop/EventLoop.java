package dev.papa.daemon.loop;

import dev.papa.posix.Epoll;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one thread that owns all daemon state: epoll over raw descriptors (control listener,
 * sessions, process pipes, pidfds), one-shot timers, and tasks run after each round of events
 * (used to coalesce everything captured in one round into one watch batch).
 *
 * <p>Handlers are found by descriptor number in a plain array: descriptors are small, dense
 * integers, so this is both the fastest lookup and no allocation per event.
 */
public final class EventLoop implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EventLoop.class.getName());

    private final Epoll epoll;
    private final Fd wakeup;
    private Handler[] handlers = new Handler[1024];
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private final List<Runnable> afterRound = new ArrayList<>();
    private final List<Runnable> runningAfterRound = new ArrayList<>();
    private final java.util.concurrent.ConcurrentLinkedQueue<Runnable> injected = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private volatile boolean stopping;
    private Thread thread;

    public EventLoop() throws PosixException {
        epoll = new Epoll(256);
        wakeup = Io.eventFd();
        epoll.add(wakeup.get(), Epoll.IN, wakeup.get());
    }

    /** Watches {@code fd} for {@code events}, calling {@code handler} on the loop thread. */
    public void register(int fd, int events, Handler handler) throws PosixException {
        if (fd >= handlers.length) handlers = Arrays.copyOf(handlers, Math.max(fd + 1, handlers.length * 2));
        epoll.add(fd, events, fd);
        handlers[fd] = handler;
    }

    public void modify(int fd, int events) throws PosixException {
        epoll.modify(fd, events, fd);
    }

    /** Stops watching {@code fd}; call before closing it. */
    public void unregister(int fd) {
        if (fd < handlers.length && handlers[fd] != null) {
            handlers[fd] = null;
            try {
                epoll.remove(fd);
            } catch (PosixException e) {
                LOG.log(Level.FINE, "epoll remove " + fd, e);
            }
        }
    }

    /** Runs {@code task} once after {@code delayMillis}, on the loop thread. */
    public Timer schedule(long delayMillis, Runnable task) {
        Timer t = new Timer(System.nanoTime() + delayMillis * 1_000_000L, task);
        timers.add(t);
        return t;
    }

    /** Timers waiting to run, cancelled ones not counted (loop thread only; diagnostics and tests). */
    public int timerCount() {
        int n = 0;
        for (Timer t : timers) if (!t.cancelled) n++;
        return n;
    }

    /** Runs {@code task} once after the current round of events (coalescing point). */
    public void afterRound(Runnable task) {
        afterRound.add(task);
    }

    /** Runs {@code task} on the loop thread as soon as possible; callable from any thread. */
    public void execute(Runnable task) {
        injected.add(task);
        wake();
    }

    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /** Asks the loop to return from {@link #run()}; callable from any thread. */
    public void stop() {
        stopping = true;
        wake();
    }

    /** Other threads may wake the loop while it runs; after close() there is nothing to wake. */
    private synchronized void wake() {
        if (wakeup.isOpen()) Io.signalEventFd(wakeup.get());
    }

    public boolean isStopping() {
        return stopping;
    }

    /** Runs until {@link #stop()}; an Error (OutOfMemoryError) from a handler ends it too, thrown on. */
    public void run() {
        thread = Thread.currentThread();
        int wakeFd = wakeup.get();
        while (!stopping) {
            int n;
            try {
                n = epoll.await(timeoutMillis());
            } catch (PosixException e) {
                // Nothing can be served without epoll: an abnormal end of the daemon.
                stopping = true;
                throw new IllegalStateException("epoll_wait failed: " + e.getMessage(), e);
            }
            for (int i = 0; i < n; i++) {
                int fd = (int) epoll.data(i);
                int events = epoll.events(i);
                if (fd == wakeFd) {
                    Io.drainEventFd(wakeFd);
                    continue;
                }
                Handler h = fd < handlers.length ? handlers[fd] : null;
                if (h != null) dispatch(h, events);
            }
            runInjected();
            runTimers();
            runAfterRound();
        }
    }

    private void dispatch(Handler h, int events) {
        try {
            h.onReady(events);
        } catch (RuntimeException | LinkageError | StackOverflowError e) {
            // One broken handler must not take the daemon down with it.
            LOG.log(Level.SEVERE, "handler failed", e);
        }
    }

    private void runInjected() {
        Runnable r;
        while ((r = injected.poll()) != null) safely(r);
    }

    private void runTimers() {
        if (timers.isEmpty()) return;
        long now = System.nanoTime();
        Timer t;
        while ((t = timers.peek()) != null && t.deadline - now <= 0) {
            timers.poll();
            if (!t.cancelled) safely(t.task);
        }
    }

    private void runAfterRound() {
        while (!afterRound.isEmpty()) {
            runningAfterRound.addAll(afterRound);
            afterRound.clear();
            for (Runnable r : runningAfterRound) safely(r);
            runningAfterRound.clear();
        }
    }

    private static void safely(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException | LinkageError | StackOverflowError e) {
            LOG.log(Level.SEVERE, "loop task failed", e);
        }
    }

    private int timeoutMillis() {
        if (!afterRound.isEmpty() || !injected.isEmpty()) return 0;
        Timer t;
        while ((t = timers.peek()) != null && t.cancelled) timers.poll();
        if (t == null) return -1;
        long ms = (t.deadline - System.nanoTime() + 999_999) / 1_000_000L;
        return (int) Math.max(0, Math.min(ms, Integer.MAX_VALUE));
    }

    @Override
    public synchronized void close() {
        epoll.close();
        wakeup.close();
    }

    /** A one-shot timer; {@link #cancel()} before it fires to drop it. */
    public static final class Timer implements Comparable<Timer> {
        final long deadline;
        final Runnable task;
        boolean cancelled;

        Timer(long deadline, Runnable task) {
            this.deadline = deadline;
            this.task = task;
        }

        public void cancel() {
            cancelled = true;
        }

        /** Milliseconds until it fires (0 when due). */
        public long remainingMillis() {
            return Math.max(0, (deadline - System.nanoTime()) / 1_000_000L);
        }

        @Override
        public int compareTo(Timer o) {
            return Long.compare(deadline - o.deadline, 0);
        }
    }
}
