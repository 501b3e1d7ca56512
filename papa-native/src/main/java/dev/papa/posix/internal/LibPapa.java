package dev.papa.posix.internal;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;

/**
 * libpapa (src-c/), bound with JNA direct mapping. JNA extracts it from the jar
 * resource {@code <os-arch>/libpapa.so}. Every function reports failure as a
 * negative errno in its return value, so callers never allocate to learn about
 * EAGAIN. The loop's per-line calls (read, write, epoll_wait) are JNI natives
 * of {@link LoopCalls} instead, for their cost. ByteBuffer arguments must
 * be direct; JNA passes their address at the current position, so callers set
 * the position to 0 for the call and give the offset explicitly.
 */
public final class LibPapa {
  static {
    Native.register(LibPapa.class, "papa");
  }

  private LibPapa() {}

  /** See src-c/jni.c: binds LoopCalls' natives; 0 on success. */
  public static native int papa_jni_register(com.sun.jna.JNIEnv env);
  public static native int papa_epoll_ctl(int epfd, int op, int fd, int events, long data);
  // papa_sendmsg / papa_recvmsg: one C function each, for heap arrays (blocking clients) and for
  // direct buffers (the daemon's loop, no copy); out = {count, msg_flags, fds...}.
  public static native long papa_sendmsg(int sock, byte[] data, long off, long len, int[] fds, int nfds);
  public static native long papa_sendmsg(int sock, ByteBuffer base, long off, long len, int[] fds, int nfds);
  public static native long papa_recvmsg(int sock, byte[] data, long off, long len, int[] out, int maxfds);
  public static native long papa_recvmsg(int sock, ByteBuffer base, long off, long len, ByteBuffer out, int maxfds);
  public static native int papa_set_thread_name(byte[] name);
  public static native void papa_strerror(int err, byte[] buf, int len);
  public static native int papa_getpwnam(byte[] name, int[] out);
  public static native int papa_getpwuid(int uid, byte[] name, int namelen, int[] gid);
  public static native int papa_getgrnam(byte[] name, int[] gid);
  public static native int papa_getgrgid(int gid);
  public static native int papa_getgrouplist(byte[] user, int gid, int[] groups, int max, int[] needed);

  // src-c/paths.c
  public static native int papa_open_dir_nofollow(byte[] path);
  public static native int papa_open_dir_walk(byte[] path);
  public static native int papa_dir_trusted(byte[] path, int uid, long dev, long ino);
  public static native int papa_stat_at(int dirfd, byte[] name, long[] out);
  public static native int papa_unlink_if(int dirfd, byte[] name, long dev, long ino);
  public static native int papa_unix_refused(byte[] path);
  public static native int papa_open_log(byte[] path);
  public static native int papa_chmod_if(int dirfd, byte[] name, long dev, long ino, int mode);
  public static native int papa_thread_groups(int[] saved, int max);
  public static native int papa_set_fs_identity(int uid, int gid, int[] groups, int ngroups);
  public static native int papa_restore_fs_identity(int uid, int gid, int[] groups, int ngroups);

  /** See src-c/reexec.c. */
  public static native int papa_memfd(byte[] name);
  public static native int papa_reexec(byte[] path, Pointer argv, int[] keep, int nkeep);

  /** See src-c/spawn.c: children get the caller's parent (the keeper) from now on. */
  public static native void papa_spawn_clone_parent(int on);

  /** See src-c/spawn.c: F_SETPIPE_SZ of every output pipe from now on (0: the kernel's default). */
  public static native void papa_spawn_pipe_size(int bytes);

  /** See src-c/spawn.c; result gets {pid, pidfd, stdout, stderr, step, errno}. */
  public static native int papa_spawn(Pointer paths, Pointer argv, Pointer envp, Pointer listenPidDigits,
      int stdinFd, int stdoutMode, int stderrMode, int[] keep, int nkeep, int[] passSrc, int[] passDst, int npass,
      int[] rlRes, long[] rlSoft, long[] rlHard, int nrl, int[] groups, int ngroups, int gid, int uid,
      byte[] cwd, int cwdAfterIds, int umask, int newSession, int[] result);

  /** See src-c/spawn.c: replaces this process; returns -errno only when nothing has changed yet. */
  public static native int papa_exec_fds(byte[] path, Pointer argv, Pointer envp, int[] fds, int nfds);
}
