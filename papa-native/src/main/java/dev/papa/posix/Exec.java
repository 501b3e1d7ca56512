package dev.papa.posix;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibPapa;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Replaces this process's program, in the same pid, keeping exactly the given descriptors
 * (every other one is made close-on-exec first, the JVM's own included) and with no signal
 * blocked. Used by the daemon's in-place upgrade: its children stay its children.
 */
public final class Exec {
  private Exec() {}

  /**
   * execve(argv[0], argv, environ). Returns only on failure, as a PosixException, with
   * everything as it was: {@code keep} close-on-exec again, the signal mask restored.
   */
  public static void reexec(List<String> argv, int[] keep) throws PosixException {
    if (argv.isEmpty()) throw new IllegalArgumentException("empty argv");
    byte[][] args = new byte[argv.size()][];
    long strings = 0;
    for (int i = 0; i < args.length; i++) {
      if (argv.get(i).indexOf('\0') >= 0) throw new IllegalArgumentException("NUL in argument " + i);
      args[i] = argv.get(i).getBytes(StandardCharsets.UTF_8);
      strings += args[i].length + 1;
    }
    long table = (long) (args.length + 1) * Native.POINTER_SIZE;
    try (Memory block = new Memory(table + strings)) {
      long text = table;
      for (int i = 0; i < args.length; i++) {
        block.write(text, args[i], 0, args[i].length);
        block.setByte(text + args[i].length, (byte) 0);
        block.setPointer((long) i * Native.POINTER_SIZE, block.share(text));
        text += args[i].length + 1;
      }
      block.setPointer((long) args.length * Native.POINTER_SIZE, null);
      int r = LibPapa.papa_reexec(Errno.cString(argv.get(0)), block, keep, keep.length);
      throw new PosixException("execve " + argv.get(0), -r);
    }
  }
}
