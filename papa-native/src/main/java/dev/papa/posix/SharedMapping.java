package dev.papa.posix;

import dev.papa.posix.internal.LibC;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A file mapped shared, read and write (mmap {@code MAP_SHARED}), seen as one direct
 * {@link ByteBuffer} in native byte order: what is written there is in the file at once, and
 * stays when this process dies. Meant for memfds whose size cannot shrink
 * ({@link Memfd#sealShrink}): a shrunk file would fault on access beyond its new end.
 *
 * <p>{@link #close} unmaps explicitly (not at garbage collection): the caller closes only when
 * nothing uses {@link #buffer()} or a slice of it any more. Not thread-safe.
 */
public final class SharedMapping implements AutoCloseable {
  /** The page size (getpagesize) every offset and length of {@link #discard} is a multiple of. */
  public static final int PAGE = LibC.getpagesize();
  private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MADV_REMOVE = 9;

  private long address;
  private final long length;
  private final ByteBuffer buffer;

  private SharedMapping(long address, long length) {
    this.address = address;
    this.length = length;
    this.buffer = new Pointer(address).getByteBuffer(0, length).order(ByteOrder.nativeOrder());
  }

  /** Maps the first {@code length} bytes of {@code fd} (at most {@link Integer#MAX_VALUE}). The descriptor may be closed afterwards. */
  public static SharedMapping map(int fd, long length) throws PosixException {
    if (length <= 0 || length > Integer.MAX_VALUE) throw new IllegalArgumentException("mapping length " + length);
    long a = LibC.mmap(0, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == -1) throw new PosixException("mmap", Native.getLastError());
    return new SharedMapping(a, length);
  }

  /** The whole mapping, native order, position 0. Absolute access only: the position is shared. */
  public ByteBuffer buffer() {
    if (address == 0) throw new IllegalStateException("mapping closed");
    return buffer;
  }

  public long length() { return length; }

  /**
   * Gives the file's pages in [offset, offset + len) back to the kernel (madvise MADV_REMOVE: a
   * hole is punched into the file, and the range reads as zeros afterwards). Page-aligned.
   */
  public void discard(long offset, long len) throws PosixException {
    if (address == 0) throw new IllegalStateException("mapping closed");
    if (offset < 0 || len < 0 || offset + len > length || (offset | len) % PAGE != 0) {
      throw new IllegalArgumentException("discard " + offset + "+" + len + " of " + length);
    }
    if (len == 0) return;
    if (LibC.madvise(address + offset, len, MADV_REMOVE) < 0) throw new PosixException("madvise(MADV_REMOVE)", Native.getLastError());
  }

  /** Unmaps; idempotent. Any buffer or slice of this mapping must no longer be used. */
  @Override
  public void close() {
    long a = address;
    if (a == 0) return;
    address = 0;
    LibC.munmap(a, length);
  }
}
