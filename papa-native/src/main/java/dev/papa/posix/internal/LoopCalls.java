package dev.papa.posix.internal;

import com.sun.jna.JNIEnv;

/**
 * The event loop's per-line calls as plain JNI natives (src-c/jni.c), wrapping
 * {@code papa_read}, {@code papa_write} and {@code papa_epoll_wait} of src-c/io.c. A JNI call
 * with primitive arguments skips JNA's dispatch: {@code LoopCallBenchmark} measured 252 against
 * 477 ns per call, syscall included. libpapa is loaded by JNA, so {@code System.load} has no
 * path to it; {@code papa_jni_register}, called once through JNA, binds these methods with
 * RegisterNatives.
 */
public final class LoopCalls {
  static {
    int r = LibPapa.papa_jni_register(JNIEnv.CURRENT);
    if (r != 0) throw new UnsatisfiedLinkError("libpapa could not bind LoopCalls' natives (papa_jni_register: " + r + ")");
  }

  private LoopCalls() {}

  /** {@code base} is a direct buffer's native address; returns bytes read, or -errno. */
  public static native long read(int fd, long base, long off, long len);

  /** send(MSG_NOSIGNAL), write() for a non-socket; returns bytes written, or -errno. */
  public static native long write(int fd, long base, long off, long len);

  /** Fills {@code buf} with 16-byte records {events, pad, data}; returns their count, or -errno. */
  public static native int epollWait(int epfd, long buf, int max, int timeout);
}
