package dev.papa.posix;

import dev.papa.posix.internal.Errno;
import java.io.IOException;

/**
 * The one exception type of papa-native: which call failed and the kernel's
 * errno, so the daemon can both branch on the number and show the text
 * (PROTOCOL.md errors such as {@code Bind failed on HOST:PORT: REASON} use {@link #reason()}).
 */
public class PosixException extends IOException {
  private static final long serialVersionUID = 1L;
  private final String call;
  private final int errno;

  public PosixException(String call, int errno) {
    this(call, errno, call + ": " + Errno.message(errno) + " (errno " + errno + ")");
  }

  /** For subclasses that word the message differently. */
  protected PosixException(String call, int errno, String message) {
    super(message);
    this.call = call;
    this.errno = errno;
  }

  /** The failed call, e.g. "bind", "socket", "chdir". */
  public String call() {
    return call;
  }

  public int errno() {
    return errno;
  }

  /** EPERM: the caller lacks the privilege (e.g. setuid to another user without CAP_SETUID). */
  public boolean notPermitted() {
    return errno == Errno.EPERM;
  }

  /** strerror text, e.g. "No such file or directory". */
  public String reason() {
    return Errno.message(errno);
  }
}
