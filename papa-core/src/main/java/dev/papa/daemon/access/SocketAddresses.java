package dev.papa.daemon.access;

import com.sun.jna.Native;
import com.sun.jna.Platform;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * getpeername/getsockname/geteuid, which papa-native does not offer in the shape needed here
 * (JNA direct mapping, like papa-native's own bindings; used once per accepted connection).
 */
final class SocketAddresses {
    static {
        Native.register(Platform.C_LIBRARY_NAME);
    }

    private static final int AF_UNIX = 1;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;

    private SocketAddresses() {}

    private static native int getpeername(int fd, byte[] addr, int[] len);
    private static native int getsockname(int fd, byte[] addr, int[] len);
    private static native int geteuid();
    private static native int setsockopt(int fd, int level, int name, int[] value, int len);

    /** TCP_NODELAY: replies and batches are written in pieces; Nagle would hold the later ones back. */
    static void noDelay(int fd) throws java.io.IOException {
        if (setsockopt(fd, 6 /* IPPROTO_TCP */, 1 /* TCP_NODELAY */, new int[] {1}, 4) < 0) {
            throw new java.io.IOException("setsockopt(TCP_NODELAY): errno " + Native.getLastError());
        }
    }

    static int effectiveUid() {
        return geteuid();
    }

    /** The remote end of a connected socket; null for a unix socket. */
    static InetSocketAddress peer(int fd) throws java.io.IOException {
        byte[] a = new byte[128];
        int[] len = {a.length};
        if (getpeername(fd, a, len) < 0) throw new java.io.IOException("getpeername: errno " + Native.getLastError());
        return decode(a);
    }

    /** The local end of a socket; null for a unix socket. */
    static InetSocketAddress local(int fd) throws java.io.IOException {
        byte[] a = new byte[128];
        int[] len = {a.length};
        if (getsockname(fd, a, len) < 0) throw new java.io.IOException("getsockname: errno " + Native.getLastError());
        return decode(a);
    }

    /** Family of a socket: true for AF_UNIX. */
    static boolean isUnix(int fd) throws java.io.IOException {
        byte[] a = new byte[128];
        int[] len = {a.length};
        if (getsockname(fd, a, len) < 0) throw new java.io.IOException("getsockname: errno " + Native.getLastError());
        return family(a) == AF_UNIX;
    }

    private static int family(byte[] a) {
        // sa_family_t is in host byte order (little endian on every Linux target we build for
        // except big-endian ones; read it both ways safely through the native order).
        return java.nio.ByteBuffer.wrap(a, 0, 2).order(java.nio.ByteOrder.nativeOrder()).getShort() & 0xffff;
    }

    private static InetSocketAddress decode(byte[] a) throws UnknownHostException {
        int family = family(a);
        int port = ((a[2] & 0xff) << 8) | (a[3] & 0xff);
        if (family == AF_INET) {
            return new InetSocketAddress(InetAddress.getByAddress(Arrays.copyOfRange(a, 4, 8)), port);
        }
        if (family == AF_INET6) {
            // sockaddr_in6: family(2) port(2) flowinfo(4) addr(16) scope(4)
            return new InetSocketAddress(InetAddress.getByAddress(Arrays.copyOfRange(a, 8, 24)), port);
        }
        return null;
    }
}
