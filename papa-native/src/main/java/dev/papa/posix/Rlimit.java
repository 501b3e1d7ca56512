package dev.papa.posix;

import com.sun.jna.Native;
import dev.papa.posix.internal.LibC;
import java.util.Locale;
import java.util.Optional;

/**
 * The resource limits of PROTOCOL.md's {@code rlimit.NAME} option, with their
 * Linux RLIMIT_* numbers (identical on x86-64 and aarch64). The value -1 means
 * RLIM_INFINITY.
 */
public enum Rlimit {
  AS(9), CORE(4), CPU(0), DATA(2), FSIZE(1), LOCKS(10), MEMLOCK(8), MSGQUEUE(12), NICE(13),
  NOFILE(7), NPROC(6), RSS(5), RTPRIO(14), RTTIME(15), SIGPENDING(11), STACK(3);

  private final int resource;

  Rlimit(int resource) {
    this.resource = resource;
  }

  /** The RLIMIT_* number. */
  public int resource() {
    return resource;
  }

  /** "nofile" -> NOFILE; empty for unknown names. */
  public static Optional<Rlimit> byName(String lowercaseName) {
    for (Rlimit r : values()) {
      if (r.name().toLowerCase(Locale.ROOT).equals(lowercaseName)) return Optional.of(r);
    }
    return Optional.empty();
  }

  /** {soft, hard} of this process; -1 is RLIM_INFINITY. */
  public long[] get() throws PosixException {
    long[] v = new long[2];
    if (LibC.getrlimit(resource, v) < 0) throw new PosixException("getrlimit", Native.getLastError());
    return v;
  }

  /** Sets this process's limit. */
  public void set(long soft, long hard) throws PosixException {
    if (LibC.setrlimit(resource, new long[] {soft, hard}) < 0) {
      throw new PosixException("setrlimit", Native.getLastError());
    }
  }
}
