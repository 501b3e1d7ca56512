package dev.papa.daemon.session;

import dev.papa.daemon.DaemonConfig;
import dev.papa.daemon.log.LogLimiter;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.daemon.table.SocketTable;
import dev.papa.daemon.table.ValueTable;
import dev.papa.posix.Epoll;
import dev.papa.posix.Fd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Sockets;

import java.nio.ByteBuffer;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The control side of the daemon: accepts connections on the control listener, keeps the
 * sessions, and decides when the daemon may exit ({@code exit-if-idle}, single-session mode).
 */
public final class Server {
    private static final Logger LOG = Logger.getLogger(Server.class.getName());

    private final EventLoop loop;
    private final ValueTable values;
    private final SocketTable sockets;
    private final ProcessTable processes;
    private final Fd listener;
    private final boolean singleSession;
    private final SessionQuota quota;
    /** Unsent bytes of all sessions together, and the total past which slow readers pause. */
    private long pending;
    private final long pendingLimit = pendingLimit();
    /** Every warning a client can repeat goes through here (docs/SECURITY.md, "Logging"). */
    private final LogLimiter warnings;
    private final long stallMillis;
    private final int maxLine;
    private final boolean tcp;
    /** Stops the daemon; takes the reason, for the daemon's last line. */
    private final java.util.function.Consumer<String> onExit;
    static final long ACCEPT_PAUSE_MILLIS = 100;

    private final Set<Session> sessions = new LinkedHashSet<>();
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(16384);
    /** Every session writes through this one buffer (the loop is single-threaded). */
    private final ByteBuffer writeBuffer = ByteBuffer.allocateDirect(65536);
    /** Unix sessions read through this (recvmsg with a one-descriptor control buffer). */
    private final dev.papa.posix.FdReceiver fdReceiver = new dev.papa.posix.FdReceiver(FdPassing.CAPACITY);
    private final FdPassing.Strays strays;
    private boolean hadSession;
    private boolean exitWhenIdle;
    private boolean exitCheckScheduled;
    private dev.papa.daemon.access.AccessControl access;
    private Upgrades upgrades;
    private boolean upgrading;
    private final dev.papa.daemon.work.Worker work;
    /** How much of what a session wrote its TCP client has not read yet (the first batch waits for it). */
    private final dev.papa.peer.SockDiag clientQueues = new dev.papa.peer.SockDiag();
    private final int daemonUid = dev.papa.posix.Processes.effectiveUid();

    public Server(EventLoop loop, dev.papa.daemon.work.Worker work, ValueTable values, SocketTable sockets, ProcessTable processes, Fd listener,
                  DaemonConfig config, java.util.function.Consumer<String> onExit) throws PosixException {
        this.loop = loop;
        this.work = work;
        this.values = values;
        this.sockets = sockets;
        this.processes = processes;
        this.listener = listener;
        this.singleSession = config.singleSession();
        this.quota = new SessionQuota(config.maxSessions(), config.maxSessionsPerUser());
        this.warnings = new LogLimiter(loop::schedule);
        this.stallMillis = config.slowClientTimeout().toMillis();
        this.maxLine = config.maxLine();
        this.tcp = config.unixSocket() == null;
        this.onExit = onExit;
        this.strays = new FdPassing.Strays(loop);
        dev.papa.posix.Io.setNonBlocking(listener.get(), true); // accept() must never block the loop
        loop.register(listener.get(), Epoll.IN, ev -> accept());
    }

