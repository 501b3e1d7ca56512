package dev.papa.posix;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibC;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Becomes the keeper (src-c/keeper.c, shipped in the jar beside libpapa.so): its executable is
 * copied into a memfd (nothing on disk) and executed in this very pid, so whoever started this
 * JVM (a shell's {@code $!}, {@code --daemonize}, systemd's MainPID) sees the keeper's pid.
 */
public final class Keeper {
  private static final int O_RDONLY = 0, O_CLOEXEC = 02000000;

  private Keeper() {}

  /** The keeper executable's resource in the jar. */
  static String resource() {
    return "/" + Platform.RESOURCE_PREFIX + "/papa-keeper";
  }

  /**
   * execve of the keeper with {@code args} (its options, {@code --}, the daemon's command).
   * Returns only by throwing, with nothing changed.
   */
  public static void exec(List<String> args) throws IOException {
    byte[] image;
    try (InputStream in = Keeper.class.getResourceAsStream(resource())) {
      if (in == null) throw new IOException("the keeper executable " + resource() + " is not in the jar");
      image = in.readAllBytes();
    }
    int readOnly;
    try (Fd memfd = Memfd.create("papa-keeper")) {
      try (OutputStream out = Memfd.output(memfd.get())) {
        out.write(image);
      }
      // execve refuses a file open for writing (ETXTBSY): run it through a read-only descriptor
      readOnly = LibC.open(Errno.cString("/proc/self/fd/" + memfd.get()), O_RDONLY | O_CLOEXEC, 0);
      if (readOnly < 0) throw new PosixException("open memfd", Native.getLastError());
    }
    try (Fd ro = Fd.adopt(readOnly)) {
      List<String> argv = new ArrayList<>();
      argv.add("/proc/self/fd/" + ro.get()); // the title replaces it (ps shows "papa keeper")
      argv.addAll(args);
      Exec.reexec(argv, new int[0]);
    }
  }
}
