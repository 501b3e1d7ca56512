package dev.papa.posix;

import dev.papa.posix.internal.LibC;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * An owned file descriptor. The daemon holds sockets, pipes and pidfds by number
 * for a long time and hands some of them to children, so ownership must be
 * explicit: whoever holds the Fd closes it exactly once, or {@link #release()}s it.
 * {@code close()} is idempotent and thread-safe; it never throws (on Linux a
 * close that fails with EINTR has still released the number, so it is not retried).
 */
public final class Fd implements AutoCloseable {
  private static final AtomicIntegerFieldUpdater<Fd> FD =
      AtomicIntegerFieldUpdater.newUpdater(Fd.class, "fd");
  /** Descriptors owned through an Fd in this process now: a count kept instead of listing /proc/self/fd. */
  private static final java.util.concurrent.atomic.AtomicInteger OWNED = new java.util.concurrent.atomic.AtomicInteger();
  private volatile int fd;

  private Fd(int fd) {
    if (fd < 0) throw new IllegalArgumentException("negative descriptor " + fd);
    this.fd = fd;
    OWNED.incrementAndGet();
  }

  /** How many descriptors Fd objects of this process own now (opened and not yet closed or released). */
  public static int ownedCount() {
    return OWNED.get();
  }

  /** Takes ownership of a raw descriptor number. */
  public static Fd adopt(int fd) {
    return new Fd(fd);
  }

  /** The descriptor number; IllegalStateException once closed or released. */
  public int get() {
    int f = fd;
    if (f < 0) throw new IllegalStateException("descriptor already closed or released");
    return f;
  }

  public boolean isOpen() {
    return fd >= 0;
  }

  /** Gives up ownership and returns the number, which this object will no longer close. */
  public int release() {
    int f = FD.getAndSet(this, -1);
    if (f < 0) throw new IllegalStateException("descriptor already closed or released");
    OWNED.decrementAndGet();
    return f;
  }

  @Override
  public void close() {
    int f = FD.getAndSet(this, -1);
    if (f >= 0) {
      OWNED.decrementAndGet();
      LibC.close(f);
    }
  }

  @Override
  public String toString() {
    int f = fd;
    return f >= 0 ? "Fd(" + f + ")" : "Fd(closed)";
  }
}
