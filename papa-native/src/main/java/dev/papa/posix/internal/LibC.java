package dev.papa.posix.internal;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * libc, bound with JNA direct mapping ({@link Native#register}): each call is a
 * plain JNI native method, no reflection or argument boxing, so it is cheap
 * enough for the daemon's event loop. On failure read errno with
 * {@link Native#getLastError()} right after the call, on the same thread.
 * Only types that are the same on x86-64 and aarch64 Linux are used
 * ({@code long} for size_t/ssize_t/rlim_t, {@code int} for pid/uid/gid/mode).
 */
public final class LibC {
  static {
    Native.register(LibC.class, Platform.C_LIBRARY_NAME);
  }

  private LibC() {}

  public static native int close(int fd);
  public static native int fcntl(int fd, int cmd, int arg);
  public static native int dup3(int oldfd, int newfd, int flags);
  public static native int open(byte[] path, int flags, int mode);
  public static native int pipe2(int[] fds, int flags);
  public static native int eventfd(int initval, int flags);
  public static native long read(int fd, long[] buf, long count);
  public static native long write(int fd, long[] buf, long count);
  public static native long pwrite(int fd, byte[] buf, long count, long offset);
  public static native int ftruncate(int fd, long length);
  public static native long lseek(int fd, long offset, int whence);
  /** The address, or -1 (MAP_FAILED). */
  public static native long mmap(long addr, long length, int prot, int flags, int fd, long offset);
  public static native int munmap(long addr, long length);
  public static native int madvise(long addr, long length, int advice);
  public static native int getpagesize();
  public static native int epoll_create1(int flags);

  public static native int socket(int domain, int type, int protocol);
  public static native int socketpair(int domain, int type, int protocol, int[] sv);
  public static native int setsockopt(int fd, int level, int name, int[] value, int len);
  public static native int setsockopt(int fd, int level, int name, byte[] value, int len);
  public static native int setsockopt(int fd, int level, int name, long[] value, int len);
  public static native int getsockopt(int fd, int level, int name, int[] value, int[] len);
  public static native int bind(int fd, byte[] addr, int len);
  public static native int connect(int fd, byte[] addr, int len);
  public static native int listen(int fd, int backlog);
  public static native int getsockname(int fd, byte[] addr, int[] len);
  public static native long send(int fd, byte[] buf, long len, int flags);
  public static native long recv(int fd, byte[] buf, long len, int flags);
  public static native int getpeername(int fd, byte[] addr, int[] len);
  public static native int geteuid();
  public static native int getegid();
  public static native int ioctl(int fd, long request, int[] arg);
  public static native int accept4(int fd, Pointer addr, Pointer len, int flags);

  public static native int getpid();
  public static native int setsid();
  public static native int umask(int mask);
  public static native int kill(int pid, int sig);
  public static native int waitpid(int pid, int[] status, int options);
  public static native long syscall(long number, long a, long b);
  public static native int getrlimit(int resource, long[] rlim);
  public static native int setrlimit(int resource, long[] rlim);
}
