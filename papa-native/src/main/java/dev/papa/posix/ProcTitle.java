package dev.papa.posix;

import com.sun.jna.Pointer;
import dev.papa.posix.internal.LibPapa;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * setproctitle for the JVM, so {@code ps} and {@code top} show what a daemon is
 * ({@code papa daemon from LAUNCHER}) rather than a long java command line.
 * The title is written over the original argv area (found from /proc/self/stat
 * arg_start/arg_end), NUL-filled and truncated to fit; the environment after it
 * is never touched. The short name (comm, 15 bytes) is set for the calling thread
 * with prctl(PR_SET_NAME) and for the process through /proc/self/comm, because the
 * JVM runs main() on a thread other than the process's first one.
 */
public final class ProcTitle {
  private ProcTitle() {}

  /** Sets the title; failures (e.g. no /proc) are ignored: a title is cosmetic. */
  public static synchronized void set(String title) {
    byte[] t = title.getBytes(StandardCharsets.UTF_8);
    byte[] comm = Arrays.copyOf(t, utf8Prefix(t, 15));
    byte[] commZ = Arrays.copyOf(comm, comm.length + 1);
    LibPapa.papa_set_thread_name(commZ);
    try {
      Files.write(Path.of("/proc/self/comm"), comm);
    } catch (IOException | RuntimeException ignored) {
      // not fatal
    }
    try {
      String stat = Files.readString(Path.of("/proc/self/stat"));
      // Fields after "(comm)": the first is field 3 (state); arg_start is field 48, arg_end 49.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
      long argStart = Long.parseLong(f[48 - 3]);
      long argEnd = Long.parseLong(f[49 - 3]);
      long len = argEnd - argStart;
      if (argStart == 0 || len <= 1 || len > (1 << 20)) return;
      byte[] area = new byte[(int) len];  // all NULs
      int n = utf8Prefix(t, (int) len - 1);
      System.arraycopy(t, 0, area, 0, n);
      new Pointer(argStart).write(0, area, 0, area.length);
    } catch (IOException | RuntimeException ignored) {
      // not fatal
    }
  }

  /** Length of the longest prefix of utf8 no longer than max that does not split a character. */
  private static int utf8Prefix(byte[] utf8, int max) {
    if (utf8.length <= max) return utf8.length;
    int n = max;
    while (n > 0 && (utf8[n] & 0xC0) == 0x80) n--;
    return n;
  }
}
