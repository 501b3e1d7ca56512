package dev.papa.posix;

import dev.papa.posix.internal.Errno;
import java.util.Locale;

/**
 * A spawn that failed, including in the child between fork and exec: the step
 * tells the daemon which protocol error to give ({@code Bad command},
 * {@code Bad working_dir}, ...). By the time this is thrown the child has been
 * reaped and every descriptor the spawn created is closed.
 */
public final class SpawnException extends PosixException {
  private static final long serialVersionUID = 1L;

  /** Where it failed, in the order the child performs them (PREPARE/FORK are in the parent). */
  public enum Step { PREPARE, FORK, SETSID, DUP, RLIMIT, SETGROUPS, SETGID, SETUID, CHDIR, UMASK, EXEC }

  private final Step step;

  public SpawnException(Step step, int errno) {
    super(step.name().toLowerCase(Locale.ROOT), errno,
        step.name().toLowerCase(Locale.ROOT) + " failed: " + Errno.message(errno) + " (errno " + errno + ")");
    this.step = step;
  }

  public Step step() {
    return step;
  }
}
