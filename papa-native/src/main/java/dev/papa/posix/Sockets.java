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
      SO_REUSEPORT = 15, SO_RCVTIMEO = 20, SO_BINDTODEVICE = 25, SO_ACCEPTCONN = 30, SO_DOMAIN = 39;
  private static final int ESOCKTNOSUPPORT = 94;
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

  /**
   * Bytes written to a connected unix stream socket that its peer has not read yet
   * (SIOCOUTQ: on AF_UNIX the memory of the messages still queued at the peer).
   */
  public static int unreadByPeer(int fd) throws PosixException {
    int[] n = new int[1];
    if (LibC.ioctl(fd, SIOCOUTQ, n) < 0) throw new PosixException("ioctl(SIOCOUTQ)", Native.getLastError());
    return n[0];
  }

  private static final long SIOCOUTQ = 0x5411;

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

  /**
   * Sends one datagram to a unix datagram socket at {@code address}: an absolute path, or
   * {@code @name} for an abstract name (sd_notify's NOTIFY_SOCKET). A socket of its own each time
   * (close-on-exec, closed after), so nothing is kept open between notifications.
   */
  public static void sendDatagram(String address, byte[] data) throws PosixException {
    byte[] addr;
    if (address.startsWith("@")) {
      byte[] name = address.substring(1).getBytes(StandardCharsets.UTF_8);
      if (name.length + 1 >= UNIX_PATH_MAX) throw new PosixException("connect", Errno.ENAMETOOLONG);
      addr = new byte[2 + 1 + name.length]; // family, a NUL, the name: no terminator
      ByteBuffer.wrap(addr).order(ByteOrder.nativeOrder()).putShort(0, (short) AF_UNIX);
      System.arraycopy(name, 0, addr, 3, name.length);
    } else {
      addr = sockaddrUn(address);
    }
    try (Fd fd = socket(AF_UNIX, Type.DGRAM)) {
      if (LibC.connect(fd.get(), addr, addr.length) < 0) throw new PosixException("connect", Native.getLastError());
      for (;;) {
        if (LibC.send(fd.get(), data, data.length, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return; // never waits on a full queue
        int e = Native.getLastError();
        if (e != Errno.EINTR) throw new PosixException("send", e);
      }
    }
  }

  private static final int MSG_NOSIGNAL = 0x4000, MSG_DONTWAIT = 0x40;

  /** A connected pair of unix stream sockets, both close-on-exec. */
  public static Fd[] socketPair() throws PosixException {
    int[] sv = new int[2];
    if (LibC.socketpair(AF_UNIX, 1 | SOCK_CLOEXEC, 0, sv) < 0) {
      throw new PosixException("socketpair", Native.getLastError());
    }
    return new Fd[] {Fd.adopt(sv[0]), Fd.adopt(sv[1])};
  }

  /** The kernel's SCM_MAX_FD: the most descriptors one message can carry. */
  public static final int MAX_FDS_PER_MESSAGE = 253;
  /** recvmsg's flag for control data that did not fit (descriptors discarded by the kernel). */
  static final int MSG_CTRUNC = 8;

  /** Sends data (at least 1 byte) with the descriptors attached (SCM_RIGHTS) to its first byte; no SIGPIPE. */
  public static void sendFds(int sock, byte[] data, int... fds) throws PosixException {
    if (data.length == 0) throw new IllegalArgumentException("SCM_RIGHTS needs at least 1 byte of data");
    if (fds.length > MAX_FDS_PER_MESSAGE) throw new IllegalArgumentException("at most " + MAX_FDS_PER_MESSAGE + " descriptors");
    long n = LibPapa.papa_sendmsg(sock, data, 0, data.length, fds, fds.length);
    if (n < 0) throw new PosixException("sendmsg", (int) -n);
    while (n < data.length) {  // the descriptors went with the first part
      long m = LibPapa.papa_sendmsg(sock, data, n, data.length - n, null, 0);
      if (m < 0) throw new PosixException("sendmsg", (int) -m);
      n += m;
    }
  }

  /**
   * Sends buf's position..limit on a nonblocking socket with fds attached to the first byte;
   * returns the bytes sent (position advanced; the descriptors went with them) or
   * {@link Io#AGAIN} (nothing sent, descriptors not sent).
   */
  public static int send(int sock, ByteBuffer buf, int[] fds) throws PosixException {
    if (!buf.isDirect()) throw new IllegalArgumentException("direct buffer required");
    int pos = buf.position(), rem = buf.limit() - pos;
    buf.position(0);  // JNA passes a direct buffer's address at its position (see Io.read)
    long n = LibPapa.papa_sendmsg(sock, buf, pos, rem, fds, fds.length);
    buf.position(n > 0 ? pos + (int) n : pos);
    if (n >= 0) return (int) n;
    if (n == -Errno.EAGAIN) return Io.AGAIN;
    throw new PosixException("sendmsg", (int) -n);
  }

  /**
   * What {@link #receiveFds} got: the data read (empty at EOF), the descriptors that came with
   * it, and whether the kernel cut the control data (more descriptors were sent than asked
   * for: those were discarded).
   */
  public record Received(byte[] data, Fd[] fds, boolean truncated) {}

  /** Blocking recvmsg(MSG_CMSG_CLOEXEC): up to maxData bytes and maxFds (at most 253) descriptors. */
  public static Received receiveFds(int sock, int maxData, int maxFds) throws PosixException {
    if (maxFds < 0 || maxFds > MAX_FDS_PER_MESSAGE) throw new IllegalArgumentException("maxFds " + maxFds);
    byte[] buf = new byte[Math.max(1, maxData)];
    int[] out = new int[2 + maxFds];
    long n = LibPapa.papa_recvmsg(sock, buf, 0, maxData, out, maxFds);
    if (n < 0) throw new PosixException("recvmsg", (int) -n);
    Fd[] fds = new Fd[out[0]];
    for (int i = 0; i < fds.length; i++) fds[i] = Fd.adopt(out[2 + i]);
    return new Received(Arrays.copyOf(buf, (int) n), fds, (out[1] & MSG_CTRUNC) != 0);
  }

  /**
   * What the kernel says a socket is: family (SO_DOMAIN), type (SO_TYPE), whether it listens
   * (SO_ACCEPTCONN), and its local address (getsockname): {@code inet} for inet/inet6,
   * {@code path} for a bound unix socket ({@code @name} for an abstract one), else null.
   */
  public record Description(Family family, Type type, boolean listening, java.net.InetSocketAddress inet, String path) {}

  /**
   * Describes any descriptor: ENOTSOCK for a pipe or file, EAFNOSUPPORT for a family other
   * than unix/inet/inet6, ESOCKTNOSUPPORT for a type outside {@link Type}.
   */
  public static Description describe(int fd) throws PosixException {
    int domain = getInt(fd, SO_DOMAIN, "SO_DOMAIN");
    Family family;
    switch (domain) {
      case AF_UNIX: family = Family.UNIX; break;
      case AF_INET: family = Family.INET; break;
      case AF_INET6: family = Family.INET6; break;
      default: throw new PosixException("getsockopt(SO_DOMAIN)", Errno.EAFNOSUPPORT);
    }
    int t = getInt(fd, SO_TYPE, "SO_TYPE");
    if (t < 1 || t > Type.values().length) throw new PosixException("getsockopt(SO_TYPE)", ESOCKTNOSUPPORT);
    boolean listening = getInt(fd, SO_ACCEPTCONN, "SO_ACCEPTCONN") != 0;
    byte[] a = new byte[128];
    int[] len = {a.length};
    if (LibC.getsockname(fd, a, len) < 0) throw new PosixException("getsockname", Native.getLastError());
    if (family != Family.UNIX) return new Description(family, Type.values()[t - 1], listening, inetAddress(a), null);
    String path = null;
    int n = Math.min(len[0], a.length);
    if (n > 2 && a[2] == 0) {
      path = "@" + new String(a, 3, n - 3, StandardCharsets.UTF_8);  // abstract name
    } else if (n > 2) {
      int end = 2;
      while (end < n && a[end] != 0) end++;
      path = new String(a, 2, end - 2, StandardCharsets.UTF_8);
    }
    return new Description(family, Type.values()[t - 1], listening, null, path);
  }

  /** SO_BINDTODEVICE: the interface a socket is bound to, or "" for none. */
  public static String boundDevice(int fd) throws PosixException {
    int[] v = new int[4]; // IFNAMSIZ (16) bytes
    int[] len = {16};
    if (LibC.getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, v, len) < 0) {
      throw new PosixException("getsockopt(SO_BINDTODEVICE)", Native.getLastError());
    }
    ByteBuffer b = ByteBuffer.allocate(16).order(java.nio.ByteOrder.nativeOrder());
    b.asIntBuffer().put(v);
    byte[] a = b.array();
    int end = 0;
    while (end < Math.min(len[0], 16) && a[end] != 0) end++;
    return new String(a, 0, end, StandardCharsets.US_ASCII);
  }

  private static int getInt(int fd, int opt, String name) throws PosixException {
    int[] v = new int[1];
    int[] len = {4};
    if (LibC.getsockopt(fd, SOL_SOCKET, opt, v, len) < 0) {
      throw new PosixException("getsockopt(" + name + ")", Native.getLastError());
    }
    return v[0];
  }

  /** SO_RCVTIMEO: a blocking read on sock fails with EAGAIN after this long (0: never). */
  public static void setReceiveTimeout(int sock, long millis) throws PosixException {
    long[] tv = {millis / 1000, (millis % 1000) * 1000};
    if (LibC.setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, tv, 16) < 0) {
      throw new PosixException("setsockopt(SO_RCVTIMEO)", Native.getLastError());
    }
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
    return getInt(fd, SO_TYPE, "SO_TYPE");
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
