package dev.papa.daemon.access;

import dev.papa.daemon.log.LogLimiter;
import dev.papa.daemon.principal.Principal;
import dev.papa.peer.SocketOwner;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;
import dev.papa.posix.Sockets;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.OptionalInt;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Decides, for each accepted control connection, whether its peer may use the daemon
 * (docs/SECURITY.md). Unix socket: the peer's uid from SO_PEERCRED. TCP: the uid owning the
 * connecting socket, as /proc/net/tcp{,6} shows it (read through sock_diag when the kernel
 * offers it, which costs the same for one connection or fifty thousand). A peer whose uid cannot be found is refused too.
 */
public final class AccessControl {
    private static final Logger LOG = Logger.getLogger(AccessControl.class.getName());

    private final AllowList allowed;
    private final int daemonUid = dev.papa.posix.Processes.effectiveUid();
    private final SocketOwner owners = new SocketOwner();
    /** Refusals are a client's to repeat: logged once, then counted (docs/SECURITY.md). */
    private final LogLimiter warnings;

    public AccessControl(AllowList allowed, LogLimiter warnings) {
        this.allowed = allowed;
        this.warnings = warnings;
    }

    /** Root, the daemon's own effective uid, and {@code extraUids}. */
    public static AccessControl forDaemon(Collection<Integer> extraUids, LogLimiter warnings) {
        return new AccessControl(new AllowList(dev.papa.posix.Processes.effectiveUid(), extraUids), warnings);
    }

    public AllowList allowList() {
        return allowed;
    }

    /**
     * The principal of the peer on {@code fd} when it may use the daemon. Otherwise null: the
     * refusal was sent, {@code fd} closed and the refusal logged; the caller must forget {@code fd}.
     */
    public Principal admit(Fd fd) {
        Peer peer;
        try {
            peer = identify(fd.get());
        } catch (IOException | RuntimeException e) {
            warnings.warn(LOG, "refused connections of unidentified peers", "Refused a control connection: cannot identify its peer: " + e, e);
            refuse(fd, "Error: permission denied (cannot identify the peer)\n");
            return null;
        }
        if (peer.uid.isPresent() && allowed.allows(peer.uid.getAsInt())) return Principal.of(peer.uid.getAsInt(), daemonUid, peer.pid, warnings);
        if (peer.uid.isEmpty()) {
            warnings.warn(LOG, "refused connections of unidentified peers",
                    "Refused a control connection from " + peer.where + ": its owner was not found", null);
            refuse(fd, "Error: permission denied (cannot identify the peer)\n");
        } else {
            int uid = peer.uid.getAsInt();
            String u = Integer.toUnsignedString(uid);
            warnings.warn(LOG, "refused connections from uid " + u,
                    "Refused a control connection from " + peer.where + ": uid " + u + " is not allowed", null);
            refuse(fd, "Error: permission denied for uid " + Integer.toUnsignedString(uid) + "\n");
        }
        return null;
    }

    /**
     * Identifies the peer of {@code fd} as {@link #admit} does, admitting nothing: an upgrade's
     * standby runs it on a connection of its own, so that the lookup's code and native calls
     * are warm for the first client after the take-over. The uid found, or -1.
     */
    public int identifyForWarmUp(Fd fd) {
        try {
            return identify(fd.get()).uid.orElse(-1);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.FINE, "warm-up peer lookup", e);
            return -1;
        }
    }

    /** Closes the sock_diag socket (daemon exit). */
    public void close() {
        owners.close();
    }

    private record Peer(OptionalInt uid, int pid, String where) {}

    private Peer identify(int fd) throws IOException {
        if (Sockets.isUnix(fd)) {
            Sockets.PeerCred c = Sockets.peerCred(fd);
            return new Peer(OptionalInt.of(c.uid()), c.pid(), "pid " + c.pid());
        }
        InetSocketAddress remote = Sockets.peerAddress(fd);
        InetSocketAddress local = Sockets.localAddress(fd);
        OptionalInt owner = owners.of(remote, local); // the client's socket: its local end is our remote one
        return new Peer(owner, -1, remote.getAddress().getHostAddress() + ":" + remote.getPort());
    }

    private static void refuse(Fd fd, String message) {
        try (fd) {
            Io.write(fd.get(), ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)));
        } catch (PosixException e) {
            LOG.log(Level.FINE, "refusing a connection", e);
        }
    }
}
