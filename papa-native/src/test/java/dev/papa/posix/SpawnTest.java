package dev.papa.posix;

import static dev.papa.posix.TestSupport.*;
import static org.junit.jupiter.api.Assertions.*;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.papa.posix.SpawnSpec.Output;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpawnTest {
  @TempDir Path tmp;

  @Test
  void echoThroughPipeAndExitStatuses() throws Exception {
    int[] st = new int[1];
    assertEquals("hi there\n", run(new SpawnSpec(List.of("/bin/echo", "hi", "there")), st));
    assertEquals(0, st[0]);
    run(new SpawnSpec(List.of("/bin/sh", "-c", "exit 3")), st);
    assertEquals(3, st[0]);
    run(new SpawnSpec(List.of("/bin/sh", "-c", "kill -9 $$")), st);
    assertEquals(-9, st[0]);
  }

  @Test
  void childDescriptorsInTheParentAreCloexecAndReadEndsNonblocking() throws Exception {
    Child c = Spawner.spawn(sleeper());
    try {
      for (Fd f : new Fd[] {c.pidfd(), c.stdout(), c.stderr()}) assertTrue(Io.isCloseOnExec(f.get()));
      for (Fd f : new Fd[] {c.stdout(), c.stderr()}) {
        String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + f.get())).get(1);
        int fl = Integer.parseInt(flags.replaceAll("\\D", ""), 8);
        assertNotEquals(0, fl & 04000, "O_NONBLOCK on " + f);
      }
    } finally {
      killAndReap(c);
    }
  }

  @Test
  void environmentIsExactlyWhatIsGiven() throws Exception {
    assertEquals("", run(new SpawnSpec(List.of("/usr/bin/env")), null));
    Map<String, String> env = new LinkedHashMap<>();
    env.put("ZED", "1");
    env.put("A", "x=y z");
    env.put("EMPTY", "");
    assertEquals("ZED=1\nA=x=y z\nEMPTY=\n", run(new SpawnSpec(List.of("/usr/bin/env")).env(env), null));
  }

  @Test
  void listenPidIsTheChildsPid() throws Exception {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("LISTEN_PID", "bogus");
    env.put("LISTEN_FDS", "1");
    Child c = Spawner.spawn(new SpawnSpec(List.of("/usr/bin/env")).env(env).listenPid(true));
    String out = readAll(c.stdout());
    assertEquals(0, Processes.waitFor(c.pid()));
    assertEquals(List.of("LISTEN_FDS=1", "LISTEN_PID=" + c.pid()), lines(out));
    c.stdout().close(); c.stderr().close(); c.pidfd().close();
  }

  @Test
  void stdinFromAGivenDescriptor() throws Exception {
    Fd[] p = Io.pipe();
    try {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(16);
      b.put("fed in\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).flip();
      assertEquals(7, Io.write(p[1].get(), b));
      p[1].close(); // cat sees end of file after the line: the child holds no write end
      assertEquals("fed in\n", run(new SpawnSpec(List.of("/bin/cat")).stdin(p[0].get()), null));
      // the daemon's descriptor is still its own and still open
      assertTrue(p[0].isOpen());
      assertTrue(Io.isCloseOnExec(p[0].get()));
    } finally {
      p[0].close();
      p[1].close();
    }
    // without stdin(): /dev/null
    assertEquals("", run(new SpawnSpec(List.of("/bin/cat")), null));
  }

  @Test
  void pathLookup() throws Exception {
    // No PATH in the env: /bin:/usr/bin
    assertEquals("x\n", run(new SpawnSpec(List.of("echo", "x")), null));
    assertEquals("y\n", run(new SpawnSpec(List.of("echo", "y")).env(Map.of("PATH", "/nonexistent::/usr/bin")), null));
    // A non-executable candidate is skipped; EACCES is reported when nothing runs.
    Path a = Files.createDirectory(tmp.resolve("a")), b = Files.createDirectory(tmp.resolve("b"));
    Files.writeString(a.resolve("prog"), "#!/bin/sh\necho from-a\n");
    Files.writeString(b.resolve("prog"), "#!/bin/sh\necho from-b\n");
    Files.setPosixFilePermissions(b.resolve("prog"), PosixFilePermissions.fromString("rwxr-xr-x"));
    assertEquals("from-b\n", run(new SpawnSpec(List.of("prog")).env(Map.of("PATH", a + ":" + b)), null));
    SpawnException e = assertThrows(SpawnException.class,
        () -> Spawner.spawn(new SpawnSpec(List.of("prog")).env(Map.of("PATH", a + ":/nonexistent"))));
    assertEquals(SpawnException.Step.EXEC, e.step());
    assertEquals(13, e.errno());
    e = assertThrows(SpawnException.class,
        () -> Spawner.spawn(new SpawnSpec(List.of("no-such-program-here")).env(Map.of("PATH", "/nonexistent:/bin"))));
    assertEquals(SpawnException.Step.EXEC, e.step());
    assertEquals(2, e.errno());
    assertEquals("exec failed: No such file or directory (errno 2)", e.getMessage());
    assertEquals("exec", e.call());
  }

  @Test
  void stderrMergedOrDiscarded() throws Exception {
    List<String> cmd = List.of("/bin/sh", "-c", "echo out; echo err >&2");
    Child c = Spawner.spawn(new SpawnSpec(cmd).stderr(Output.STDOUT));
    assertNull(c.stderr());
    assertEquals("out\nerr\n", readAll(c.stdout()));
    Processes.waitFor(c.pid());
    c.stdout().close(); c.pidfd().close();

    c = Spawner.spawn(new SpawnSpec(cmd).stderr(Output.NULL));
    assertEquals("out\n", readAll(c.stdout()));
    Processes.waitFor(c.pid());
    c.stdout().close(); c.pidfd().close();

    c = Spawner.spawn(new SpawnSpec(cmd));
    assertEquals("out\n", readAll(c.stdout()));
    assertEquals("err\n", readAll(c.stderr()));
    Processes.waitFor(c.pid());
    c.stdout().close(); c.stderr().close(); c.pidfd().close();

    c = Spawner.spawn(new SpawnSpec(cmd).stdout(Output.NULL).stderr(Output.STDOUT));
    assertNull(c.stdout());
    assertNull(c.stderr());
    assertEquals(0, Processes.waitFor(c.pid()));
    c.pidfd().close();
  }

  @Test
  void workingDirAndUmask() throws Exception {
    assertEquals(tmp.toRealPath() + "\n", run(new SpawnSpec(List.of("/bin/pwd")).workingDir(tmp.toString()), null));
    assertEquals("0027\n", run(new SpawnSpec(List.of("/bin/sh", "-c", "umask")).umask(027), null));
  }
  /**
   * A spawn without a umask gets the one the process started with, never the 077 a bind on
   * another thread sets for a moment. In a JVM of its own (UmaskMain): the umask is process-wide.
   */
  @Test
  void aSpawnNeverInheritsTheUmaskOfAConcurrentBind() throws Exception {
    String jvm = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder("/bin/sh", "-c", "umask 022 && exec \"$0\" -cp \"$1\" " + UmaskMain.class.getName(),
        jvm, System.getProperty("java.class.path")).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "UmaskMain did not end");
    assertEquals(0, p.exitValue(), out);
    assertEquals("0022\n", out, "the umasks the children had");
  }


  /** By default the directory is entered with the caller's rights, before it becomes the user. */
  @Test
  void workingDirIsEnteredBeforeTheIdentityChange() throws Exception {
    Path root = Files.createDirectory(tmp.resolve("rootonly"));
    Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
    assertEquals(root.toRealPath() + "\n65534\n", run(new SpawnSpec(List.of("/bin/sh", "-c", "pwd; id -u"))
        .env(java.util.Map.of("PATH", "/bin:/usr/bin")).uid(65534).gid(65534).groups(new int[0])
        .workingDir(root.toString()), null));
  }

  @Test
  void softAndHardLimitsApart() throws Exception {
    Child c = Spawner.spawn(sleeper().rlimit(Rlimit.NOFILE, 700, 900));
    try {
      List<String> limits = Files.readAllLines(Path.of("/proc/" + c.pid() + "/limits"));
      assertTrue(limits.stream().anyMatch(l -> l.matches("Max open files\\s+700\\s+900\\s+files\\s*")), limits.toString());
    } finally {
      killAndReap(c);
    }
  }

  /** Limits set after the identity change can only be what the new user could set itself. */
  @Test
  void limitsAfterIdentityCannotRaiseTheHardLimit() throws Exception {
    // RLIMIT_MSGQUEUE: its hard limit is finite and root may raise it (nofile may already be at nr_open)
    String line = Files.readAllLines(Path.of("/proc/self/limits")).stream()
        .filter(l -> l.startsWith("Max msgqueue size")).findFirst().orElseThrow();
    long hard = Long.parseLong(line.trim().split("\\s+")[4]);
    SpawnSpec raised = sleeper().uid(65534).gid(65534).groups(new int[0]).rlimit(Rlimit.MSGQUEUE, 64, hard + 1);
    SpawnException e = assertThrows(SpawnException.class, () -> Spawner.spawn(raised.limitsAfterIdentity(true)));
    assertEquals(SpawnException.Step.RLIMIT, e.step());
    assertEquals(1, e.errno()); // EPERM
    // lowering is fine as the user
    Child low = Spawner.spawn(sleeper().uid(65534).gid(65534).groups(new int[0]).rlimit(Rlimit.MSGQUEUE, 64, hard - 1)
        .limitsAfterIdentity(true));
    try {
      assertTrue(Files.readAllLines(Path.of("/proc/" + low.pid() + "/limits")).stream()
          .anyMatch(l -> l.matches("Max msgqueue size\\s+64\\s+" + (hard - 1) + "\\s+bytes\\s*")));
    } finally {
      killAndReap(low);
    }
    // With the caller's rights first, a caller holding CAP_SYS_RESOURCE raises it (a container may not grant that).
    Assumptions.assumeTrue(hasCapability(24), "no CAP_SYS_RESOURCE here: root cannot raise hard limits either");
    Child high = Spawner.spawn(raised.limitsAfterIdentity(false));
    try {
      assertTrue(Files.readAllLines(Path.of("/proc/" + high.pid() + "/limits")).stream()
          .anyMatch(l -> l.matches("Max msgqueue size\\s+64\\s+" + (hard + 1) + "\\s+bytes\\s*")));
    } finally {
      killAndReap(high);
    }
  }

  static boolean hasCapability(int bit) throws java.io.IOException {
    String eff = Files.readAllLines(Path.of("/proc/self/status")).stream()
        .filter(l -> l.startsWith("CapEff:")).findFirst().orElseThrow().substring(7).trim();
    return (Long.parseUnsignedLong(eff, 16) & (1L << bit)) != 0;
  }

  @Test
  void runsAsNobodyWithItsGroups() throws Exception {
    Child c = Spawner.spawn(sleeper().uid(65534).gid(65534).groups(new int[] {65534}));
    try {
      assertEquals("65534\t65534\t65534\t65534", statusField(c.pid(), "Uid"));
      assertEquals("65534\t65534\t65534\t65534", statusField(c.pid(), "Gid"));
      assertEquals("65534", statusField(c.pid(), "Groups"));
    } finally {
      killAndReap(c);
    }
  }

  @Test
  void newSessionLeaderWithDefaultSignalsAndLimits() throws Exception {
    Child c = Spawner.spawn(sleeper().rlimit(Rlimit.NOFILE, 1000).rlimit(Rlimit.CORE, 0)
        .rlimit(Rlimit.CPU, -1));
    try {
      String stat = Files.readString(Path.of("/proc/" + c.pid() + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      assertEquals(Integer.toString(c.pid()), f[6 - 3], "session id");
      List<String> limits = Files.readAllLines(Path.of("/proc/" + c.pid() + "/limits"));
      assertTrue(limits.stream().anyMatch(l -> l.matches("Max open files\\s+1000\\s+1000\\s+files\\s*")), limits.toString());
      assertTrue(limits.stream().anyMatch(l -> l.matches("Max core file size\\s+0\\s+0\\s+bytes\\s*")), limits.toString());
      assertTrue(limits.stream().anyMatch(l -> l.matches("Max cpu time\\s+unlimited\\s+unlimited\\s+seconds\\s*")));
    } finally {
      killAndReap(c);
    }
    c = Spawner.spawn(sleeper().newSession(false));
    try {
      String stat = Files.readString(Path.of("/proc/" + c.pid() + "/stat"));
      String self = Files.readString(Path.of("/proc/self/stat"));
      assertEquals(self.substring(self.lastIndexOf(')') + 2).split(" ")[3],
          stat.substring(stat.lastIndexOf(')') + 2).split(" ")[3], "same session as the parent");
    } finally {
      killAndReap(c);
    }
  }

  /** Test-only libc calls to give the spawning thread ignored and blocked signals. */
  interface Sig extends Library {
    Sig C = Native.load("c", Sig.class);
    Pointer signal(int sig, Pointer handler);
    int pthread_sigmask(int how, long[] set, long[] old);
  }

  @Test
  void signalDispositionsAndMaskAreReset() throws Exception {
    int SIGWINCH = 28, SIGUSR1 = 10, SIGHUP = 1, SIG_BLOCK = 0, SIG_SETMASK = 2;
    Pointer oldWinch = Sig.C.signal(SIGWINCH, new Pointer(1)); // SIG_IGN, process-wide
    AtomicReference<Object> result = new AtomicReference<>();
    Thread t = new Thread(() -> {
      long[] old = new long[16];
      long[] set = new long[16];
      set[0] = (1L << (SIGUSR1 - 1)) | (1L << (SIGHUP - 1));
      Sig.C.pthread_sigmask(SIG_BLOCK, set, old);
      try {
        Child c = Spawner.spawn(sleeper());
        result.set(c);
      } catch (Throwable e) {
        result.set(e);
      } finally {
        Sig.C.pthread_sigmask(SIG_SETMASK, old, null);
      }
    });
    try {
      t.start();
      t.join();
    } finally {
      Sig.C.signal(SIGWINCH, oldWinch);
    }
    if (result.get() instanceof Throwable e) throw new AssertionError(e);
    Child c = (Child) result.get();
    try {
      assertEquals("0000000000000000", statusField(c.pid(), "SigIgn"));
      assertEquals("0000000000000000", statusField(c.pid(), "SigBlk"));
      assertEquals("0000000000000000", statusField(c.pid(), "SigCgt"));
    } finally {
      killAndReap(c);
    }
  }

  @Test
  void inheritedSocketAtItsOwnNumberAndNothingElse() throws Exception {
    try (Fd sock = Sockets.bindInet(Sockets.Family.INET, Sockets.Type.STREAM,
        java.net.InetAddress.getLoopbackAddress(), 0, 5, false, null)) {
      Child c = Spawner.spawn(sleeper().keepFd(sock.get()));
      try {
        String pid = Integer.toString(c.pid());
        assertEquals(new TreeSet<>(Set.of(0, 1, 2, sock.get())), awaitFds(pid, Set.of(0, 1, 2, sock.get())));
        assertEquals(link("self", sock.get()), link(pid, sock.get()));
        assertEquals("/dev/null", link(pid, 0));
        assertEquals(link("self", c.stdout().get()), link(pid, 1));
        assertEquals(link("self", c.stderr().get()), link(pid, 2));
        assertTrue(Io.isCloseOnExec(sock.get()), "still close-on-exec in the parent");
      } finally {
        killAndReap(c);
      }
    }
  }

  @Test
  void passFdsAtChosenNumbersWithOverlaps() throws Exception {
    Fd[] p1 = Io.pipe(), p2 = Io.pipe(), p3 = Io.pipe();
    try {
      int x = p1[0].get(), y = p2[0].get();
      // swap x and y, and put p3's read end at 3 and its write end at 4 (which may be any of the above)
      SpawnSpec spec = sleeper().passFd(x, y).passFd(y, x).passFd(p3[0].get(), 3).passFd(p3[1].get(), 4);
      Child c = Spawner.spawn(spec);
      try {
        String pid = Integer.toString(c.pid());
        assertEquals(new TreeSet<>(Set.of(0, 1, 2, 3, 4, x, y)), awaitFds(pid, Set.of(0, 1, 2, 3, 4, x, y)));
        assertEquals(link("self", x), link(pid, y));
        assertEquals(link("self", y), link(pid, x));
        assertEquals(link("self", p3[0].get()), link(pid, 3));
        assertEquals(link("self", p3[1].get()), link(pid, 4));
        // not close-on-exec in the child: they survived exec, so that is shown by their presence
      } finally {
        killAndReap(c);
      }
      // And onto 0..2-adjacent low numbers from a source that is itself 3 or 4, if any.
      int[] st = new int[1];
      String out = run(new SpawnSpec(List.of("/bin/sh", "-c", "ls -l /proc/self/fd/5 | sed 's/.*-> //'"))
          .passFd(p3[1].get(), 5), st);
      assertEquals(link("self", p3[1].get()) + "\n", out);
    } finally {
      for (Fd f : new Fd[] {p1[0], p1[1], p2[0], p2[1], p3[0], p3[1]}) f.close();
    }
  }

  @Test
  void failuresReportStepAndErrno() throws Exception {
    SpawnException e = assertThrows(SpawnException.class, () -> Spawner.spawn(new SpawnSpec(List.of("/nonexistent/prog"))));
    assertEquals(SpawnException.Step.EXEC, e.step());
    assertEquals(2, e.errno());
    e = assertThrows(SpawnException.class, () -> Spawner.spawn(new SpawnSpec(List.of("/etc/passwd"))));
    assertEquals(SpawnException.Step.EXEC, e.step());
    assertEquals(13, e.errno());
    e = assertThrows(SpawnException.class, () -> Spawner.spawn(sleeper().workingDir("/nonexistent-dir")));
    assertEquals(SpawnException.Step.CHDIR, e.step());
    assertEquals("chdir failed: No such file or directory (errno 2)", e.getMessage());
    e = assertThrows(SpawnException.class, () -> Spawner.spawn(sleeper().rlimit(Rlimit.NOFILE, 1L << 40)));
    assertEquals(SpawnException.Step.RLIMIT, e.step());
    e = assertThrows(SpawnException.class, () -> Spawner.spawn(sleeper().groups(new int[70000])));
    assertEquals(SpawnException.Step.SETGROUPS, e.step());
    assertEquals(22, e.errno());
    // Entering the directory after the identity change: as nobody, a root-only directory fails.
    Path root = Files.createDirectory(tmp.resolve("rootonly"));
    Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
    e = assertThrows(SpawnException.class, () -> Spawner.spawn(sleeper().uid(65534).gid(65534).groups(new int[0])
        .workingDir(root.toString()).workingDirAfterIdentity(true)));
    assertEquals(SpawnException.Step.CHDIR, e.step());
    assertEquals(13, e.errno());
    e = assertThrows(SpawnException.class, () -> Spawner.spawn(new SpawnSpec(List.of("a\0b"))));
    assertEquals(SpawnException.Step.PREPARE, e.step());
  }

  @Test
  void thousandFailingSpawnsLeaveNoDescriptorAndNoChild() throws Exception {
    Fd sock = Sockets.bindInet(Sockets.Family.INET, Sockets.Type.STREAM,
        java.net.InetAddress.getLoopbackAddress(), 0, 5, false, null);
    try {
      Spawner.spawn(sleeper().workingDir("/nonexistent")); // warm up classes, scratch buffers
    } catch (SpawnException expected) {
      // fine
    }
    java.util.TreeMap<Integer, String> fdsBefore = selfPipesAndSockets();
    TreeSet<Integer> kidsBefore = children();
    for (int i = 0; i < 1000; i++) {
      SpawnSpec s = switch (i % 4) {
        case 0 -> new SpawnSpec(List.of("/nonexistent/prog"));
        case 1 -> sleeper().workingDir("/nonexistent");
        case 2 -> sleeper().rlimit(Rlimit.NOFILE, 1L << 40).passFd(sock.get(), 3).stderr(Output.STDOUT);
        default -> new SpawnSpec(List.of("no-such-prog")).env(Map.of("PATH", "/a:/b:/c")).keepFd(sock.get());
      };
      assertThrows(SpawnException.class, () -> Spawner.spawn(s));
    }
    assertEquals(fdsBefore, selfPipesAndSockets());
    assertEquals(kidsBefore, children());
    sock.close();
  }

  @Test
  void pidfdsInEpollReportManyExits() throws Exception {
    int n = 200;
    Map<Long, Child> kids = new HashMap<>();
    try (Epoll ep = new Epoll(64)) {
      for (int i = 0; i < n; i++) {
        Child c = Spawner.spawn(new SpawnSpec(List.of("/bin/sh", "-c", "exit " + (i % 7)))
            .stdout(Output.NULL).stderr(Output.NULL));
        kids.put((long) i, c);
        ep.add(c.pidfd().get(), Epoll.IN, i);
      }
      int seen = 0;
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (seen < n) {
        assertTrue(System.nanoTime() < deadline, "only " + seen + " exits seen");
        int r = ep.await(1000);
        for (int i = 0; i < r; i++) {
          long idx = ep.data(i);
          Child c = kids.get(idx);
          Integer status = Processes.reap(c.pid());
          assertNotNull(status, "pidfd readable means exited");
          assertEquals((int) (idx % 7), status);
          ep.remove(c.pidfd().get());
          c.pidfd().close();
          seen++;
        }
      }
    }
    for (Child c : kids.values()) assertFalse(Files.exists(Path.of("/proc/" + c.pid())), "zombie " + c.pid());
  }

  @Test
  void reapReturnsNullWhileRunning() throws Exception {
    Child c = Spawner.spawn(sleeper());
    try {
      assertNull(Processes.reap(c.pid()));
      Fd again = Processes.pidfdOpen(c.pid());
      assertTrue(Io.isCloseOnExec(again.get()));
      again.close();
    } finally {
      killAndReap(c);
    }
    PosixException e = assertThrows(PosixException.class, () -> Processes.reap(c.pid()));
    assertEquals(10, e.errno()); // ECHILD: reaped already
  }
}
