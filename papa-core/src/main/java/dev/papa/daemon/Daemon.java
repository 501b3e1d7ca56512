package dev.papa.daemon;

import dev.papa.daemon.buffer.OutputBudget;
import dev.papa.daemon.log.LastWords;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.WallClock;
import dev.papa.daemon.session.Server;
import dev.papa.daemon.state.Carried;
import dev.papa.daemon.state.Restore;
import dev.papa.daemon.state.Snapshot;
import dev.papa.daemon.state.StateException;
import dev.papa.daemon.upgrade.Upgrader;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.daemon.table.SocketTable;
import dev.papa.daemon.table.ValueTable;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Fd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.Sockets;
import dev.papa.posix.UnixPath;

import java.io.IOException;
import java.net.InetAddress;
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
    /** The control socket as bound; for a unix socket, the file to unlink at exit while it is still ours. */
    private final UnixPath.Bound control;
    private final int port;
    private final Server server;
    private final ValueTable values;
    private final SocketTable sockets;
    private final ProcessTable processes;
    private final Snapshot snapshot;
    /** The state the tables were built from (an upgrade's standby compares it with the one handed over), or null. */
    private final Restore.Image image;
    private final Thread thread;
    private final CountDownLatch exited = new CountDownLatch(1);
    /** Why the daemon stopped: the first reason given wins. */
    private final java.util.concurrent.atomic.AtomicReference<String> stopReason = new java.util.concurrent.atomic.AtomicReference<>();
    /** Set when the loop thread died of an error: the daemon stopped abnormally. */
    private volatile Throwable failure;

    /**
     * @param image   a state carried over an upgrade, or null for a fresh daemon
     * @param standby built ahead of an upgrade's take-over: the keeper's state is not this daemon's yet ({@link #takeOver})
     */
    private Daemon(DaemonConfig config, Restore.Image image, boolean standby) throws IOException, StateException {
        this.config = config;
        this.image = image;
        Preload.daemonClasses(); // error paths must not need a descriptor to load
        LastWords.prepare(); // nor heap to say why the daemon dies

        // A restored daemon's descriptors are never closed on failure: the previous image takes them back.
        java.util.function.IntUnaryOperator number = config.keeper() == null ? java.util.function.IntUnaryOperator.identity()
                : config.keeper()::number;
        this.control = image == null ? listen(config) : new UnixPath.Bound(
                Restore.descriptor(image.header().daemon().listenerFd(), number), image.header().daemon().listenerDev(),
                image.header().daemon().listenerIno());
        this.listener = control.fd();
        try {
            this.port = config.unixSocket() == null ? Sockets.localPort(listener.get()) : -1;
            this.loop = new EventLoop();
            WallClock clock = new WallClock();
            this.values = new ValueTable(config.valuesLimit(), dev.papa.posix.Processes.effectiveUid());
            if (config.outputBudget() > Runtime.getRuntime().maxMemory() / 4 * 3) {
                LOG.warning("--output-budget " + config.outputBudget() + " is over three quarters of the max heap ("
                        + Runtime.getRuntime().maxMemory() + " bytes): queued output may exhaust the heap");
            }
            this.work = new Worker(loop, config.lookupTimeoutMillis());
            this.sockets = new SocketTable(work);
            this.processes = new ProcessTable(loop, work, clock, sockets, new OutputBudget(config.outputBudget()));
            if (config.childOpenFilesSoft() >= 0) {
                processes.childOpenFilesLimit(config.childOpenFilesSoft(), dev.papa.posix.Rlimit.NOFILE.get()[1]);
            }
            if (config.keeper() != null) processes.exitsFromKeeper(); // before a restore tracks processes
            if (image != null) Restore.apply(image, values, sockets, processes, number);
            this.server = new Server(loop, work, values, sockets, processes, listener, config, this::stop);
            this.server.accessControl(dev.papa.daemon.access.AccessControl.forDaemon(config.allowedUids(), server.warnings()));
            // an upgrade's restore (in place, or a keeper's standby JVM) is one more upgrade; a keeper's restart is not
            boolean upgraded = config.keeper() == null || config.keeper().standby();
            int upgrades = image == null ? 0 : image.header().daemon().upgrades() + (upgraded ? 1 : 0);
            this.snapshot = new Snapshot(values, sockets, processes,
                    new Carried.Daemonwide(listener.get(), control.dev(), control.ino(), config.childOpenFilesSoft(), upgrades));
            this.server.facts(new DaemonFacts(values, sockets, processes, config.keeper(), upgrades));
            Upgrader upgrader = new Upgrader(loop, work, server, snapshot, config.arguments(), config.keeper());
            this.server.upgrader(upgrader);
            if (config.keeper() != null && !standby) attachKeeper();
        } catch (IOException | RuntimeException e) {
            if (image == null) listener.close();
            throw e;
        }
        this.thread = new Thread(this::run, "papa-loop");
    }

    /** From here on the keeper holds this daemon's state, descriptors and children. */
    private void attachKeeper() throws IOException {
        config.keeper().attach(loop, processes, snapshot);
        server.stateWatch(config.keeper());
    }

    /** Binds the control socket and starts serving on a new thread. */
    public static Daemon start(DaemonConfig config) throws IOException {
        try {
            Daemon d = new Daemon(config, null, false);
            d.thread.start();
            return d;
        } catch (StateException e) {
            throw new AssertionError(e); // no state, nothing to restore
        }
    }

    /** Test hook: restoring fails in the image run from this jar (the upgrade then falls back). */
    static final String FAIL_RESTORE_PROPERTY = "papa.test.failRestoreIn";

    /** Takes over the state an upgrade left in {@code stateFd} and serves on; the state's descriptor is closed. */
    public static Daemon restore(DaemonConfig config, Fd stateFd) throws IOException, StateException {
        long started = System.nanoTime();
        return restore(config, read(stateFd), stateFd, started, "");
    }

    private static Daemon restore(DaemonConfig config, Restore.Image image, Fd stateFd, long started, String how)
            throws IOException, StateException {
        config.childOpenFilesSoft(image.header().daemon().childOpenFilesSoft()); // the first image's, not this one's raised limit
        Daemon d = new Daemon(config, image, false);
        return d.serve(image, stateFd, started, how, true);
    }

    private static Restore.Image read(Fd stateFd) throws IOException, StateException {
        Restore.Image image;
        try (java.io.InputStream in = dev.papa.posix.Memfd.input(stateFd.get())) {
            image = Restore.read(in);
        }
        failIfTold();
        return image;
    }

    private static void failIfTold() throws StateException {
        String failIn = System.getProperty(FAIL_RESTORE_PROPERTY);
        if (failIn != null && failIn.equals(dev.papa.daemon.upgrade.Relaunch.runningJar())) {
            throw new StateException("restoring is made to fail in " + failIn + " (" + FAIL_RESTORE_PROPERTY + ")");
        }
    }

    /**
     * Serves: the loop thread starts. {@code stateFd} is closed (null: the keeper's journal goes
     * on in it); {@code how} the state was taken, for the log; {@code wholeState}: it was read whole.
     */
    private Daemon serve(Restore.Image image, Fd stateFd, long started, String how, boolean wholeState) {
        int[] counts = {values.size(), sockets.all().size(), processes.all().size()}; // the loop's own from now on
        thread.start();
        long serving = System.nanoTime();
        if (stateFd != null) stateFd.close();
        long micros = new WallClock().nowMicros() - image.header().writtenMicros();
        LOG.warning(() -> "Restored " + counts[0] + " values, " + counts[1] + " sockets and " + counts[2] + " processes from "
                + image.header().version() + how + " in " + (serving - started) / 1_000_000 + " ms; serving on " + where()
                + (wholeState ? ", " + micros / 1000 + " ms after the state was written" : ""));
        return this;
    }

    /**
     * An upgrade's standby under the keeper (docs/KEEPER.md, "Upgrading"): the tables built from
     * the serving JVM's newest state while it still serves, so that the take-over has little
     * left to do. Not serving, and the keeper's state is not its own, until {@link #takeOver}.
     */
    public static Daemon prebuild(DaemonConfig config, Restore.Image serving) throws IOException, StateException {
        config.childOpenFilesSoft(serving.header().daemon().childOpenFilesSoft());
        return new Daemon(config, serving, true);
    }

    /**
     * Takes over the state handed over in {@code stateFd}. When it is the state {@code built}
     * (null for none) was built from ({@code sameState}: the serving JVM added frames to the
     * state it kept) and those frames changed only values and queued output, into those tables:
     * only the frames are read. Else into tables built anew from the whole state, as a restart
     * does. Serves on; the state's descriptor is closed.
     */
    public static Daemon takeOver(DaemonConfig config, Daemon built, boolean sameState, Fd stateFd,
                                  java.util.Set<Integer> replaced) throws IOException, StateException {
        long started = System.nanoTime();
        failIfTold();
        String why = built == null ? "no tables were built" : sameState ? null : "the state handed over is a whole state";
        if (why == null) {
            try (java.io.InputStream in = dev.papa.posix.Memfd.input(stateFd.get())) {
                Restore.Changes changes = Restore.readAfter(in, built.image.end());
                why = Restore.differs(built.image, changes, replaced);
                if (why == null) {
                    Restore.refill(changes, built.values, built.processes);
                    config.keeper().continueIn(stateFd, built.image.baseEnd(), changes.end());
                    built.attachKeeper();
                    return built.serve(built.image, null, started, ", and its frames since, into tables built before the hand-over", false);
                }
                why = why + " changed since the standby started";
            } catch (StateException e) {
                why = "the frames after it: " + e.getMessage();
            }
        }
        if (built != null) built.discard();
        return restore(config, read(stateFd), stateFd, started, " into tables built anew (" + why + ")");
    }

    /**
     * A standby's last preparation before it says it is ready: the classes the first sessions
     * use initialized, a peer lookup run, and the journal it will write made, so that neither
     * the take-over nor the first client after it waits for any of it.
     */
    public void warmUpSessions() {
        Preload.initialize("daemon/session/", "daemon/protocol/", "daemon/access/", "daemon/principal/", "peer/");
        server.warmAccess();
        config.keeper().prepare(snapshot);
    }

    /** A standby's tables that will not serve: its loop and threads end; every descriptor of the tables stays open. */
    private void discard() {
        work.close();
        loop.close();
    }

    /** The control listener: a TCP socket on 127.0.0.1, or a unix socket with the file it made (dev, ino). */
    private static UnixPath.Bound listen(DaemonConfig config) throws IOException {
        Path path = config.unixSocket();
        if (path == null) {
            try {
                return new UnixPath.Bound(Sockets.bindInet(Sockets.Family.INET, Sockets.Type.STREAM, InetAddress.getLoopbackAddress(),
                        config.port(), 128, false, null), 0, 0);
            } catch (PosixException e) {
                throw new IOException("cannot listen on 127.0.0.1:" + config.port() + ": " + e.reason(), e);
            }
        }
        if (!path.isAbsolute()) throw new IOException("unix socket path must be absolute: " + path);
        // The same rules as a unix socket a client makes (PROTOCOL.md Part 2): no symbolic link
        // on the way, only a stale socket replaced, unlinked at exit only while still ours.
        try (UnixPath where = UnixPath.open(path.toString(), Processes.effectiveUid())) {
            // Bound under umask 077 (nobody else can connect before the chmod), then set to the mode asked.
            UnixPath.Bound bound = where.bind(Sockets.Type.STREAM, 128, 0077);
            try {
                where.chmod(bound.dev(), bound.ino(), config.socketMode());
            } catch (PosixException e) {
                bound.fd().close();
                where.unlinkIf(bound.dev(), bound.ino());
                throw e;
            }
            return bound;
        } catch (PosixException e) {
            if (UnixPath.inUse(e)) throw new IOException(path + " exists and is not a stale socket (another daemon may be listening there)", e);
            if (UnixPath.symlinkOnPath(e)) throw new IOException("cannot listen on " + path + ": a directory on the path is a symbolic link", e);
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
            failure = e;
            LastWords.freeReserve();
            try {
                LOG.log(Level.SEVERE, "event loop died: " + e + "; the daemon stops", e);
            } catch (Throwable logFailed) {
                LastWords.fallback(Thread.currentThread(), e); // out of heap even for that: one line made in advance
            }
            try {
                stopReason.compareAndSet(null, "the event loop died: " + e);
            } catch (Throwable noHeap) {
                // DaemonMain says "the event loop died"; failure() still reports it
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
            if (config.unixSocket() != null) unlinkControlSocket();
        } catch (RuntimeException e) {
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

    private void unlinkControlSocket() {
        try (UnixPath where = UnixPath.open(config.unixSocket().toString(), Processes.effectiveUid())) {
            if (!where.unlinkIf(control.dev(), control.ino())) {
                LOG.info(() -> "Left " + config.unixSocket() + " alone: it is no longer the control socket bound there");
            }
        } catch (PosixException e) {
            LOG.warning(() -> "Left " + config.unixSocket() + " alone: " + e.getMessage());
        }
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