    private void accept() {
        for (int i = 0; i < 64; i++) {
            Fd fd;
            try {
                fd = Sockets.accept(listener.get());
            } catch (PosixException e) {
                // EMFILE and friends: the connection stays in the backlog and the listener stays
                // readable, so pause accepting for a moment instead of spinning; keep serving.
                warnings.warn(LOG, "failed accepts (" + e.getMessage() + ")",
                        "accept failed: " + e.getMessage() + "; pausing accepts for " + ACCEPT_PAUSE_MILLIS + " ms at a time", e);
                pauseAccepting();
                return;
            }
            if (fd == null) return;
            Principal principal = access == null ? Principal.administrator(daemonUid) : access.admit(fd);
            if (principal == null) continue; // refused, closed and logged (docs/SECURITY.md)
            if (tcp) noDelay(fd);
            String refusal = quota.admit(principal);
            if (refusal != null) {
                warnings.warn(LOG, "refused sessions of uid " + Integer.toUnsignedString(principal.uid()),
                        "Refused a session of uid " + Integer.toUnsignedString(principal.uid()) + ": " + refusal, null);
                refuse(fd, "Error: " + refusal + "\n");
                continue; // like a refused uid: no session, so a pending exit-if-idle stands
            }
            exitWhenIdle = false; // a new session cancels a pending exit-if-idle
            Session s = new Session(this, fd, "fd " + fd.get() + ", " + principal, principal);
            sessions.add(s);
            hadSession = true;
            try {
                s.start();
                LOG.fine(() -> "Started client session " + s.peer());
            } catch (PosixException e) {
                warnings.warn(LOG, "sessions that could not start", "cannot start a session: " + e.getMessage(), e);
                sessions.remove(s);
                quota.release(principal);
                fd.close();
            }
        }
    }

    /**
     * TCP_NODELAY: a reply or batch may leave in several writes; with Nagle's algorithm the
     * later ones would wait for the client's delayed ACK, ~40 ms per watch round trip.
     */
    private static void noDelay(Fd fd) {
        try {
            Sockets.setNoDelay(fd.get());
        } catch (PosixException e) {
            LOG.log(Level.FINE, "TCP_NODELAY", e);
        }
    }

    private void pauseAccepting() {
        try {
            loop.modify(listener.get(), 0);
        } catch (PosixException e) {
            LOG.log(Level.SEVERE, "cannot pause the listener", e);
            return;
        }
        loop.schedule(ACCEPT_PAUSE_MILLIS, () -> {
            if (!listener.isOpen()) return;
            try {
                loop.modify(listener.get(), Epoll.IN);
            } catch (PosixException e) {
                LOG.log(Level.SEVERE, "cannot resume the listener", e);
            }
        });
    }

