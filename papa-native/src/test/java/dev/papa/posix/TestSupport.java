package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/** Helpers for tests against the real kernel: /proc inspection and child handling. */
final class TestSupport {
  static final Map<String, String> PATH_ENV = Map.of("PATH", "/usr/bin:/bin");

  private TestSupport() {}

  static TreeSet<Integer> fdsOf(String pid) throws IOException {
    TreeSet<Integer> s = new TreeSet<>();
    try (Stream<Path> st = Files.list(Path.of("/proc", pid, "fd"))) {
      st.forEach(p -> s.add(Integer.parseInt(p.getFileName().toString())));
    }
    return s;
  }

  /**
   * The child's descriptors once they equal {@code expected}, or whatever they are after 5 s.
   * Spawner returns when execve released it, which is before the kernel has closed the
   * child's close-on-exec descriptors; the new program never sees them, /proc briefly may.
   */
  static TreeSet<Integer> awaitFds(String pid, java.util.Set<Integer> expected) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    TreeSet<Integer> s = fdsOf(pid);
    while (!s.equals(expected) && System.nanoTime() < deadline) {
      Thread.sleep(5);
      s = fdsOf(pid);
    }
    return s;
  }

  /**
   * Our pipes, sockets, anonymous inodes (pidfds, epoll) and memfds, by number: what spawning
   * and descriptor passing make and could leak. Not the files other threads of this shared JVM
   * open and close when they like (class loading opens a jar, surefire its reports), which made
   * a comparison of the whole table fail now and then. The directory stream Files.list uses is
   * not one of them.
   */
  static java.util.TreeMap<Integer, String> selfPipesAndSockets() throws IOException {
    java.util.TreeMap<Integer, String> m = new java.util.TreeMap<>();
    for (int fd : fdsOf("self")) {
      try {
        String target = link("self", fd);
        if (target.startsWith("pipe:") || target.startsWith("socket:") || target.startsWith("anon_inode:")
            || target.startsWith("/memfd:")) {
          m.put(fd, target);
        }
      } catch (java.nio.file.NoSuchFileException e) {
        // closed meanwhile by another thread
      }
    }
    return m;
  }

  static String link(String pid, int fd) throws IOException {
    return Files.readSymbolicLink(Path.of("/proc", pid, "fd", Integer.toString(fd))).toString();
  }

  /** Children of every thread of this JVM (zombies included). */
  static TreeSet<Integer> children() throws IOException {
    TreeSet<Integer> s = new TreeSet<>();
    try (Stream<Path> st = Files.list(Path.of("/proc/self/task"))) {
      for (Path t : (Iterable<Path>) st::iterator) {
        try {
          for (String w : Files.readString(t.resolve("children")).trim().split("\\s+")) {
            if (!w.isEmpty()) s.add(Integer.parseInt(w));
          }
        } catch (IOException gone) {
          // thread exited meanwhile
        }
      }
    }
    return s;
  }

  static String statusField(int pid, String field) throws IOException {
    for (String l : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status"))) {
      if (l.startsWith(field + ":")) return l.substring(field.length() + 1).trim();
    }
    throw new AssertionError(field + " not in /proc/" + pid + "/status");
  }

  /** Reads a pipe until EOF (polling; the pipe is nonblocking). */
  static String readAll(Fd fd) throws Exception {
    ByteBuffer buf = ByteBuffer.allocateDirect(8192);
    StringBuilder sb = new StringBuilder();
    long deadline = System.nanoTime() + 10_000_000_000L;
    try (Epoll ep = new Epoll(1)) {
      ep.add(fd.get(), Epoll.IN, 0);
      for (;;) {
        int r = Io.read(fd.get(), buf.clear());
        if (r == Io.EOF) return sb.toString();
        if (r == Io.AGAIN) {
          assertTrue(System.nanoTime() < deadline, "timed out reading child output");
          ep.await(100);
          continue;
        }
        buf.flip();
        sb.append(StandardCharsets.UTF_8.decode(buf));
      }
    }
  }

  /** Output and exit status of a finished child; closes its descriptors. */
  static String run(SpawnSpec spec, int[] status) throws Exception {
    Child c = Spawner.spawn(spec);
    try (Fd out = c.stdout(); Fd err = c.stderr(); Fd pidfd = c.pidfd()) {
      String s = out == null ? "" : readAll(out);
      int st = Processes.waitFor(c.pid());
      if (status != null) status[0] = st;
      return s;
    }
  }

  static void killAndReap(Child c) throws Exception {
    try {
      Processes.kill(c.pid(), 9);
    } finally {
      Processes.waitFor(c.pid());
      for (Fd f : new Fd[] {c.pidfd(), c.stdout(), c.stderr()}) if (f != null) f.close();
    }
  }

  static SpawnSpec sleeper() {
    return new SpawnSpec(List.of("sleep", "30")).env(PATH_ENV);
  }

  static List<String> lines(String s) {
    List<String> l = new ArrayList<>();
    for (String x : s.split("\n")) if (!x.isEmpty()) l.add(x);
    return l;
  }
}
