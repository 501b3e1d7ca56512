package dev.papa.posix.internal;

import java.nio.charset.StandardCharsets;

/** Linux errno numbers used by papa-native, and the kernel's message for any errno. */
public final class Errno {
  public static final int EPERM = 1, ENOENT = 2, EINTR = 4, EBADF = 9, ECHILD = 10, EAGAIN = 11,
      ENOMEM = 12, EACCES = 13, ENOTDIR = 20, EINVAL = 22, EMFILE = 24, EPIPE = 32, ERANGE = 34, ENAMETOOLONG = 36,
      ENOSYS = 38, EEXIST = 17, ELOOP = 40, ESTALE = 116, ENOTSOCK = 88, EAFNOSUPPORT = 97, ECONNABORTED = 103;

  private static final String[] CACHE = new String[160];

  private Errno() {}

  /** strerror(errno), e.g. "No such file or directory". */
  public static String message(int errno) {
    if (errno >= 0 && errno < CACHE.length && CACHE[errno] != null) return CACHE[errno];
    byte[] buf = new byte[256];
    LibPapa.papa_strerror(errno, buf, buf.length);
    int n = 0;
    while (n < buf.length && buf[n] != 0) n++;
    String s = new String(buf, 0, n, StandardCharsets.UTF_8);
    if (errno >= 0 && errno < CACHE.length) CACHE[errno] = s;
    return s;
  }

  /** NUL-terminated UTF-8 for C. */
  public static byte[] cString(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    byte[] r = new byte[b.length + 1];
    System.arraycopy(b, 0, r, 0, b.length);
    return r;
  }
}
