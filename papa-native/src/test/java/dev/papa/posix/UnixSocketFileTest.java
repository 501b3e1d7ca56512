package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnixSocketFileTest {
  @TempDir Path tmp;

  private static long attr(Path p, String name) throws Exception {
    return ((Number) Files.getAttribute(p, "unix:" + name, LinkOption.NOFOLLOW_LINKS)).longValue();
  }

  @Test
  void aBoundSocketNamesItsFileAndNoOther() throws Exception {
    Path a = tmp.resolve("a.sock"), b = tmp.resolve("b.sock");
    try (Fd sa = Sockets.bindUnix(Sockets.Type.STREAM, a.toString(), 4, null);
         Fd sb = Sockets.bindUnix(Sockets.Type.DGRAM, b.toString(), 0, null)) {
      long[] f = UnixSocketFile.of(sa.get());
      assertEquals(attr(a, "ino"), f[1], "the inode of a.sock");
      long dev = attr(a, "dev"); // the kernel reports it in its own form: major << 20 | minor
      assertEquals(((dev >>> 8) & 0xfff) << 20 | (dev & 0xff) | ((dev >>> 12) & 0xfff00), f[0], "the device of a.sock");
      assertTrue(UnixSocketFile.isBoundTo(sa.get(), attr(a, "dev"), attr(a, "ino")));
      assertFalse(UnixSocketFile.isBoundTo(sa.get(), attr(b, "dev"), attr(b, "ino")), "b.sock is another file");
      assertTrue(UnixSocketFile.isBoundTo(sb.get(), attr(b, "dev"), attr(b, "ino")), "a datagram socket too");
      Files.delete(a);
      Path again = tmp.resolve("a.sock");
      try (Fd other = Sockets.bindUnix(Sockets.Type.STREAM, again.toString(), 4, null)) {
        assertFalse(UnixSocketFile.isBoundTo(sa.get(), attr(again, "dev"), attr(again, "ino")),
            "a new file at the same path is not the one it was bound to");
      }
    }
  }

  @Test
  void anUnboundSocketOrAPipeNamesNoFile() throws Exception {
    Fd[] pair = Sockets.socketPair();
    Fd[] pipe = Io.pipe();
    try {
      assertNull(UnixSocketFile.of(pair[0].get()));
      assertNull(UnixSocketFile.of(pipe[0].get()));
    } finally {
      for (Fd f : new Fd[] {pair[0], pair[1], pipe[0], pipe[1]}) f.close();
    }
  }
}
