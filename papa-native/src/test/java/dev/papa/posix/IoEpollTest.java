package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class IoEpollTest {
  @Test
  void readWriteDirectAndHeapBuffersWithPositions() throws Exception {
    Fd[] p = Io.pipe();
    try (Fd r = p[0]; Fd w = p[1]) {
      assertTrue(Io.isCloseOnExec(r.get()) && Io.isCloseOnExec(w.get()));
      ByteBuffer d = ByteBuffer.allocateDirect(64);
      assertEquals(Io.AGAIN, Io.read(r.get(), d));
      ByteBuffer src = ByteBuffer.allocateDirect(16);
      src.put("xxabcdef".getBytes(StandardCharsets.US_ASCII)).flip().position(2);
      assertEquals(6, Io.write(w.get(), src));
      assertEquals(8, src.position());
      ByteBuffer heap = ByteBuffer.wrap("--ghij".getBytes(StandardCharsets.US_ASCII)).position(2);
      assertEquals(4, Io.write(w.get(), heap));
      d.position(5);
      assertEquals(3, Io.read(r.get(), d.limit(8)));
      assertEquals(8, d.position());
      byte[] arr = new byte[20];
      ByteBuffer h = ByteBuffer.wrap(arr, 1, 19).slice().position(2);
      assertEquals(7, Io.read(r.get(), h));
      assertEquals("abc", StandardCharsets.US_ASCII.decode(d.flip().position(5)).toString());
      assertEquals("defghij", new String(arr, 3, 7, StandardCharsets.US_ASCII));
      w.close();
      assertEquals(Io.EOF, Io.read(r.get(), d.clear()));
      assertEquals(0, Io.read(r.get(), d.limit(0)));
    }
  }

  @Test
  void directBufferHotPathDoesNotAllocate() throws Exception {
    var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    Fd[] p = Io.pipe();
    try (Fd r = p[0]; Fd w = p[1]; Epoll ep = new Epoll(4)) {
      ep.add(r.get(), Epoll.IN, 5);
      ByteBuffer in = ByteBuffer.allocateDirect(64), out = ByteBuffer.allocateDirect(64);
      // Rounds until one allocates (next to) nothing, at most 100: what the JIT's escape analysis
      // removes is allocated until the compiled code is in, which on a busy machine (a second
      // build beside this one) took longer than one warm-up round. A call that allocates when
      // compiled fails every round.
      long allocated = Long.MAX_VALUE;
      for (int round = 0; round < 100 && allocated >= 20_000; round++) {
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 20_000; i++) {
          out.clear().limit(10);
          if (Io.write(w.get(), out) != 10) throw new AssertionError();
          if (ep.await(0) != 1 || ep.data(0) != 5) throw new AssertionError();
          if (Io.read(r.get(), in.clear()) != 10) throw new AssertionError();
          if (Io.read(r.get(), in.clear()) != Io.AGAIN) throw new AssertionError();
        }
        allocated = mx.getCurrentThreadAllocatedBytes() - before;
      }
      assertTrue(allocated < 20_000, "allocated " + allocated + " bytes for 80,000 calls");
    }
  }

  @Test
  void writeToPipeWithNoReaderIsEpipe() throws Exception {
    Fd[] p = Io.pipe();
    p[0].close();
    try (Fd w = p[1]) {
      PosixException e = assertThrows(PosixException.class, () -> Io.write(w.get(), ByteBuffer.wrap(new byte[1])));
      assertEquals(32, e.errno());
      assertEquals("write", e.call());
    }
  }

  @Test
  void fullPipeGivesAgain() throws Exception {
    Fd[] p = Io.pipe();
    try (Fd r = p[0]; Fd w = p[1]) {
      ByteBuffer b = ByteBuffer.allocateDirect(1 << 16);
      int total = 0, n;
      while ((n = Io.write(w.get(), b.clear())) != Io.AGAIN) total += n;
      assertTrue(total >= 4096);
      assertTrue(nonBlocking(w.get()));
      Io.setNonBlocking(w.get(), false);
      assertFalse(nonBlocking(w.get()));
      Io.setNonBlocking(w.get(), true);
      assertTrue(nonBlocking(w.get()));
      Io.setCloseOnExec(w.get(), false);
      assertFalse(Io.isCloseOnExec(w.get()));
      Io.setCloseOnExec(w.get(), true);
    }
  }

  @Test
  void epollOverThousandsOfPipes() throws Exception {
    int n = 3000;
    Fd[][] pipes = new Fd[n][];
    try (Epoll ep = new Epoll(256)) {
      for (int i = 0; i < n; i++) {
        pipes[i] = Io.pipe();
        ep.add(pipes[i][0].get(), Epoll.IN, 1_000_000_000_000L + i);
      }
      Set<Integer> expected = new HashSet<>();
      ByteBuffer one = ByteBuffer.allocateDirect(1);
      for (int i = 0; i < n; i += 7) {
        Io.write(pipes[i][1].get(), one.clear());
        expected.add(i);
      }
      Set<Integer> seen = new HashSet<>();
      ByteBuffer buf = ByteBuffer.allocateDirect(16);
      while (seen.size() < expected.size()) {
        int r = ep.await(2000);
        assertTrue(r > 0, "timed out with " + seen.size() + " of " + expected.size());
        for (int i = 0; i < r; i++) {
          assertEquals(Epoll.IN, ep.events(i) & Epoll.IN);
          int idx = (int) (ep.data(i) - 1_000_000_000_000L);
          assertTrue(seen.add(idx));
          assertEquals(1, Io.read(pipes[idx][0].get(), buf.clear()));
        }
      }
      assertEquals(expected, seen);
      assertEquals(0, ep.await(0));
      // HUP on a closed writer, modify and remove
      pipes[1][1].close();
      assertEquals(1, ep.await(1000));
      assertNotEquals(0, ep.events(0) & Epoll.HUP);
      ep.modify(pipes[1][0].get(), Epoll.IN | Epoll.ET, 7);
      ep.remove(pipes[1][0].get());
      ep.remove(pipes[1][0].get()); // ENOENT ignored
      assertEquals(0, ep.await(0));
      assertThrows(IndexOutOfBoundsException.class, () -> ep.events(0));
    } finally {
      for (Fd[] p : pipes) if (p != null) { p[0].close(); p[1].close(); }
    }
  }

  @Test
  void eventFdWakesAWaitingLoop() throws Exception {
    try (Epoll ep = new Epoll(4); Fd ev = Io.eventFd()) {
      assertTrue(Io.isCloseOnExec(ev.get()));
      ep.add(ev.get(), Epoll.IN, 99);
      Thread t = new Thread(() -> {
        try {
          Thread.sleep(50);
        } catch (InterruptedException ignored) {
          // done
        }
        Io.signalEventFd(ev.get());
        Io.signalEventFd(ev.get());
      });
      t.start();
      assertEquals(1, ep.await(5000));
      assertEquals(99, ep.data(0));
      t.join();
      Io.drainEventFd(ev.get());
      assertEquals(0, ep.await(0));
    }
  }

  @Test
  void fdOwnership() throws Exception {
    Fd n = Io.openDevNull();
    assertTrue(Io.isCloseOnExec(n.get()));
    int num = n.get();
    n.close();
    n.close();
    assertFalse(n.isOpen());
    assertThrows(IllegalStateException.class, n::get);
    assertThrows(PosixException.class, () -> Io.isCloseOnExec(num));
    Fd m = Io.openDevNull();
    int raw = m.release();
    assertFalse(m.isOpen());
    m.close();
    assertTrue(Io.isCloseOnExec(raw), "released descriptor stays open");
    Fd.adopt(raw).close();
  }

  @Test
  void rlimitsOfThisProcess() throws Exception {
    assertEquals(Rlimit.NOFILE, Rlimit.byName("nofile").orElseThrow());
    assertTrue(Rlimit.byName("bogus").isEmpty());
    assertEquals(7, Rlimit.NOFILE.resource());
    assertEquals(-1L, Rlimit.CPU.get()[1], "unlimited is -1");
    // set() in a JVM of its own (RlimitMain): a limit of the shared test JVM is never changed
    String jvm = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(jvm, "-cp", System.getProperty("java.class.path"), RlimitMain.class.getName())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
         var in = p.getOutputStream()) {
      String set = out.readLine();
      assertTrue(set != null && set.startsWith("set 0 "), "get() after set(0, hard): " + set);
      String limits = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + p.pid() + "/limits"));
      assertTrue(limits.lines().anyMatch(l -> l.matches("Max core file size\\s+0\\s.*")), "the kernel's view: " + limits);
      in.write('\n');
      in.flush();
      assertEquals("restored true", out.readLine());
    } finally {
      assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "RlimitMain did not end");
    }
    assertEquals(0, p.exitValue());
  }

  /** O_NONBLOCK as the kernel shows it: the octal "flags:" line of /proc/self/fdinfo/FD. */
  static boolean nonBlocking(int fd) throws java.io.IOException {
    for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/fdinfo/" + fd))) {
      if (line.startsWith("flags:")) return (Integer.parseInt(line.substring(6).trim(), 8) & 04000) != 0;
    }
    throw new AssertionError("no flags in /proc/self/fdinfo/" + fd);
  }
}
