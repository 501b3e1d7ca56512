package dev.papa.posix;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * A smoke test of the native layer for CI on another JDK (e.g. Java 25): loads
 * libc and libpapa through JNA, spawns /bin/echo with a pipe, reads it through
 * epoll, learns of the exit through its pidfd and reaps it. Exit status 0 and
 * "papa-native self-test OK" on success.
 */
public final class SelfTest {
  private SelfTest() {}

  public static void main(String[] args) throws Exception {
    String expected = "hello from papa";
    Child c = Spawner.spawn(new SpawnSpec(List.of("echo", expected)).env(Map.of("PATH", "/usr/bin:/bin"))
        .stderr(SpawnSpec.Output.NULL));
    StringBuilder out = new StringBuilder();
    Integer status = null;
    try (Epoll ep = new Epoll(8); Fd o = c.stdout(); Fd pidfd = c.pidfd()) {
      ep.add(o.get(), Epoll.IN, 1);
      ep.add(pidfd.get(), Epoll.IN, 2);
      ByteBuffer buf = ByteBuffer.allocateDirect(4096);
      boolean eof = false;
      long deadline = System.nanoTime() + 10_000_000_000L;
      while ((!eof || status == null) && System.nanoTime() < deadline) {
        int n = ep.await(1000);
        for (int i = 0; i < n; i++) {
          if (ep.data(i) == 1) {
            int r;
            while ((r = Io.read(o.get(), buf.clear())) > 0) {
              buf.flip();
              out.append(StandardCharsets.UTF_8.decode(buf));
            }
            if (r == Io.EOF) {
              eof = true;
              ep.remove(o.get());
            }
          } else {
            status = Processes.reap(c.pid());
            ep.remove(pidfd.get());
          }
        }
      }
    }
    if (status == null || status != 0 || !out.toString().equals(expected + "\n")) {
      System.out.println("papa-native self-test FAILED: status=" + status + " output=" + out);
      System.exit(1);
    }
    System.out.println("papa-native self-test OK");
  }
}
