package dev.papa.posix;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibC;
import dev.papa.posix.internal.LibPapa;
import dev.papa.posix.internal.LoopCalls;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * epoll over raw descriptors: the daemon's single event loop waits here on
 * sessions, pipes and pidfds at once. {@link #await} and the accessors are for
 * the loop's thread; add/modify/remove may be called from any thread.
 * Ready events land in a direct buffer, so waiting allocates nothing.
 */
public final class Epoll implements AutoCloseable {
  public static final int IN = 0x001, OUT = 0x004, ERR = 0x008, HUP = 0x010, RDHUP = 0x2000, ET = 1 << 31;
  private static final int EPOLL_CLOEXEC = 02000000, ADD = 1, DEL = 2, MOD = 3;

  private final Fd epfd;
  private final int maxEvents;
  private final ByteBuffer events;
  private final long eventsAddress;
  private int ready;

  public Epoll(int maxEvents) throws PosixException {
    if (maxEvents < 1) throw new IllegalArgumentException("maxEvents " + maxEvents);
    int fd = LibC.epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) throw new PosixException("epoll_create1", Native.getLastError());
    this.epfd = Fd.adopt(fd);
    this.maxEvents = maxEvents;
    this.events = ByteBuffer.allocateDirect(16 * maxEvents).order(ByteOrder.nativeOrder());
    this.eventsAddress = Pointer.nativeValue(Native.getDirectBufferPointer(events)); // a long crosses JNA unconverted
  }

  /** The epoll descriptor itself (to nest it or to inspect it). */
  public int fd() {
    return epfd.get();
  }

  public void add(int fd, int events, long data) throws PosixException {
    int r = LibPapa.papa_epoll_ctl(epfd.get(), ADD, fd, events, data);
    if (r < 0) throw new PosixException("epoll_ctl", -r);
  }

  public void modify(int fd, int events, long data) throws PosixException {
    int r = LibPapa.papa_epoll_ctl(epfd.get(), MOD, fd, events, data);
    if (r < 0) throw new PosixException("epoll_ctl", -r);
  }

  /** Removes fd; a descriptor that is not registered or already closed is ignored. */
  public void remove(int fd) throws PosixException {
    int r = LibPapa.papa_epoll_ctl(epfd.get(), DEL, fd, 0, 0);
    if (r < 0 && r != -Errno.ENOENT && r != -Errno.EBADF) throw new PosixException("epoll_ctl", -r);
  }

  /** Waits up to timeoutMillis (-1 = forever); returns the number of ready entries (0 on timeout or EINTR). */
  public int await(int timeoutMillis) throws PosixException {
    int n = LoopCalls.epollWait(epfd.get(), eventsAddress, maxEvents, timeoutMillis);
    if (n < 0) {
      ready = 0;
      if (n == -Errno.EINTR) return 0;
      throw new PosixException("epoll_wait", -n);
    }
    ready = n;
    return n;
  }

  /** EPOLL* bits of the i-th ready entry of the last await. */
  public int events(int i) {
    check(i);
    return events.getInt(16 * i);
  }

  /** The data registered with the i-th ready entry of the last await. */
  public long data(int i) {
    check(i);
    return events.getLong(16 * i + 8);
  }

  private void check(int i) {
    if (i < 0 || i >= ready) throw new IndexOutOfBoundsException(i + " of " + ready + " ready");
  }

  @Override
  public void close() {
    epfd.close();
  }
}
