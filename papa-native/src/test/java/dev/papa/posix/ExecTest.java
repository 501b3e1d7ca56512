package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ExecTest {
  @Test
  void reexecKeepsThePidAndExactlyTheGivenDescriptors() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED",
        "-cp", System.getProperty("java.class.path"), ExecMain.class.getName()))
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    String[] lines = out.split("\n");
    assertTrue(lines[0].startsWith("pid " + p.pid() + " memfd "), out);
    String memfd = lines[0].substring(lines[0].lastIndexOf(' ') + 1);
    assertEquals("pid " + p.pid(), lines[1], "same pid after exec: " + out);
    // 0-2 and the memfd: nothing of the JVM's (its jars, its pipe, its epoll...).
    int end = List.of(lines).indexOf("end");
    assertEquals(Set.of("0", "1", "2", memfd), Set.copyOf(List.of(lines).subList(2, end)), "descriptors after exec: " + out);
    assertEquals("state", lines[end + 1], out);
    assertEquals("SigBlk:\t0000000000000000", lines[end + 2], "no signal blocked: " + out);
    assertEquals(0, p.exitValue(), out);
  }

  @Test
  void failedReexecChangesNothing() throws Exception {
    Fd memfd = Memfd.create("papa-test");
    try {
      assertTrue(Io.isCloseOnExec(memfd.get()));
      PosixException e = assertThrows(PosixException.class,
          () -> Exec.reexec(List.of("/nonexistent/program"), new int[] {memfd.get()}));
      assertEquals(2, e.errno()); // ENOENT
      assertTrue(Io.isCloseOnExec(memfd.get()), "kept descriptor is close-on-exec again");
    } finally {
      memfd.close();
    }
  }

  @Test
  void sealedMemfdReadsBackAndRefusesWrites() throws Exception {
    try (Fd memfd = Memfd.create("papa-test")) {
      byte[] data = new byte[200_000];
      for (int i = 0; i < data.length; i++) data[i] = (byte) i;
      try (OutputStream out = Memfd.output(memfd.get())) {
        out.write(data);
      }
      assertFalse(Memfd.isSealed(memfd.get()));
      Memfd.seal(memfd.get());
      assertTrue(Memfd.isSealed(memfd.get()));
      try (InputStream in = Memfd.input(memfd.get())) {
        assertArrayEquals(data, in.readAllBytes());
      }
      assertThrows(IOException.class, () -> {
        try (OutputStream out = Memfd.output(memfd.get())) {
          out.write(1);
        }
      });
    }
  }

  @Test
  void writeAtAppendsAndTheShrinkSealKeepsWhatWasWritten() throws Exception {
    try (Fd memfd = Memfd.create("papa-test")) {
      byte[] base = new byte[100_000];
      for (int i = 0; i < base.length; i++) base[i] = (byte) (i * 7);
      try (OutputStream out = Memfd.output(memfd.get())) {
        out.write(base);
      }
      Memfd.sealShrink(memfd.get());
      assertFalse(Memfd.isSealed(memfd.get()), "still writable");
      byte[] frame = "appended".getBytes(StandardCharsets.US_ASCII);
      Memfd.writeAt(memfd.get(), frame, base.length);
      Memfd.writeAt(memfd.get(), frame, base.length + frame.length);
      byte[] expected = new byte[base.length + 2 * frame.length];
      System.arraycopy(base, 0, expected, 0, base.length);
      System.arraycopy(frame, 0, expected, base.length, frame.length);
      System.arraycopy(frame, 0, expected, base.length + frame.length, frame.length);
      try (InputStream in = Memfd.input(memfd.get())) {
        assertArrayEquals(expected, in.readAllBytes());
      }
      // a truncation (what would cut the base away) is refused: opening for writing truncates
      assertThrows(IOException.class, () -> java.nio.file.Files.newOutputStream(
          Path.of("/proc/self/fd/" + memfd.get()), java.nio.file.StandardOpenOption.WRITE,
          java.nio.file.StandardOpenOption.TRUNCATE_EXISTING).close());
      PosixException bad = assertThrows(PosixException.class, () -> Memfd.writeAt(-1, frame, 0));
      assertEquals(9, bad.errno()); // EBADF
    }
  }
}
