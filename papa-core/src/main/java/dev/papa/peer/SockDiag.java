package dev.papa.peer;

import com.sun.jna.Native;
import com.sun.jna.Platform;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.OptionalInt;

/**
 * The owner of one TCP socket, or the bytes waiting unread in it, by exact lookup through
 * NETLINK_SOCK_DIAG (what {@code ss} uses):
 * O(1) per connection, where /proc/net/tcp costs a read of every TCP socket on the host. The
 * answer is the same uid column /proc/net/tcp shows. When the kernel offers no sock_diag (no
 * inet_diag module), {@link #available()} is false and {@link ProcNetTcp} does the work.
 */
public final class SockDiag implements AutoCloseable {
    static {
        Native.register(Platform.C_LIBRARY_NAME);
    }

    private static native int socket(int domain, int type, int protocol);
    private static native long send(int fd, byte[] buf, long len, int flags);
    private static native long recv(int fd, byte[] buf, long len, int flags);
    private static native int close(int fd);

    private static final int AF_NETLINK = 16;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLMSG_ERROR = 2;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int IPPROTO_TCP = 6;
    private static final int ENOENT = 2;

    private int fd = -1;
    private int seq;
    private boolean broken;
    private final byte[] reply = new byte[8192];

    public boolean available() {
        if (fd >= 0) return true;
        if (broken) return false;
        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0) broken = true;
        return fd >= 0;
    }

    /**
     * The uid owning the socket whose local end is {@code clientEnd} and remote end
     * {@code daemonEnd}: present when found, empty when there is no such socket or it is owned by
     * no open file (time-wait, orphaned); null when sock_diag cannot answer (use /proc).
     */
    public OptionalInt ownerOf(InetSocketAddress clientEnd, InetSocketAddress daemonEnd) {
        ByteBuffer r = find(clientEnd, daemonEnd);
        if (r == null) return null;
        if (r == NOT_FOUND) return OptionalInt.empty();
        long uid = r.getInt(80) & 0xffffffffL;
        long inode = r.getInt(84) & 0xffffffffL;
        if (inode == 0) return OptionalInt.empty();
        return OptionalInt.of((int) uid);
    }

    /**
     * Bytes that arrived at the client's socket (local end {@code clientEnd}) and that the
     * client has not read yet; -1 when unknown.
     */
    public int unreadBytes(InetSocketAddress clientEnd, InetSocketAddress daemonEnd) {
        ByteBuffer r = find(clientEnd, daemonEnd);
        return r == null || r == NOT_FOUND ? -1 : r.getInt(72); // idiag_rqueue
    }

    private static final ByteBuffer NOT_FOUND = ByteBuffer.allocate(0);

    /** The inet_diag_msg reply, NOT_FOUND, or null when sock_diag cannot answer. */
    private ByteBuffer find(InetSocketAddress clientEnd, InetSocketAddress daemonEnd) {
        if (!available()) return null;
        InetAddress ca = clientEnd.getAddress();
        InetAddress da = daemonEnd.getAddress();
        boolean v4 = ca instanceof Inet4Address && da instanceof Inet4Address;
        ByteBuffer r = query(v4 ? AF_INET : AF_INET6, clientEnd, daemonEnd);
        if (r == NOT_FOUND && v4) {
            // an IPv6 client socket talking to an IPv4 listener through v4-mapped addresses
            ByteBuffer r6 = query(AF_INET6, clientEnd, daemonEnd);
            if (r6 != null) r = r6;
        }
        return r;
    }

    private ByteBuffer query(int family, InetSocketAddress src, InetSocketAddress dst) {
        ByteBuffer b = ByteBuffer.allocate(72).order(ByteOrder.nativeOrder());
        b.putInt(72).putShort((short) SOCK_DIAG_BY_FAMILY).putShort((short) NLM_F_REQUEST).putInt(++seq).putInt(0);
        b.put((byte) family).put((byte) IPPROTO_TCP).put((byte) 0).put((byte) 0).putInt(-1); // every state
        b.order(ByteOrder.BIG_ENDIAN).putShort((short) src.getPort()).putShort((short) dst.getPort());
        b.put(address(family, src.getAddress())).put(address(family, dst.getAddress()));
        b.order(ByteOrder.nativeOrder()).putInt(0).putInt(-1).putInt(-1); // any interface, INET_DIAG_NOCOOKIE
        byte[] req = b.array();
        if (send(fd, req, req.length, 0) != req.length) return fail();
        long n = recv(fd, reply, reply.length, 0x40 /* MSG_DONTWAIT: the kernel answered within send() */);
        if (n < 16) return fail();
        ByteBuffer r = ByteBuffer.wrap(reply, 0, (int) n).order(ByteOrder.nativeOrder());
        int type = r.getShort(4) & 0xffff;
        if (type == NLMSG_ERROR) {
            int err = -r.getInt(16);
            return err == ENOENT ? NOT_FOUND : fail();
        }
        if (type != SOCK_DIAG_BY_FAMILY || n < 88 || r.getInt(8) != seq) return fail();
        return r;
    }

    /** A reply we do not understand: stop using sock_diag, fall back to /proc for good. */
    private ByteBuffer fail() {
        close();
        broken = true;
        return null;
    }

    private static byte[] address(int family, InetAddress a) {
        byte[] out = new byte[16];
        byte[] raw = a.getAddress();
        if (family == AF_INET) {
            if (raw.length == 4) System.arraycopy(raw, 0, out, 0, 4);
            return out;
        }
        if (raw.length == 4) {
            out[10] = (byte) 0xff;
            out[11] = (byte) 0xff;
            System.arraycopy(raw, 0, out, 12, 4);
        } else {
            System.arraycopy(raw, 0, out, 0, 16);
        }
        return out;
    }

    @Override
    public void close() {
        if (fd >= 0) close(fd);
        fd = -1;
    }
}
