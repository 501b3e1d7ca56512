package dev.papa.posix;

import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibPapa;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads a unix stream socket with recvmsg(MSG_CMSG_CLOEXEC) instead of read, so descriptors a
 * peer attaches (SCM_RIGHTS) are received with the data. The control buffer holds exactly
 * {@code capacity} descriptors: a message carrying more comes {@link #truncated()} and the
 * kernel discards the rest. One instance serves every session of a loop (like its read
 * buffer): after each {@link #read} that reports descriptors the caller must {@link #take} them.
 * The plain path allocates nothing: the result lands in a preallocated direct buffer.
 */
public final class FdReceiver {
  private final int capacity;
  private final ByteBuffer out;  // {count, msg_flags, fd...} written by papa_recvmsg

  public FdReceiver(int capacity) {
    if (capacity < 0 || capacity > Sockets.MAX_FDS_PER_MESSAGE) throw new IllegalArgumentException("capacity " + capacity);
    this.capacity = capacity;
    this.out = ByteBuffer.allocateDirect(4 * (2 + Math.max(1, capacity))).order(ByteOrder.nativeOrder());
  }

  /** Like {@link Io#read} on a direct buffer: n &gt; 0, {@link Io#EOF} or {@link Io#AGAIN}. */
  public int read(int sock, ByteBuffer buf) throws PosixException {
    if (!buf.isDirect()) throw new IllegalArgumentException("direct buffer required");
    int pos = buf.position(), rem = buf.limit() - pos;
    if (rem == 0) return 0;
    buf.position(0);  // see Io.read
    long n = LibPapa.papa_recvmsg(sock, buf, pos, rem, out, capacity);
    buf.position(n > 0 ? pos + (int) n : pos);
    if (n > 0) return (int) n;
    if (n == 0) return Io.EOF;
    if (n == -Errno.EAGAIN) return Io.AGAIN;
    throw new PosixException("recvmsg", (int) -n);
  }

  /** True when the last read brought descriptors or cut control data: call {@link #take}. */
  public boolean hasAncillary() {
    return out.getInt(0) != 0 || truncated();
  }

  /** The control data of the last read was cut (MSG_CTRUNC): more descriptors were sent than fit. */
  public boolean truncated() {
    return (out.getInt(4) & Sockets.MSG_CTRUNC) != 0;
  }

  /** The descriptors of the last read, now owned by the caller; empty when none came. */
  public Fd[] take() {
    int n = out.getInt(0);
    Fd[] fds = new Fd[n];
    for (int i = 0; i < n; i++) fds[i] = Fd.adopt(out.getInt(8 + 4 * i));
    out.putInt(0, 0);
    out.putInt(4, 0);
    return fds;
  }
}
