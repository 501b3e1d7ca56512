package dev.papa.posix;

import java.nio.ByteBuffer;

/**
 * The file a unix socket was bound to, as the kernel knows it (unix_diag's UNIX_DIAG_VFS): its
 * device and inode, whatever mount namespace bound it. A socket's address is only the path its
 * binder used; the same path may lead elsewhere here, which this tells.
 */
public final class UnixSocketFile {
  private static final int AF_UNIX = 1, UDIAG_SHOW_VFS = 0x02, UNIX_DIAG_VFS = 1;

  private UnixSocketFile() {}

  /** Whether {@code fd}, a unix socket, is bound to the file with this {@code st_dev} and {@code st_ino}. */
  public static boolean isBoundTo(int fd, long dev, long ino) {
    long[] f = of(fd);
    return f != null && f[1] == (ino & 0xffffffffL) && f[0] == kernelDev(dev);
  }

  /** {dev, ino} of the bound file, or null: not bound to a file (abstract, unbound) or no answer. */
  static long[] of(int fd) {
    long inode = SockDiagQuery.inode(fd);
    if (inode < 0) return null;
    ByteBuffer b = SockDiagQuery.header(16 + 24);
    b.put((byte) AF_UNIX).put((byte) 0).putShort((short) 0).putInt(-1) // every state
        .putInt((int) inode).putInt(UDIAG_SHOW_VFS).putInt(-1).putInt(-1);
    ByteBuffer r = SockDiagQuery.ask(b.array());
    if (r == null || (r.getInt(20) & 0xffffffffL) != inode) return null;
    int n = r.limit();
    int at = 32; // after the netlink header and unix_diag_msg
    while (at + 4 <= n) {
      int len = r.getShort(at) & 0xffff, type = r.getShort(at + 2) & 0xffff;
      if (len < 4) break;
      if (type == UNIX_DIAG_VFS && len >= 12) {
        return new long[] {r.getInt(at + 8) & 0xffffffffL, r.getInt(at + 4) & 0xffffffffL};
      }
      at += (len + 3) & ~3;
    }
    return null;
  }

  /** stat's st_dev in the kernel's internal form (major << 20 | minor), which unix_diag reports. */
  private static long kernelDev(long dev) {
    long major = (dev >>> 8) & 0xfff, minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
    return (major << 20) | minor;
  }
}
