package dev.papa.posix;

import com.sun.jna.Native;
import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibC;
import dev.papa.posix.internal.LibPapa;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Sockets made natively so the daemon holds a real descriptor number it can give
 * to children (PROTOCOL.md {@code make socket}); java.nio channels hide the number
 * and cannot set SO_BINDTODEVICE. Also the unix-socket extras: descriptor passing
 * (SCM_RIGHTS) and peer credentials. Every descriptor made here is close-on-exec.
 */
public final class Sockets {
  /** Address family. */
  public enum Family { UNIX, INET, INET6 }

  /** Socket type, numbered as in Linux (SOCK_STREAM = 1 ...). */
  public enum Type { STREAM, DGRAM, RAW, RDM, SEQPACKET }

  private static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
  private static final int SOCK_NONBLOCK = 04000, SOCK_CLOEXEC = 02000000;
  private static final int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_PEERCRED = 17,
      SO_REUSEPORT = 15, SO_BINDTODEVICE = 25;
  private static final int UNIX_PATH_MAX = 108;
  private static final int IPPROTO_TCP = 6, TCP_NODELAY = 1;

  private Sockets() {}

  /** socket(SOCK_CLOEXEC) + SO_REUSEADDR (+SO_REUSEPORT) (+SO_BINDTODEVICE iface) + bind + listen(backlog) when stream/seqpacket. */
  public static Fd bindInet(Family f, Type t, InetAddress host, int port, int backlog, boolean reusePort, String iface)
      throws PosixException {
    if (f == Family.UNIX) throw new IllegalArgumentException("bindInet with UNIX: use bindUnix");
    if (port < 0 || port > 65535) throw new IllegalArgumentException("port " + port);
    byte[] addr = sockaddr(f, host, port);
    Fd fd = socket(f == Family.INET ? AF_INET : AF_INET6, t);
    try {
      setInt(fd.get(), SO_REUSEADDR, 1);
      if (reusePort) setInt(fd.get(), SO_REUSEPORT, 1);
      if (iface != null) {
        byte[] name = iface.getBytes(StandardCharsets.UTF_8);
        if (LibC.setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, name, name.length) < 0) {
          throw new PosixException("setsockopt(SO_BINDTODEVICE)", Native.getLastError());
        }
      }
      if (LibC.bind(fd.get(), addr, addr.length) < 0) throw new PosixException("bind", Native.getLastError());
      listenIfStream(fd.get(), t, backlog);
      return fd;
    } catch (PosixException | RuntimeException e) {
      fd.close();
      throw e;
    }
  }

  /** Binds a unix socket at path under umask (when not null) and listens when stream/seqpacket. A stale file is not removed: the caller decides. */
  public static Fd bindUnix(Type t, String path, int backlog, Integer umask) throws PosixException {
    byte[] addr = sockaddrUn(path);
    Fd fd = socket(AF_UNIX, t);
    try {
      int r;
      if (umask != null) {
        synchronized (Processes.umaskLock()) {
          int old = LibC.umask(umask);
          r = LibC.bind(fd.get(), addr, addr.length);
          int e = Native.getLastError();
          LibC.umask(old);
          if (r < 0) throw new PosixException("bind", e);
        }
      } else if (LibC.bind(fd.get(), addr, addr.length) < 0) {
        throw new PosixException("bind", Native.getLastError());
      }
      listenIfStream(fd.get(), t, backlog);
      return fd;
    } catch (PosixException | RuntimeException e) {
      fd.close();
      throw e;
    }
  }

  /**
   * Resolves host to an address of family f (names through the JDK resolver);
   * an IPv4 address for INET6 is given as ::ffff:a.b.c.d by {@link #bindInet}.
   */
  public static InetAddress resolve(Family f, String host) throws UnknownHostException {
    InetAddress[] all = InetAddress.getAllByName(host);
    for (InetAddress a : all) {
      if (f == Family.INET ? a instanceof Inet4Address : a instanceof Inet6Address) return a;
    }
    if (f == Family.INET6) return all[0];
    throw new UnknownHostException(host + ": no IPv4 address");
  }

  /** The bound port (getsockname); 0 for a unix socket. */
  public static int localPort(int fd) throws PosixException {
    byte[] a = sockaddr(fd, false);
    int family = family(a);
    if (family != AF_INET && family != AF_INET6) return 0;
    return ((a[2] & 0xff) << 8) | (a[3] & 0xff);
  }

  /** The local address of a socket (getsockname); null for a unix socket. */
  public static java.net.InetSocketAddress localAddress(int fd) throws PosixException {
    return inetAddress(sockaddr(fd, false));
  }

  /** The remote address of a connected socket (getpeername); null for a unix socket. */
  public static java.net.InetSocketAddress peerAddress(int fd) throws PosixException {
    return inetAddress(sockaddr(fd, true));
  }

  /** True for an AF_UNIX socket. */
  public static boolean isUnix(int fd) throws PosixException {
    return family(sockaddr(fd, false)) == AF_UNIX;
  }

  /** TCP_NODELAY: a reply written in pieces must not wait for the peer's delayed ACK. */
  public static void setNoDelay(int fd) throws PosixException {
    if (LibC.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new int[] {1}, 4) < 0) {
      throw new PosixException("setsockopt(TCP_NODELAY)", Native.getLastError());
    }
  }

  /** TCP_NODELAY as the kernel has it (for the tests that check {@link #setNoDelay}). */
  static boolean noDelay(int fd) throws PosixException {
    int[] v = new int[1];
    int[] len = {4};
    if (LibC.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, v, len) < 0) {
      throw new PosixException("getsockopt(TCP_NODELAY)", Native.getLastError());
    }
    return v[0] != 0;
  }

  private static byte[] sockaddr(int fd, boolean peer) throws PosixException {
    byte[] a = new byte[128];
    int[] len = {a.length};
    int rc = peer ? LibC.getpeername(fd, a, len) : LibC.getsockname(fd, a, len);
    if (rc < 0) throw new PosixException(peer ? "getpeername" : "getsockname", Native.getLastError());
    return a;
  }

  private static int family(byte[] sockaddr) {
    return ByteBuffer.wrap(sockaddr).order(ByteOrder.nativeOrder()).getShort(0) & 0xffff;
  }

  private static java.net.InetSocketAddress inetAddress(byte[] a) throws PosixException {
    int family = family(a);
    int port = ((a[2] & 0xff) << 8) | (a[3] & 0xff);
    try {
      if (family == AF_INET) {
        return new java.net.InetSocketAddress(InetAddress.getByAddress(java.util.Arrays.copyOfRange(a, 4, 8)), port);
      }
      if (family == AF_INET6) { // sockaddr_in6: family(2) port(2) flowinfo(4) addr(16) scope(4)
        return new java.net.InetSocketAddress(InetAddress.getByAddress(java.util.Arrays.copyOfRange(a, 8, 24)), port);
      }
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // cannot happen for 4 or 16 bytes
    }
    return null;
  }

  /** accept4(SOCK_NONBLOCK|SOCK_CLOEXEC); null when nothing is pending (EAGAIN) or the connection was aborted. */
  public static Fd accept(int listenFd) throws PosixException {
    for (;;) {
      int fd = LibC.accept4(listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) return Fd.adopt(fd);
      int e = Native.getLastError();
      if (e == Errno.EINTR) continue;
      if (e == Errno.EAGAIN || e == Errno.ECONNABORTED) return null;
      throw new PosixException("accept4", e);
    }
  }

  /** A blocking, close-on-exec stream connection to a unix socket. */
  public static Fd connectUnix(String path) throws PosixException {
    byte[] addr = sockaddrUn(path);
    Fd fd = socket(AF_UNIX, Type.STREAM);
    if (LibC.connect(fd.get(), addr, addr.length) < 0) {
      int e = Native.getLastError();
      fd.close();
      throw new PosixException("connect", e);
    }
    return fd;
  }

  /** A connected pair of unix stream sockets, both close-on-exec. */
  public static Fd[] socketPair() throws PosixException {
    int[] sv = new int[2];
    if (LibC.socketpair(AF_UNIX, 1 | SOCK_CLOEXEC, 0, sv) < 0) {
      throw new PosixException("socketpair", Native.getLastError());
    }
    return new Fd[] {Fd.adopt(sv[0]), Fd.adopt(sv[1])};
  }

  /** Sends data (at least 1 byte) with the descriptors attached (SCM_RIGHTS); no SIGPIPE. */
  public static void sendFds(int sock, byte[] data, int... fds) throws PosixException {
    if (data.length == 0) throw new IllegalArgumentException("SCM_RIGHTS needs at least 1 byte of data");
    long n = LibPapa.papa_send_fds(sock, data, data.length, fds, fds.length);
    if (n < 0) throw new PosixException("sendmsg", (int) -n);
    while (n < data.length) {  // the descriptors went with the first part
      byte[] rest = Arrays.copyOfRange(data, (int) n, data.length);
      long m = LibPapa.papa_send_fds(sock, rest, rest.length, null, 0);
      if (m < 0) throw new PosixException("sendmsg", (int) -m);
      n += m;
    }
  }

  /** What {@link #receiveFds} got: the data read (empty at EOF) and the descriptors that came with it. */
  public record Received(byte[] data, Fd[] fds) {}

  /** recvmsg(MSG_CMSG_CLOEXEC): up to maxData bytes and maxFds descriptors (any more are closed by the kernel). */
  public static Received receiveFds(int sock, int maxData, int maxFds) throws PosixException {
    byte[] buf = new byte[Math.max(1, maxData)];
    int[] fds = new int[Math.max(1, maxFds)];
    int[] nfds = new int[1];
    long n = LibPapa.papa_recv_fds(sock, buf, maxData, fds, maxFds, nfds);
    if (n < 0) throw new PosixException("recvmsg", (int) -n);
    Fd[] out = new Fd[nfds[0]];
    for (int i = 0; i < out.length; i++) out[i] = Fd.adopt(fds[i]);
    return new Received(Arrays.copyOf(buf, (int) n), out);
  }

  /** The unix socket peer's credentials at connect time. */
  public record PeerCred(int pid, int uid, int gid) {}

  /** SO_PEERCRED. */
  public static PeerCred peerCred(int sock) throws PosixException {
    int[] v = new int[3];
    int[] len = {12};
    if (LibC.getsockopt(sock, SOL_SOCKET, SO_PEERCRED, v, len) < 0) {
      throw new PosixException("getsockopt(SO_PEERCRED)", Native.getLastError());
    }
    return new PeerCred(v[0], v[1], v[2]);
  }

  /** SO_TYPE (1 = stream, 2 = dgram, ...). */
  public static int socketType(int fd) throws PosixException {
    int[] v = new int[1];
    int[] len = {4};
    if (LibC.getsockopt(fd, SOL_SOCKET, SO_TYPE, v, len) < 0) {
      throw new PosixException("getsockopt(SO_TYPE)", Native.getLastError());
    }
    return v[0];
  }

  private static Fd socket(int domain, Type t) throws PosixException {
    int fd = LibC.socket(domain, (t.ordinal() + 1) | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new PosixException("socket", Native.getLastError());
    return Fd.adopt(fd);
  }

  private static void setInt(int fd, int opt, int value) throws PosixException {
    if (LibC.setsockopt(fd, SOL_SOCKET, opt, new int[] {value}, 4) < 0) {
      throw new PosixException("setsockopt", Native.getLastError());
    }
  }

  private static void listenIfStream(int fd, Type t, int backlog) throws PosixException {
    if ((t == Type.STREAM || t == Type.SEQPACKET) && LibC.listen(fd, backlog) < 0) {
      throw new PosixException("listen", Native.getLastError());
    }
  }

  private static byte[] sockaddr(Family f, InetAddress host, int port) throws PosixException {
    ByteBuffer b;
    if (f == Family.INET) {
      if (!(host instanceof Inet4Address)) throw new PosixException("bind", Errno.EAFNOSUPPORT);
      b = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
      b.putShort(0, (short) AF_INET);
      b.order(ByteOrder.BIG_ENDIAN).putShort(2, (short) port);
      b.position(4);
      b.put(host.getAddress());
    } else {
      byte[] a = host.getAddress();
      int scope = 0;
      if (a.length == 4) {
        byte[] m = new byte[16];
        m[10] = (byte) 0xff;
        m[11] = (byte) 0xff;
        System.arraycopy(a, 0, m, 12, 4);
        a = m;
      } else {
        scope = ((Inet6Address) host).getScopeId();
      }
      b = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder());
      b.putShort(0, (short) AF_INET6);
      b.order(ByteOrder.BIG_ENDIAN).putShort(2, (short) port);
      b.position(8);
      b.put(a);
      b.order(ByteOrder.nativeOrder()).putInt(24, scope);
    }
    return b.array();
  }

  private static byte[] sockaddrUn(String path) throws PosixException {
    byte[] p = path.getBytes(StandardCharsets.UTF_8);
    if (p.length >= UNIX_PATH_MAX) throw new PosixException("bind", Errno.ENAMETOOLONG);
    if (p.length == 0 || path.indexOf('\0') >= 0) throw new PosixException("bind", Errno.EINVAL);
    byte[] a = new byte[2 + p.length + 1];
    ByteBuffer.wrap(a).order(ByteOrder.nativeOrder()).putShort(0, (short) AF_UNIX);
    System.arraycopy(p, 0, a, 2, p.length);
    return a;
  }
}
