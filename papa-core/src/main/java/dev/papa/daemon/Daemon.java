package dev.papa.daemon;

import dev.papa.daemon.buffer.OutputBudget;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.WallClock;
import dev.papa.daemon.session.Server;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.daemon.table.SocketTable;
import dev.papa.daemon.table.ValueTable;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Fd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Sockets;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A running papa daemon: the control listener, the three tables and the event loop thread that
 * owns them all. {@link #close()} stops serving and closes the daemon's descriptors; the
 * processes it started keep running.
 */
public final class Daemon implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Daemon.class.getName());

    private final DaemonConfig config;
    private final EventLoop loop;
    private final Worker work;
    private final Fd listener;
    private final int port;
    private final Server server;
    private final SocketTable sockets;
    private final ProcessTable processes;
    private final Thread thread;
    private final CountDownLatch exited = new CountDownLatch(1);
    /** Why the daemon stopped: the first reason given wins. */
    private final java.util.concurrent.atomic.AtomicReference<String> stopReason = new java.util.concurrent.atomic.AtomicReference<>();
    /** Set when the loop thread died of an error: the daemon stopped abnormally. */
    private volatile Throwable failure;
    /** Freed when the loop dies of an error, so that saying why does not run out of heap too. */
    private byte[] reserve = new byte[256 << 10];

    private Daemon(DaemonConfig config) throws IOException {
        this.config = config;
        Preload.daemonClasses(); // error paths must not need a descriptor to load

        this.listener = listen(config);
        try {
            this.port = config.unixSocket() == null ? Sockets.localPort(listener.get()) : -1;
            this.loop = new EventLoop();
            WallClock clock = new WallClock();
            ValueTable values = new ValueTable(config.valuesLimit());
            this.work = new Worker(loop);
            this.sockets = new SocketTable(work);
            this.processes = new ProcessTable(loop, work, clock, sockets, new OutputBudget(config.outputBudget()));
            if (config.childOpenFilesSoft() >= 0) {
                processes.childOpenFilesLimit(config.childOpenFilesSoft(), dev.papa.posix.Rlimit.NOFILE.get()[1]);
            }
            this.server = new Server(loop, values, sockets, processes, listener, config, this::stop);
            this.server.accessControl(dev.papa.daemon.access.AccessControl.forDaemon(config.allowedUids()));
        } catch (IOException | RuntimeException e) {
            listener.close();
            throw e;
        }
        this.thread = new Thread(this::run, "papa-loop");
    }

    /** Binds the control socket and starts serving on a new thread. */
    public static Daemon start(DaemonConfig config) throws IOException {
        Daemon d = new Daemon(config);
        d.thread.start();
        return d;
    }

    private static Fd listen(DaemonConfig config) throws IOException {
        Path path = config.unixSocket();
        if (path == null) {
            try {
                return Sockets.bindInet(Sockets.Family.INET, Sockets.Type.STREAM, InetAddress.getLoopbackAddress(),
                        config.port(), 128, false, null);
            } catch (PosixException e) {
                throw new IOException("cannot listen on 127.0.0.1:" + config.port() + ": " + e.reason(), e);
            }
        }
        if (!path.isAbsolute()) throw new IOException("unix socket path must be absolute: " + path);
        if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            if (!SocketTable.isSocketFile(path)) throw new IOException(path + " exists and is not a socket");
            try (Fd probe = Sockets.connectUnix(path.toString())) {
                throw new IOException("another daemon is listening on " + path);
            } catch (PosixException stale) {
                Files.delete(path); // nobody answers: a stale socket file from a daemon that died
            }
        }
        try {
            // Bound under umask 077 (nobody else can connect before the chmod), then set to the mode asked.
            Fd fd = Sockets.bindUnix(Sockets.Type.STREAM, path.toString(), 128, 0077);
            try {
                dev.papa.daemon.access.SocketMode.apply(path, config.socketMode());
            } catch (IOException e) {
                fd.close();
                throw e;
            }
            return fd;
        } catch (PosixException e) {
            throw new IOException("cannot listen on " + path + ": " + e.reason(), e);
        }
    }

    /**
     * The loop thread. An error that escapes the loop (OutOfMemoryError, an internal bug) ends
     * this daemon: it is logged, the daemon shuts down and {@link #failure()} tells the caller,
     * which exits non-zero (DaemonMain) so that a supervisor restarts it.
     */
    private void run() {
        try {
            loop.run();
        } catch (RuntimeException | Error e) {
            reserve = null;
            failure = e;
            try {
                stopReason.compareAndSet(null, "the event loop died: " + e);
                LOG.log(Level.SEVERE, "event loop died: " + e + "; the daemon stops", e);
            } catch (Throwable logFailed) {
                // nothing left to say it with; failure() still reports it
            }
        } finally {
            try {
                shutdown();
            } catch (Throwable t) {
                if (failure == null) failure = t;
            }
            exited.countDown();
        }
    }

    private void shutdown() {
        try {
            server.closeAll();
            sockets.closeAll();
            processes.closeAll();
            work.close();
            loop.close();
            if (config.unixSocket() != null) Files.deleteIfExists(config.unixSocket());
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "shutdown", e);
        }
    }

    /** The loop (tests in this package look at its timers). */
    EventLoop loop() {
        return loop;
    }

    /** The error the loop thread died of, or null while it runs or after a normal stop. */
    public Throwable failure() {
        return failure;
    }

    /** The TCP port serving the control protocol (-1 on a unix socket). */
    public int port() {
        return port;
    }

    public String where() {
        return config.unixSocket() != null ? config.unixSocket().toString() : "127.0.0.1:" + port;
    }

    /** Waits until the daemon has stopped (exit-if-idle, single-session, or {@link #close()}). */
    public void awaitExit() throws InterruptedException {
        exited.await();
    }

    public boolean awaitExit(long timeout, TimeUnit unit) throws InterruptedException {
        return exited.await(timeout, unit);
    }

    /** Why the daemon stopped (null while it runs). */
    public String stopReason() {
        return stopReason.get();
    }

    /** Stops serving, giving the reason; started processes keep running. Safe from any thread. */
    public void stop(String reason) {
        stopReason.compareAndSet(null, reason);
        loop.stop();
    }

    /** Stops serving and waits (up to 10 s) until the loop has shut down; idempotent. */
    @Override
    public void close() {
        stop("closed");
        if (Thread.currentThread() != thread) {
            try {
                exited.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
