package dev.papa.posix;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.OptionalInt;

/**
 * The listen backlog of a listening socket as the kernel holds it (sk_max_ack_backlog, what
 * {@code ss -l} shows as Send-Q), read through NETLINK_SOCK_DIAG: inet_diag for TCP, unix_diag
 * for unix sockets. No getsockopt reports it. Empty when the kernel offers no such query or
 * the answer is not about this very socket (matched by inode).
 */
public final class ListenBacklog {
  private static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10,
      IPPROTO_TCP = 6, TCP_LISTEN = 10, UDIAG_SHOW_RQLEN = 0x10, UNIX_DIAG_RQLEN = 4;

  private ListenBacklog() {}

  /** The backlog of {@code fd}, a listening socket that {@code d} describes. */
  public static OptionalInt of(int fd, Sockets.Description d) {
    long inode = SockDiagQuery.inode(fd);
    if (inode < 0 || !d.listening()) return OptionalInt.empty();
    byte[] req;
    if (d.family() == Sockets.Family.UNIX) {
      ByteBuffer b = SockDiagQuery.header(16 + 24);
      b.put((byte) AF_UNIX).put((byte) 0).putShort((short) 0).putInt(-1) // every state
          .putInt((int) inode).putInt(UDIAG_SHOW_RQLEN).putInt(-1).putInt(-1);
      req = b.array();
    } else if (d.type() == Sockets.Type.STREAM && d.inet() != null) {
      boolean v4 = d.family() == Sockets.Family.INET;
      ByteBuffer b = SockDiagQuery.header(16 + 56);
      b.put((byte) (v4 ? AF_INET : AF_INET6)).put((byte) IPPROTO_TCP).put((byte) 0).put((byte) 0)
          .putInt(1 << TCP_LISTEN);
      b.order(ByteOrder.BIG_ENDIAN).putShort((short) d.inet().getPort()).putShort((short) 0);
      byte[] a = d.inet().getAddress().getAddress();
      byte[] src = new byte[16];
      if (!v4 && a.length == 4) {  // an inet6 socket on a v4-mapped address: Java shows it as IPv4
        src[10] = src[11] = (byte) 0xff;
        System.arraycopy(a, 0, src, 12, 4);
      } else {
        System.arraycopy(a, 0, src, 0, a.length);
      }
      b.put(src).put(new byte[16]);
      b.order(ByteOrder.nativeOrder()).putInt(0).putInt(-1).putInt(-1); // any interface, no cookie
      req = b.array();
    } else {
      return OptionalInt.empty();
    }
    ByteBuffer r = SockDiagQuery.ask(req);
    if (r == null) return OptionalInt.empty();
    int n = r.limit();
    return d.family() == Sockets.Family.UNIX ? unixBacklog(r, n, inode) : inetBacklog(r, n, inode);
  }

  /** inet_diag_msg after the 16-byte header: ... rqueue@72, wqueue@76 (the max backlog when listening), inode@84. */
  private static OptionalInt inetBacklog(ByteBuffer r, int n, long inode) {
    if (n < 88 || (r.getInt(84) & 0xffffffffL) != inode) return OptionalInt.empty();
    return OptionalInt.of(r.getInt(76));
  }

  /** unix_diag_msg (16 bytes: family, type, state, pad, inode, cookie) then attributes; RQLEN = {rqueue, wqueue}. */
  private static OptionalInt unixBacklog(ByteBuffer r, int n, long inode) {
    if ((r.getInt(20) & 0xffffffffL) != inode) return OptionalInt.empty();
    int at = 32;
    while (at + 4 <= n) {
      int len = r.getShort(at) & 0xffff, type = r.getShort(at + 2) & 0xffff;
      if (len < 4) break;
      if (type == UNIX_DIAG_RQLEN && len >= 12) return OptionalInt.of(r.getInt(at + 8));
      at += (len + 3) & ~3;
    }
    return OptionalInt.empty();
  }

}
