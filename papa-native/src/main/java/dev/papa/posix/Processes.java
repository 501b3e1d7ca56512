package dev.papa.posix;

import com.sun.jna.Native;
import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibC;

/**
 * Process-level calls: pidfds and reaping let one event loop track thousands of
 * children without a thread each. Exit status convention everywhere: the exit
 * code, or minus the signal number that ended the process.
 */
public final class Processes {
  private static final long SYS_PIDFD_OPEN = 434; // same number on x86-64 and aarch64
  private static final int WNOHANG = 1;
  private static final Object UMASK_LOCK = new Object();
  /**
   * The umask this process had when this class was loaded, before any {@link Sockets#bindUnix}
   * set another for the moment of a bind. A spawn without a umask of its own gets this one: it
   * never inherits a bind's, which a spawn on another thread meanwhile would.
   */
  private static final int START_UMASK = readUmask();

  private Processes() {}

  /** pidfd_open(pid, 0): close-on-exec, readable (EPOLLIN) once the process has exited. */
  public static Fd pidfdOpen(int pid) throws PosixException {
    long r = LibC.syscall(SYS_PIDFD_OPEN, pid, 0);
    if (r < 0) throw new PosixException("pidfd_open", Native.getLastError());
    return Fd.adopt((int) r);
  }

  /** Reap if exited (WNOHANG). Returns exit status (code, or -signal) or null if still running. */
  public static Integer reap(int pid) throws PosixException {
    int[] status = new int[1];
    for (;;) {
      int r = LibC.waitpid(pid, status, WNOHANG);
      if (r > 0) return decode(status[0]);
      if (r == 0) return null;
      int e = Native.getLastError();
      if (e != Errno.EINTR) throw new PosixException("waitpid", e);
    }
  }

  /** Blocking reap; returns the exit status. */
  public static int waitFor(int pid) throws PosixException {
    int[] status = new int[1];
    for (;;) {
      int r = LibC.waitpid(pid, status, 0);
      if (r > 0) return decode(status[0]);
      int e = Native.getLastError();
      if (e != Errno.EINTR) throw new PosixException("waitpid", e);
    }
  }

  /** The raw wait status as code or -signal. */
  public static int decode(int status) {
    int sig = status & 0x7f;
    if (sig == 0) return (status >> 8) & 0xff;          // WIFEXITED
    if (sig != 0x7f) return -sig;                      // WIFSIGNALED
    return -((status >> 8) & 0xff);                    // stopped: not expected without WUNTRACED
  }

  public static int getpid() {
    return LibC.getpid();
  }

  /** This process's effective uid. */
  public static int effectiveUid() {
    return LibC.geteuid();
  }

  /** The effective gid of this process. */
  public static int effectiveGid() {
    return LibC.getegid();
  }

  public static int setsid() throws PosixException {
    int r = LibC.setsid();
    if (r < 0) throw new PosixException("setsid", Native.getLastError());
    return r;
  }

  /** Sets this process's umask and returns the old one (process-wide: beware other threads). */
  public static int umask(int mask) {
    synchronized (UMASK_LOCK) {
      return LibC.umask(mask);
    }
  }

  /** kill(2). The daemon never signals its children; tools and tests do. */
  public static void kill(int pid, int signal) throws PosixException {
    if (LibC.kill(pid, signal) < 0) throw new PosixException("kill", Native.getLastError());
  }

  static Object umaskLock() {
    return UMASK_LOCK;
  }

  /** See {@link #START_UMASK}. */
  public static int startUmask() {
    return START_UMASK;
  }

  /** The "Umask:" line of /proc/self/status (Linux 4.7+): read, not set, so nobody sees it change. */
  private static int readUmask() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
        if (line.startsWith("Umask:")) return Integer.parseInt(line.substring(6).trim(), 8);
      }
    } catch (java.io.IOException | RuntimeException e) {
      // fall through
    }
    throw new IllegalStateException("no Umask in /proc/self/status (Linux 4.7 or later is needed)");
  }

  /** How many descriptors this process has open now (the entries of /proc/self/fd). */
  public static int openDescriptorCount() throws PosixException {
    try (java.util.stream.Stream<java.nio.file.Path> s = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
      return (int) s.count() - 1;  // less the directory descriptor the listing itself holds
    } catch (java.io.IOException e) {
      throw new PosixException("list /proc/self/fd", dev.papa.posix.internal.Errno.EMFILE);
    }
  }
}
