package dev.papa.peer;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.OptionalInt;

/**
 * Finds the owner (uid) of the local socket at one end of a TCP connection, from
 * {@code /proc/net/tcp} and {@code /proc/net/tcp6}.
 *
 * <p>Each line there is one socket: {@code sl local_address rem_address st tx:rx tr:when retrnsmt
 * uid timeout inode ...}, addresses as hex {@code ADDR:PORT}. An IPv4 address is the 32-bit
 * network-order word printed as a host-order number (so {@code 127.0.0.1} is {@code 0100007F}
 * on little-endian machines); an IPv6 address is four such words. The client's socket is the
 * entry whose local address is the connection's remote end and whose remote address is the
 * daemon's end.
 */
public final class ProcNetTcp {
    private final Path tcp;
    private final Path tcp6;

    public ProcNetTcp() {
        this(Path.of("/proc/net/tcp"), Path.of("/proc/net/tcp6"));
    }

    ProcNetTcp(Path tcp, Path tcp6) {
        this.tcp = tcp;
        this.tcp6 = tcp6;
    }

    /**
     * The uid owning the socket whose local end is {@code clientEnd} and whose remote end is
     * {@code daemonEnd}; empty when there is none (the client already went away).
     */
    public OptionalInt ownerOf(InetSocketAddress clientEnd, InetSocketAddress daemonEnd) throws IOException {
        InetAddress ca = clientEnd.getAddress();
        InetAddress da = daemonEnd.getAddress();
        // The client is in /proc/net/tcp when it used an IPv4 socket, in tcp6 when it used an
        // IPv6 one (possibly with v4-mapped addresses): look in both, the plain file first.
        if (ca instanceof Inet4Address && da instanceof Inet4Address) {
            OptionalInt r = scan(tcp, hex4(ca) + ":" + hexPort(clientEnd.getPort()), hex4(da) + ":" + hexPort(daemonEnd.getPort()));
            if (r.isPresent()) return r;
        }
        return scan(tcp6, hex6(ca) + ":" + hexPort(clientEnd.getPort()), hex6(da) + ":" + hexPort(daemonEnd.getPort()));
    }

    private static OptionalInt scan(Path file, String local, String remote) throws IOException {
        byte[] text;
        try {
            text = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return OptionalInt.empty(); // no IPv6 in this kernel
        }
        byte[] l = local.getBytes(StandardCharsets.US_ASCII);
        byte[] r = remote.getBytes(StandardCharsets.US_ASCII);
        int pos = 0;
        int n = text.length;
        // skip the header line
        while (pos < n && text[pos] != '\n') pos++;
        pos++;
        while (pos < n) {
            int eol = pos;
            while (eol < n && text[eol] != '\n') eol++;
            OptionalInt uid = match(text, pos, eol, l, r);
            if (uid != null) return uid; // the 4-tuple is unique: the first match is the answer
            pos = eol + 1;
        }
        return OptionalInt.empty();
    }

    /**
     * The uid field when the line's local and remote addresses are the ones asked; else null.
     * An entry with inode 0 is owned by no open socket (a time-wait or orphaned socket, whose
     * uid column reads 0): its uid means nothing, so it matches as "unknown" (empty).
     */
    private static OptionalInt match(byte[] t, int from, int to, byte[] local, byte[] remote) {
        int p = from;
        long uid = -1;
        // fields: 0 sl, 1 local, 2 remote, 3 st, 4 tx:rx, 5 tr:when, 6 retrnsmt, 7 uid, 8 timeout, 9 inode
        for (int f = 0; f <= 9; f++) {
            while (p < to && t[p] == ' ') p++;
            int start = p;
            while (p < to && t[p] != ' ') p++;
            if (start == p) return null;
            if (f == 1 && !equalsIgnoreCase(t, start, p, local)) return null;
            if (f == 2 && !equalsIgnoreCase(t, start, p, remote)) return null;
            if (f == 7) uid = decimal(t, start, p);
            if (f == 9) {
                long inode = decimal(t, start, p);
                if (uid < 0 || uid > 0xffffffffL || inode <= 0) return OptionalInt.empty();
            }
        }
        return OptionalInt.of((int) uid);
    }

    private static long decimal(byte[] t, int from, int to) {
        long v = 0;
        for (int i = from; i < to; i++) {
            int d = t[i] - '0';
            if (d < 0 || d > 9 || v > Long.MAX_VALUE / 20) return -1;
            v = v * 10 + d;
        }
        return v;
    }

    private static boolean equalsIgnoreCase(byte[] t, int from, int to, byte[] want) {
        if (to - from != want.length) return false;
        for (int i = 0; i < want.length; i++) {
            if (Character.toUpperCase(t[from + i]) != want[i]) return false;
        }
        return true;
    }

    static String hexPort(int port) {
        return String.format("%04X", port);
    }

    /** Four network-order bytes as the kernel prints them: the 32-bit word in host order. */
    static String hex4(InetAddress a) {
        byte[] b = a.getAddress();
        return word(b, 0);
    }

    /** Sixteen bytes as four host-order words; an IPv4 address is written v4-mapped. */
    static String hex6(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length == 4) {
            byte[] m = new byte[16];
            m[10] = (byte) 0xff;
            m[11] = (byte) 0xff;
            System.arraycopy(b, 0, m, 12, 4);
            b = m;
        }
        return word(b, 0) + word(b, 4) + word(b, 8) + word(b, 12);
    }

    private static String word(byte[] b, int off) {
        byte[] w = Arrays.copyOfRange(b, off, off + 4);
        if (java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN) {
            w = new byte[] {w[3], w[2], w[1], w[0]};
        }
        return String.format("%02X%02X%02X%02X", w[0] & 0xff, w[1] & 0xff, w[2] & 0xff, w[3] & 0xff);
    }

    static boolean isV6(InetAddress a) {
        return a instanceof Inet6Address;
    }
}
