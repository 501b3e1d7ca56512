package dev.papa.posix;

import dev.papa.posix.internal.LibPapa;

/**
 * The calling thread acting on the file system as another user: its fsuid, fsgid and
 * supplementary groups, so that files it creates or unlinks are checked against, and owned
 * by, that user. Only the calling thread changes (raw system calls; see src-c/paths.c); the
 * identity is restored on {@link #close()}, on the same thread. A thread started meanwhile
 * would inherit the identity (new threads copy their creator's credentials): start none.
 *
 * <pre>try (FsIdentity as = FsIdentity.become(uid, gid, groups)) { ... }</pre>
 */
public final class FsIdentity implements AutoCloseable {
  /** The thread's own identity, to go back to. */
  private final int uid;
  private final int gid;
  private final int[] groups;
  private final Thread thread = Thread.currentThread();
  private boolean closed;

  private FsIdentity(int uid, int gid, int[] groups) {
    this.uid = uid;
    this.gid = gid;
    this.groups = groups;
  }

  /** Acts as {@code uid}/{@code gid} with {@code groups} until closed; EPERM without CAP_SETUID/CAP_SETGID. */
  public static FsIdentity become(int uid, int gid, int[] groups) throws PosixException {
    int count = LibPapa.papa_thread_groups(new int[1], 0); // getgroups(0, ...) counts them
    if (count < 0) throw new PosixException("getgroups", -count);
    int[] saved = new int[Math.max(1, count)];
    int n = LibPapa.papa_thread_groups(saved, count);
    if (n < 0) throw new PosixException("getgroups", -n);
    FsIdentity own = new FsIdentity(Processes.effectiveUid(), Processes.effectiveGid(), java.util.Arrays.copyOf(saved, n));
    int r = LibPapa.papa_set_fs_identity(uid, gid, groups, groups.length);
    if (r < 0) {
      own.close();
      throw new PosixException("setfsuid", -r);
    }
    return own;
  }

  /** Back to the thread's own identity. Failing to get it back would leave the loop thread someone else: fatal. */
  @Override
  public void close() {
    if (closed) return;
    if (Thread.currentThread() != thread) throw new IllegalStateException("FsIdentity closed on another thread");
    closed = true;
    int r = LibPapa.papa_restore_fs_identity(uid, gid, groups, groups.length);
    if (r < 0) throw new IllegalStateException("cannot restore the thread's file-system identity: errno " + -r);
  }
}
