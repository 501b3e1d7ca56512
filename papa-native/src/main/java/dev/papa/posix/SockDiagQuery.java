package dev.papa.posix;

import dev.papa.posix.internal.LibC;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** One NETLINK_SOCK_DIAG request and its first answer, for {@link ListenBacklog} and {@link UnixSocketFile}. */
final class SockDiagQuery {
  private static final int AF_NETLINK = 16, SOCK_DGRAM = 2, SOCK_CLOEXEC = 02000000, NETLINK_SOCK_DIAG = 4,
      NLM_F_REQUEST = 1, MSG_DONTWAIT = 0x40;
  static final int SOCK_DIAG_BY_FAMILY = 20;

  private SockDiagQuery() {}

  /** A request of {@code len} bytes with its netlink header written; the caller puts the rest. */
  static ByteBuffer header(int len) {
    ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.nativeOrder());
    b.putInt(len).putShort((short) SOCK_DIAG_BY_FAMILY).putShort((short) NLM_F_REQUEST).putInt(1).putInt(0);
    return b;
  }

  /** The kernel's answer (native order, limit = its length), or null when it gave none about a socket. */
  static ByteBuffer ask(byte[] req) {
    int nl = LibC.socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return null;
    try {
      if (LibC.send(nl, req, req.length, 0) != req.length) return null;
      byte[] reply = new byte[8192];
      long n = LibC.recv(nl, reply, reply.length, MSG_DONTWAIT); // the kernel answered within send()
      ByteBuffer r = ByteBuffer.wrap(reply, 0, (int) Math.max(0, n)).order(ByteOrder.nativeOrder());
      if (n < 32 || (r.getShort(4) & 0xffff) != SOCK_DIAG_BY_FAMILY) return null;
      return r;
    } finally {
      LibC.close(nl);
    }
  }

  /** The socket's inode from /proc/self/fd/N ("socket:[INODE]"), or -1. */
  static long inode(int fd) {
    try {
      String link = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
      if (!link.startsWith("socket:[") || !link.endsWith("]")) return -1;
      return Long.parseLong(link.substring(8, link.length() - 1));
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
