package dev.papa.daemon.table;

import dev.papa.posix.Sockets;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Collection;

/**
 * A port is one principal's (PROTOCOL.md Part 2, "Principals"). The daemon binds every inet
 * socket itself, as root, with SO_REUSEADDR (and SO_REUSEPORT when asked), so the kernel's rule
 * that only the same uid may share a port never separates two users: without this check an
 * allowed user could bind root's UDP port, or join root's reuseport group, and receive its
 * traffic. Decided here, from the table, before anything is bound.
 */
final class PortOwnership {
    private final int daemonUid;

    PortOwnership(int daemonUid) {
        this.daemonUid = daemonUid;
    }

    /** Administrators (root, the daemon's uid) are one principal; every other uid is its own. */
    boolean samePrincipal(int a, int b) {
        return a == b || (admin(a) && admin(b));
    }

    private boolean admin(int uid) {
        return uid == 0 || uid == daemonUid;
    }

    /** The held socket of another principal that {@code s} (not yet bound, or just bound) would share a port with, or null. */
    HostedSocket conflict(HostedSocket s, Collection<HostedSocket> held) {
        if (s.family == Sockets.Family.UNIX || s.port <= 0) return null;
        for (HostedSocket h : held) {
            if (h != s && !samePrincipal(h.owner, s.owner) && overlaps(h, s)) return h;
        }
        return null;
    }

    /**
     * Whether two inet sockets can receive the same traffic: the same port and transport, and
     * addresses that overlap (equal, or a wildcard covering the other; {@code ::} covers IPv4
     * too, since sockets are dual-stack, and a v4-mapped address is the IPv4 one).
     */
    static boolean overlaps(HostedSocket a, HostedSocket b) {
        if (a.family == Sockets.Family.UNIX || b.family == Sockets.Family.UNIX) return false;
        if (a.port != b.port || a.port <= 0 || transport(a.type) != transport(b.type)) return false;
        InetAddress x = a.address, y = b.address;
        if (x == null || y == null) return true; // unknown: assume the worst
        if (wildcard6(x) || wildcard6(y)) return true;
        boolean v4x = x instanceof Inet4Address, v4y = y instanceof Inet4Address;
        if (v4x != v4y) return false; // an IPv4 address and an IPv6 one that is not v4-mapped
        return x.isAnyLocalAddress() || y.isAnyLocalAddress() || x.equals(y);
    }

    private static boolean wildcard6(InetAddress a) {
        return !(a instanceof Inet4Address) && a.isAnyLocalAddress();
    }

    /** Ports are per protocol: TCP (stream), UDP (dgram), SCTP (seqpacket); raw sockets have none. */
    private static int transport(Sockets.Type t) {
        switch (t) {
            case STREAM: return 1;
            case DGRAM: return 2;
            case SEQPACKET: return 3;
            default: return 4;
        }
    }
}
