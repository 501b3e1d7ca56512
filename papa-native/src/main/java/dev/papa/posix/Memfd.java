package dev.papa.posix;

import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibC;
import dev.papa.posix.internal.LibPapa;
import com.sun.jna.Native;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Anonymous memory files (memfd_create): the daemon's state crosses an {@code execve} in one,
 * sealed so that nobody, the daemon included, can change it after it was written. The keeper's
 * copy of the state grows by appended journal frames instead ({@link #writeAt}), so it is only
 * sealed against shrinking ({@link #sealShrink}).
 */
public final class Memfd {
  private static final int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
  private static final int F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8;
  private static final int ALL_SEALS = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
  private static final int O_RDWR = 2, O_CLOEXEC = 02000000;

  private Memfd() {}

  /** A new, empty memfd: close-on-exec, sealable. */
  public static Fd create(String name) throws PosixException {
    int fd = LibPapa.papa_memfd(Errno.cString(name));
    if (fd < 0) throw new PosixException("memfd_create", -fd);
    return Fd.adopt(fd);
  }

  /** Writes to the file from its start (through /proc/self/fd: a description of its own). */
  public static OutputStream output(int fd) throws IOException {
    return Files.newOutputStream(path(fd), StandardOpenOption.WRITE);
  }

  /** Reads the file from its start, whatever the offset of {@code fd}. */
  public static InputStream input(int fd) throws IOException {
    return Files.newInputStream(path(fd), StandardOpenOption.READ);
  }

  /** No more writes, growth, shrinking or seal changes. */
  public static void seal(int fd) throws PosixException {
    if (LibC.fcntl(fd, F_ADD_SEALS, ALL_SEALS) < 0) throw new PosixException("fcntl(F_ADD_SEALS)", Native.getLastError());
  }

  /**
   * No shrinking and no seal changes; writes and growth stay allowed: what was written can be
   * overwritten but never cut away by a truncation.
   */
  public static void sealShrink(int fd) throws PosixException {
    if (LibC.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK) < 0) throw new PosixException("fcntl(F_ADD_SEALS)", Native.getLastError());
  }

  /**
   * Writes all of {@code bytes} at {@code offset} (pwrite: the descriptor's own offset is not
   * used or moved). A short write (a memory file returns one only when it runs out of memory
   * or a fatal signal is pending) is continued; an error throws, and whatever part was written
   * stays in the file.
   */
  public static void writeAt(int fd, byte[] bytes, long offset) throws PosixException {
    byte[] rest = bytes;
    long at = offset;
    while (rest.length > 0) {
      long n = LibC.pwrite(fd, rest, rest.length, at);
      if (n < 0) {
        int errno = Native.getLastError();
        if (errno == Errno.EINTR) continue;
        throw new PosixException("pwrite", errno);
      }
      if (n == 0) throw new PosixException("pwrite", 5 /* EIO: no progress */);
      at += n;
      rest = java.util.Arrays.copyOfRange(rest, (int) n, rest.length);
    }
  }

  /** Sets the file's size (ftruncate): growth reads as zeros and takes no memory until written. */
  public static void truncate(int fd, long size) throws PosixException {
    if (LibC.ftruncate(fd, size) < 0) throw new PosixException("ftruncate", Native.getLastError());
  }

  /** The file's size now. */
  public static long size(int fd) throws IOException {
    return Files.size(path(fd));
  }

  /**
   * Bytes of the file that hold pages (SEEK_DATA/SEEK_HOLE, on a description of its own so that
   * the offset of {@code fd} does not move): what it costs in memory, holes excluded.
   */
  public static long dataBytes(int fd) throws PosixException {
    final int seekData = 3, seekHole = 4, enxio = 6;
    try (Fd own = reopen("/proc/self/fd/" + fd)) {
      long total = 0;
      long at = 0;
      while (true) {
        long data = LibC.lseek(own.get(), at, seekData);
        if (data < 0) {
          int errno = Native.getLastError();
          if (errno == enxio) return total; // no data after at
          throw new PosixException("lseek(SEEK_DATA)", errno);
        }
        long hole = LibC.lseek(own.get(), data, seekHole);
        if (hole < 0) throw new PosixException("lseek(SEEK_HOLE)", Native.getLastError());
        total += hole - data;
        at = hole;
      }
    }
  }

  /** True when {@code fd} is a memfd that can no longer shrink ({@link #sealShrink} or {@link #seal}). */
  public static boolean cannotShrink(int fd) {
    int s = LibC.fcntl(fd, F_GET_SEALS, 0);
    return s >= 0 && (s & F_SEAL_SHRINK) != 0;
  }

  /**
   * A new descriptor (O_RDWR, close-on-exec) of the memory file another descriptor names, e.g.
   * {@code /proc/PID/fd/N} of another process (needs the right to trace it, as for any /proc fd link).
   */
  public static Fd reopen(String procFdPath) throws PosixException {
    int fd = LibC.open(Errno.cString(procFdPath), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) throw new PosixException("open " + procFdPath, Native.getLastError());
    return Fd.adopt(fd);
  }

  /** True when {@code fd} is a memfd sealed by {@link #seal}. */
  public static boolean isSealed(int fd) {
    int s = LibC.fcntl(fd, F_GET_SEALS, 0);
    return s >= 0 && (s & ALL_SEALS) == ALL_SEALS;
  }

  private static Path path(int fd) {
    return Path.of("/proc/self/fd/" + fd);
  }
}
