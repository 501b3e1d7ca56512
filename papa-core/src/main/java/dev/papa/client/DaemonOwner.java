package dev.papa.client;

import dev.papa.peer.SocketOwner;
import dev.papa.posix.Processes;
import dev.papa.posix.Users;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.OptionalInt;

/**
 * Who answers at the daemon's address. Any local user may bind 127.0.0.1:20202 (or a unix path
 * in a shared directory) before the daemon does and collect every command a client sends,
 * environment variables and secrets included; so a client talks only to a daemon run by root
 * or by its own uid (docs/SECURITY.md). Unix socket: the peer's SO_PEERCRED. TCP: the owner of
 * the daemon's end of the connection, by sock_diag or /proc/net/tcp, as the daemon finds its peers.
 */
final class DaemonOwner {
    private DaemonOwner() {}

    /** Checked after the greeting: only an accepted connection has its owner on record (inode). */
    static void check(Endpoint endpoint, SocketChannel channel) throws IOException {
        int me = Processes.effectiveUid();
        OptionalInt owner = endpoint.isUnix() ? peerCredUid(channel) : tcpOwner(channel);
        if (owner.isEmpty()) {
            throw new PapaException(PapaException.Kind.CONNECTION, "Cannot tell who runs the papa daemon at " + endpoint
                    + ": refusing to send it anything. " + HOW_TO_TURN_OFF);
        }
        int uid = owner.getAsInt();
        if (uid != 0 && uid != me) {
            throw new PapaException(PapaException.Kind.CONNECTION, "The papa daemon at " + endpoint + " runs as uid "
                    + Integer.toUnsignedString(uid) + ", neither root nor this process's uid " + Integer.toUnsignedString(me)
                    + ": refusing to send it anything (another user may be listening in its place). " + HOW_TO_TURN_OFF);
        }
    }

    static final String HOW_TO_TURN_OFF = "Papa.builder().checkDaemonOwner(false) or -Dpapa.checkDaemonOwner=false turns this check off.";

    private static OptionalInt peerCredUid(SocketChannel channel) throws IOException {
        String user = channel.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED).user().getName();
        if (user.chars().allMatch(Character::isDigit)) return OptionalInt.of(Integer.parseUnsignedInt(user)); // no name for that uid
        return Users.uid(user);
    }

    private static OptionalInt tcpOwner(SocketChannel channel) throws IOException {
        try (SocketOwner owners = new SocketOwner()) {
            // the daemon's socket: its local end is our remote one
            return owners.of((InetSocketAddress) channel.getRemoteAddress(), (InetSocketAddress) channel.getLocalAddress());
        }
    }
}
