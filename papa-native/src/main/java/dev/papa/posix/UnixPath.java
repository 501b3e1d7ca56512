package dev.papa.posix;

import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibPapa;

/**
 * The place of a unix socket file: its directory, opened without following any symbolic link
 * (openat2 RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk), and the entry name in it. Everything is
 * done relative to that directory descriptor, so a symbolic link swapped into the path cannot
 * redirect it: stat and unlink with the *at calls, connect through
 * {@code /proc/self/fd/DIRFD/NAME} (see src-c/paths.c). bind takes the path itself when no one
 * but root and the acting user can change the directories on it (then it reaches the same
 * directory, and the socket's address stays its real path, as programs that inherit it expect);
 * otherwise it binds through the descriptor too, and the address reads
 * {@code /proc/self/fd/N/NAME}. What is there already is replaced only when it is a stale
 * socket, and a file is unlinked only while it is still the one bound (same device and inode).
 */
public final class UnixPath implements AutoCloseable {
  private final String path;
  private final Fd dir;
  private final String name;
  private final long dirDev;
  private final long dirIno;
  private final boolean trusted;

  /** An entry's device, inode and whether it is a socket. */
  public record Entry(long dev, long ino, boolean socket) {}

  /** A socket bound at the path, and the file it made. */
  public record Bound(Fd fd, long dev, long ino) {}

  /** {@link #bind}: something other than a stale socket is at the path. */
  public static boolean inUse(PosixException e) {
    return e.errno() == Errno.EEXIST && e.call().equals("bind");
  }

  /** {@link #open}: a directory on the path is a symbolic link. */
  public static boolean symlinkOnPath(PosixException e) {
    return e.errno() == Errno.ELOOP && e.call().equals("open");
  }

  /** {@link #open}: the path names no entry (it ends in {@code /}, {@code .} or {@code ..}). */
  public static boolean namesNoEntry(PosixException e) {
    return e.errno() == Errno.EINVAL && e.call().equals("open");
  }

  private UnixPath(String path, Fd dir, String name, long dirDev, long dirIno, boolean trusted) {
    this.trusted = trusted;
    this.path = path;
    this.dir = dir;
    this.name = name;
    this.dirDev = dirDev;
    this.dirIno = dirIno;
  }

  /**
   * Opens the directory of the absolute {@code path}. ELOOP when a directory on it is a
   * symbolic link, EINVAL when it names no entry ({@code /}, {@code /a/}, {@code /a/..}).
   * {@code actingUid} is who else, besides root, may be trusted with the directories on it.
   */
  public static UnixPath open(String path, int actingUid) throws PosixException {
    if (!path.startsWith("/") || path.indexOf('\0') >= 0) throw new PosixException("open", Errno.EINVAL);
    int slash = path.lastIndexOf('/');
    String name = path.substring(slash + 1);
    if (name.isEmpty() || name.equals(".") || name.equals("..")) throw new PosixException("open", Errno.EINVAL);
    String dirPath = slash == 0 ? "/" : path.substring(0, slash);
    int fd = LibPapa.papa_open_dir_nofollow(Errno.cString(dirPath));
    if (fd < 0) throw new PosixException("open", -fd);
    Fd dir = Fd.adopt(fd);
    long[] st = new long[4];
    int r = LibPapa.papa_stat_at(dir.get(), new byte[] {0}, st);
    if (r < 0) {
      dir.close();
      throw new PosixException("fstat", -r);
    }
    int t = LibPapa.papa_dir_trusted(Errno.cString(dirPath), actingUid, st[0], st[1]);
    if (t < 0) {
      dir.close();
      throw new PosixException("open", -t);
    }
    return new UnixPath(path, dir, name, st[0], st[1], t == 1);
  }

  /** The O_NOFOLLOW walk that {@link #open} falls back to on kernels without openat2 (for tests). */
  static Fd openDirByWalk(String dirPath) throws PosixException {
    int fd = LibPapa.papa_open_dir_walk(Errno.cString(dirPath));
    if (fd < 0) throw new PosixException("open", -fd);
    return Fd.adopt(fd);
  }

  /** Same directory entry, same key: {@code /d/s.sock}, {@code /d/./s.sock} and {@code //d/s.sock} are one path. */
  public String entryKey() {
    return dirDev + ":" + dirIno + "/" + name;
  }

  public String path() {
    return path;
  }

  /** What is at the path now, or null when nothing is. */
  public Entry entry() throws PosixException {
    long[] st = new long[4];
    int r = LibPapa.papa_stat_at(dir.get(), Errno.cString(name), st);
    if (r == -Errno.ENOENT) return null;
    if (r < 0) throw new PosixException("stat", -r);
    return new Entry(st[0], st[1], (st[2] & 0170000) == 0140000);
  }

  /** True when the entry is a socket file nobody listens on (a connect to it is refused). */
  public boolean isStaleSocket() throws PosixException {
    Entry e = entry();
    if (e == null || !e.socket()) return false;
    int r = LibPapa.papa_unix_refused(Errno.cString(viaDescriptor()));
    if (r < 0 && r != -Errno.ENOENT) throw new PosixException("connect", -r);
    return r == 1;
  }

  /**
   * Binds a socket here (listening when stream/seqpacket) under {@code umask} when not null.
   * A stale socket at the path is unlinked first; anything else there is EEXIST.
   */
  public Bound bind(Sockets.Type type, int backlog, Integer umask) throws PosixException {
    Entry old = entry();
    if (old != null) {
      if (!isStaleSocket()) throw new PosixException("bind", Errno.EEXIST);
      int r = LibPapa.papa_unlink_if(dir.get(), Errno.cString(name), old.dev(), old.ino());
      if (r == -Errno.ESTALE) throw new PosixException("bind", Errno.EEXIST);
      if (r < 0 && r != -Errno.ENOENT) throw new PosixException("unlink", -r);
    }
    Fd fd = Sockets.bindUnix(type, trusted ? path : viaDescriptor(), backlog, umask);
    try {
      Entry made = entry();
      if (made == null || !made.socket()) throw new PosixException("bind", Errno.ESTALE); // replaced at once: not ours to keep
      return new Bound(fd, made.dev(), made.ino());
    } catch (PosixException | RuntimeException e) {
      fd.close();
      throw e;
    }
  }

  /** Unlinks the entry only while it is the file (dev, ino); false when it is gone or another file now. */
  public boolean unlinkIf(long dev, long ino) throws PosixException {
    int r = LibPapa.papa_unlink_if(dir.get(), Errno.cString(name), dev, ino);
    if (r == -Errno.ENOENT || r == -Errno.ESTALE) return false;
    if (r < 0) throw new PosixException("unlink", -r);
    return true;
  }

  /** chmod of the entry, only while it is the file (dev, ino), never through a symbolic link. */
  public void chmod(long dev, long ino, int mode) throws PosixException {
    int r = LibPapa.papa_chmod_if(dir.get(), Errno.cString(name), dev, ino, mode);
    if (r < 0) throw new PosixException("chmod", -r);
  }

  /** Whether bind uses the path itself (see the class comment). */
  public boolean bindsByPath() {
    return trusted;
  }

  /** The path connect uses: the kernel resolves the descriptor's magic link, then the name inside. */
  private String viaDescriptor() {
    return "/proc/self/fd/" + dir.get() + "/" + name;
  }

  @Override
  public void close() {
    dir.close();
  }
}