    private static void refuse(Fd fd, String message) {
        try (fd) {
            dev.papa.posix.Io.write(fd.get(), ByteBuffer.wrap(message.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (PosixException e) {
            LOG.log(Level.FINE, "refusing session", e);
        }
    }

    void sessionClosed(Session s) {
        if (sessions.remove(s)) quota.release(s.principal());
        work.forget(s.principal()); // what it still waits for is not carried out (docs/PROTOCOL.md)
        LOG.fine(() -> "Closed client session " + s.peer());
        // An upgrade ends every session: that is no reason to exit.
        if (!sessions.isEmpty() || exitCheckScheduled || upgrading) return;
        // Decided after the round: a connection accepted in this same round gets a normal
        // session (and cancels exit-if-idle) instead of a greeting and then end of file.
        exitCheckScheduled = true;
        loop.afterRound(this::exitIfLastSessionClosed);
    }

    private void exitIfLastSessionClosed() {
        exitCheckScheduled = false;
        if (!sessions.isEmpty() || upgrading || !wantsExit()) return;
        if (listener.isOpen()) accept(); // one that is still in the backlog is served too
        if (!sessions.isEmpty() || !wantsExit()) return;
        onExit.accept(singleSession ? "the last session closed (--single-session)" : "exit-if-idle");
    }

    private boolean wantsExit() {
        return (singleSession && hadSession) || (exitWhenIdle && isIdle());
    }

    /**
     * Told when a request changed the tables and before any reply leaves: the keeper's link
     * (dev.papa.daemon.keeper) writes the state there, so a reply is never undone by a crash.
     */
    public interface StateWatch {
        StateWatch NONE = new StateWatch() {
            @Override public void changed() {}
            @Override public void beforeReply() {}
        };

        void changed();

        void beforeReply();
    }

    private StateWatch stateWatch = StateWatch.NONE;

    /** {@code list daemon} (dev.papa.daemon.DaemonFacts). */
    public interface Facts {
        String list(dev.papa.daemon.principal.Principal by, int sessions) throws CommandError;
    }

    private Facts facts;

    public void facts(Facts facts) { this.facts = facts; }

    String listDaemon(dev.papa.daemon.principal.Principal by) throws CommandError {
        if (facts == null) throw new CommandError("list daemon is not available here");
        return facts.list(by, sessionCount());
    }

    public void stateWatch(StateWatch watch) { this.stateWatch = watch; }

    StateWatch stateWatch() { return stateWatch; }

    /** Carries out {@code upgrade} requests (none: the command is refused). */
    public void upgrader(Upgrades upgrades) { this.upgrades = upgrades; }

    /** What the server needs of the upgrade machinery (dev.papa.daemon.upgrade). */
    public interface Upgrades {
        /** Starts an upgrade for {@code session}, which replies later; or refuses at once. */
        void request(List<String> args, Session session) throws CommandError;
    }

    void upgrade(List<String> args, Session s) throws CommandError {
        if (upgrades == null) throw new CommandError("upgrade is not available here");
        upgrades.request(args, s);
    }

    /** The upgrade goes ahead: stop accepting (connections wait in the backlog) and end every session. */
    public void closeSessionsForUpgrade() {
        upgrading = true; // the sessions' end must not look like single-session or exit-if-idle exit
        loop.unregister(listener.get());
        for (Session s : sessions.toArray(new Session[0])) s.close();
    }

    /**
     * An upgrade's standby, before it serves: looks up the owner of a loopback connection of
     * its own as a client's would be looked up, so that the first client after the take-over
     * does not wait for cold code. Nothing is admitted; the connection is closed.
     */
    public void warmAccess() {
        if (access == null || !tcp) return;
        try (Fd l = Sockets.bindInet(Sockets.Family.INET, Sockets.Type.STREAM, java.net.InetAddress.getLoopbackAddress(), 0, 1, false, null);
             java.net.Socket client = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), Sockets.localPort(l.get()));
             Fd accepted = Sockets.accept(l.get())) {
            if (accepted != null) access.identifyForWarmUp(accepted);
        } catch (java.io.IOException | RuntimeException e) {
            LOG.log(java.util.logging.Level.FINE, "warm-up connection", e);
        }
    }

    /** The exec failed: serve again. */
    public void resumeAfterFailedUpgrade() throws PosixException {
        upgrading = false;
        loop.register(listener.get(), Epoll.IN, ev -> accept());
    }

    /** Checks every new connection's peer from now on (null: everyone may connect). */
    public void accessControl(dev.papa.daemon.access.AccessControl access) { this.access = access; }

    /** A sixteenth of the max heap, at least 16 MiB (docs/SECURITY.md, "Limits"). */
    static long pendingLimit() {
        return Math.max(16L << 20, Runtime.getRuntime().maxMemory() / 16);
    }

    void pendingChanged(long delta) { pending += delta; }
    boolean pendingOverLimit() { return pending > pendingLimit; }

    EventLoop loop() { return loop; }
    /** The longest request line (--max-line). */
    int maxLine() { return maxLine; }
    boolean tcp() { return tcp; }
    dev.papa.peer.SockDiag clientQueues() { return clientQueues; }
    public LogLimiter warnings() { return warnings; }
    ByteBuffer readBuffer() { return readBuffer; }
    ByteBuffer writeBuffer() { return writeBuffer; }
    long stallMillis() { return stallMillis; }
    /** Descriptor passing works on the unix control socket only. */
    boolean passesDescriptors() { return !tcp; }
    dev.papa.posix.FdReceiver fdReceiver() { return fdReceiver; }
    FdPassing.Strays strays() { return strays; }
    ValueTable values() { return values; }
    SocketTable sockets() { return sockets; }
    ProcessTable processes() { return processes; }

    boolean isIdle() {
        return processes.isEmpty() && sockets.isEmpty() && values.isEmpty();
    }

    void exitWhenIdle() {
        exitWhenIdle = true;
    }

    public int sessionCount() {
        return sessions.size();
    }

    /** Closes the listener and every session (daemon exit). */
    public void closeAll() {
        loop.unregister(listener.get());
        listener.close();
        for (Session s : sessions.toArray(new Session[0])) s.close();
        if (access != null) access.close();
        clientQueues.close();
    }
}
