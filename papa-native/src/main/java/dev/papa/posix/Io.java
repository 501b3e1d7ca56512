package dev.papa.posix;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibC;
import dev.papa.posix.internal.LibPapa;
import dev.papa.posix.internal.LoopCalls;
import java.nio.ByteBuffer;

/**
 * Nonblocking I/O on raw descriptors for the daemon's event loop, with EOF and
 * EAGAIN as return values rather than exceptions (they are the normal case).
 * Direct buffers go to the kernel by address with no copy and no allocation;
 * heap buffers go through a per-thread direct scratch buffer. EINTR is retried inside.
 * A buffer's mark is discarded by read and write.
 */
public final class Io {
  /** End of file (read returned 0). */
  public static final int EOF = -1;
  /** Nothing available right now (EAGAIN). */
  public static final int AGAIN = -2;

  private static final int O_RDWR = 2, O_NONBLOCK = 04000, O_CLOEXEC = 02000000;
  private static final int F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, FD_CLOEXEC = 1;
  private static final int F_DUPFD_CLOEXEC = 1030;
  private static final int SCRATCH = 64 * 1024;
  private static final ThreadLocal<ByteBuffer> SCRATCH_BUF =
      ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(SCRATCH));
  private static final long[] ONE = {1L};

  private Io() {}

  /**
   * Reads into buf from position to limit; returns n &gt; 0 (position advanced),
   * {@link #EOF} or {@link #AGAIN}; 0 only when buf has no room.
   */
  public static int read(int fd, ByteBuffer buf) throws PosixException {
    int pos = buf.position(), rem = buf.limit() - pos;
    if (rem == 0) return 0;
    if (buf.isReadOnly()) throw new java.nio.ReadOnlyBufferException();
    long n;
    if (buf.isDirect()) {
      n = LoopCalls.read(fd, address(buf), pos, rem);
      if (n > 0) buf.position(pos + (int) n);
    } else {
      ByteBuffer s = SCRATCH_BUF.get();
      n = LoopCalls.read(fd, address(s), 0, Math.min(rem, SCRATCH));
      if (n > 0) {
        s.get(0, buf.array(), buf.arrayOffset() + pos, (int) n);  // Java 13+ absolute bulk get
        buf.position(pos + (int) n);
      }
    }
    if (n > 0) return (int) n;
    if (n == 0) return EOF;
    if (n == -Errno.EAGAIN) return AGAIN;
    throw new PosixException("read", (int) -n);
  }

  /**
   * Writes from position to limit; returns n &gt;= 0 (position advanced) or {@link #AGAIN}.
   * On a socket this is send(MSG_NOSIGNAL): a vanished peer is a PosixException
   * with EPIPE, never a SIGPIPE.
   */
  public static int write(int fd, ByteBuffer buf) throws PosixException {
    int pos = buf.position(), rem = buf.limit() - pos;
    if (rem == 0) return 0;
    long n;
    if (buf.isDirect()) {
      n = LoopCalls.write(fd, address(buf), pos, rem);
    } else {
      ByteBuffer s = SCRATCH_BUF.get();
      int len = Math.min(rem, SCRATCH);
      s.put(0, buf.array(), buf.arrayOffset() + pos, len);
      n = LoopCalls.write(fd, address(s), 0, len);
    }
    if (n >= 0) {
      buf.position(pos + (int) n);
      return (int) n;
    }
    if (n == -Errno.EAGAIN) return AGAIN;
    throw new PosixException("write", (int) -n);
  }

  /** A direct buffer's native address, remembered by identity (entries are immutable, so threads may share them). */
  private record Address(ByteBuffer buffer, long base) {}

  /**
   * JNA converts a Buffer argument on every call (about 0.5 us a call here, measured: the loop
   * makes 3-4 such calls per delivered line); a long crosses unconverted. The few hot buffers
   * (the loop's shared read and write buffers, the scratch buffers) stay here; an entry keeps
   * its buffer reachable, so its memory cannot be freed while the address is used.
   */
  private static final Address[] ADDRESSES = new Address[16];

  private static long address(ByteBuffer direct) {
    int slot = System.identityHashCode(direct) & (ADDRESSES.length - 1);
    Address a = ADDRESSES[slot];
    if (a == null || a.buffer != direct) {
      a = new Address(direct, Pointer.nativeValue(Native.getDirectBufferPointer(direct)));
      ADDRESSES[slot] = a;
    }
    return a.base;
  }

  /** {read, write}, both O_NONBLOCK|O_CLOEXEC. */
  public static Fd[] pipe() throws PosixException {
    int[] p = new int[2];
    if (LibC.pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) throw new PosixException("pipe2", Native.getLastError());
    return new Fd[] {Fd.adopt(p[0]), Fd.adopt(p[1])};
  }

  /** An eventfd (EFD_NONBLOCK|EFD_CLOEXEC) to wake an epoll loop from another thread. */
  public static Fd eventFd() throws PosixException {
    int fd = LibC.eventfd(0, O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw new PosixException("eventfd", Native.getLastError());
    return Fd.adopt(fd);
  }

  /** Adds 1 to the eventfd counter (EAGAIN, a saturated counter, is ignored). */
  public static void signalEventFd(int fd) {
    LibC.write(fd, ONE, 8);
  }

  /** Resets the eventfd counter to 0. */
  public static void drainEventFd(int fd) {
    LibC.read(fd, new long[1], 8);
  }

  public static void setNonBlocking(int fd, boolean on) throws PosixException {
    int fl = LibC.fcntl(fd, F_GETFL, 0);
    if (fl < 0) throw new PosixException("fcntl", Native.getLastError());
    int nf = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    if (nf != fl && LibC.fcntl(fd, F_SETFL, nf) < 0) throw new PosixException("fcntl", Native.getLastError());
  }

  public static void setCloseOnExec(int fd, boolean on) throws PosixException {
    int fl = LibC.fcntl(fd, F_GETFD, 0);
    if (fl < 0) throw new PosixException("fcntl", Native.getLastError());
    int nf = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
    if (nf != fl && LibC.fcntl(fd, F_SETFD, nf) < 0) throw new PosixException("fcntl", Native.getLastError());
  }

  public static boolean isCloseOnExec(int fd) throws PosixException {
    int fl = LibC.fcntl(fd, F_GETFD, 0);
    if (fl < 0) throw new PosixException("fcntl", Native.getLastError());
    return (fl & FD_CLOEXEC) != 0;
  }

  /**
   * A close-on-exec duplicate (numbered 3 or above) of {@code fd}, owned by the caller: what a
   * child is handed stays open while the original may be closed meanwhile.
   */
  public static Fd dupCloseOnExec(int fd) throws PosixException {
    return dupAtLeast(fd, 3);
  }

  /** A close-on-exec duplicate of {@code fd} numbered {@code min} or above, owned by the caller. */
  public static Fd dupAtLeast(int fd, int min) throws PosixException {
    int copy = LibC.fcntl(fd, F_DUPFD_CLOEXEC, min);
    if (copy < 0) throw new PosixException("fcntl(F_DUPFD_CLOEXEC)", Native.getLastError());
    return Fd.adopt(copy);
  }

  /**
   * Makes descriptor number {@code target} a close-on-exec duplicate of {@code fd}, closing what
   * {@code target} was (dup3). The caller owns {@code target} and must know nothing else uses it.
   */
  public static void dupOnto(int fd, int target) throws PosixException {
    if (LibC.dup3(fd, target, O_CLOEXEC) < 0) throw new PosixException("dup3", Native.getLastError());
  }

  /** O_RDWR|O_CLOEXEC. */
  public static Fd openDevNull() throws PosixException {
    int fd = LibC.open(Errno.cString("/dev/null"), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) throw new PosixException("open", Native.getLastError());
    return Fd.adopt(fd);
  }

  /**
   * Opens a log file for appending (created 0640): never through a symbolic link at the path
   * (ELOOP) and only a regular file (EINVAL for a FIFO, device, directory or socket).
   */
  public static Fd openLogFile(String path) throws PosixException {
    int fd = LibPapa.papa_open_log(Errno.cString(path));
    if (fd < 0) throw new PosixException("open", -fd);
    return Fd.adopt(fd);
  }

  /**
   * What open file {@code fd} is: {device, inode}. Two descriptors with the same pair are the
   * same pipe, socket or file; a number closed and reused for another object gets another pair.
   */
  public static long[] identity(int fd) throws PosixException {
    long[] st = new long[4];
    int r = LibPapa.papa_stat_at(fd, new byte[] {0}, st);
    if (r < 0) throw new PosixException("fstat", -r);
    return new long[] {st[0], st[1]};
  }
}
