package dev.papa.daemon.table;

import dev.papa.daemon.protocol.Errors;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.posix.Fd;
import dev.papa.posix.ListenBacklog;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.Rlimit;
import dev.papa.posix.Sockets;

import java.net.Inet6Address;
import java.net.InetSocketAddress;

/**
 * Descriptor passing for the socket table (PROTOCOL.md "Descriptor passing"): what an adopted
 * descriptor is, as the kernel tells it, and the descriptor budget that received and
 * duplicated descriptors are counted against.
 */
final class Adoption {
    static final String NEEDS_SOCKET = "adopt=1 needs a socket descriptor attached to the request";
    static final String NEEDS_UNIX = "descriptor passing needs the unix control socket";
    /** Descriptors kept free below RLIMIT_NOFILE for sessions, pipes and spawns. */
    static final int RESERVE = 64;
    private static final int EBADF = 9, ENOTSOCK = 88, EAFNOSUPPORT = 97, ESOCKTNOSUPPORT = 94;

    private Adoption() {}

    /** The socket {@code fd} is, as a table entry (the caller hands it the descriptor). */
    static HostedSocket describe(String name, int owner, Fd fd) throws CommandError {
        Sockets.Description d;
        try {
            d = Sockets.describe(fd.get());
        } catch (PosixException e) {
            switch (e.errno()) {
                case EBADF:
                case ENOTSOCK:
                    throw new CommandError(NEEDS_SOCKET);
                case EAFNOSUPPORT:
                case ESOCKTNOSUPPORT:
                    throw new CommandError("adopt=1 needs a unix, inet or inet6 socket of type stream, dgram, raw, rdm or seqpacket");
                default:
                    throw new CommandError("Cannot adopt the descriptor: " + Errors.python(e));
            }
        }
        // 0 when the kernel cannot tell (not listening, or no sock_diag): docs/PROTOCOL.md
        int backlog = d.listening() ? ListenBacklog.of(fd.get(), d).orElse(0) : 0;
        InetSocketAddress a = d.inet();
        String host = a == null ? null : hostText(a, d.family() == Sockets.Family.INET6);
        HostedSocket s = new HostedSocket(name, owner, d.family(), d.type(), backlog, d.path(), null, host,
                a == null ? null : a.getAddress(), a == null ? 0 : a.getPort(), null, false, true);
        s.fd = fd;
        return s;
    }

    /** An address as {@code make socket} shows a host: 127.0.0.1, ::1, ::ffff:10.0.0.1. */
    static String hostText(InetSocketAddress a, boolean inet6) {
        if (!(a.getAddress() instanceof Inet6Address)) {
            // Java turns a v4-mapped address of an inet6 socket into IPv4
            return (inet6 ? "::ffff:" : "") + a.getAddress().getHostAddress();
        }
        byte[] b = a.getAddress().getAddress();
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        int bestStart = -1, bestLen = 1;  // RFC 5952: the longest run of two or more zero groups becomes ::
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) { i++; continue; }
            int j = i;
            while (j < 8 && g[j] == 0) j++;
            if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') sb.append(':');
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }

    /**
     * Refuses when holding {@code more} further descriptors would leave fewer than
     * {@link #RESERVE} free below the soft RLIMIT_NOFILE.
     */
    private static final long RELIST_NANOS = 1_000_000_000L;
    private static long listedAt;
    private static boolean listedOnce;
    private static int listed, ownedWhenListed;

    /**
     * The process's open descriptors: /proc/self/fd listed at most once a second, in between
     * that figure moved by what {@link Fd} objects opened and closed since. Listing on every
     * request cost the loop milliseconds per {@code take} with thousands of descriptors open.
     */
    static synchronized int openEstimate() throws PosixException {
        long now = System.nanoTime();
        if (!listedOnce || now - listedAt > RELIST_NANOS) {
            ownedWhenListed = Fd.ownedCount();
            listed = Processes.openDescriptorCount();
            listedAt = now;
            listedOnce = true;
        }
        return listed + Fd.ownedCount() - ownedWhenListed;
    }

    static void checkHeadroom(int more) throws CommandError {
        try {
            long soft = Rlimit.NOFILE.get()[0];
            if (soft < 0) return; // unlimited
            int open = openEstimate();
            if (open + more > soft - RESERVE) {
                throw new CommandError("papa is short of descriptors: " + open + " open, limit " + soft
                        + ", " + RESERVE + " kept in reserve");
            }
        } catch (PosixException e) {
            throw new CommandError("papa cannot count its descriptors: " + Errors.python(e));
        }
    }
}
