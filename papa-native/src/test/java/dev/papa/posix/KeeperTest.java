package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The keeper (src-c/keeper.c) against a stand-in JVM written in Python
 * (src/test/resources/keeper/fake_jvm.py), which sends exactly the bytes a test wants, malformed
 * ones included: restarts and their pauses, descriptors handed back at their numbers, exit
 * statuses kept until acknowledged, the exit statuses of a stop, and fuzzed messages.
 */
class KeeperTest {
  @TempDir Path dir;
  private Process keeper;
  private final List<Integer> strays = new ArrayList<>();

  static Path keeperBinary() throws URISyntaxException {
    return Path.of(KeeperTest.class.getResource(Keeper.resource()).toURI());
  }

  static Path fakeJvm() throws URISyntaxException {
    return Path.of(KeeperTest.class.getResource("/keeper/fake_jvm.py").toURI());
  }

  @BeforeEach
  void checkPython() {
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3"))
        || System.getenv("PATH").contains("python"), "needs python3");
  }

  @AfterEach
  void stop() throws Exception {
    for (int pid : strays) {
      try {
        Processes.kill(pid, 9);
      } catch (IOException gone) {
        // exited
      }
    }
    if (keeper != null && keeper.isAlive()) {
      keeper.destroy(); // SIGTERM: forwarded to the fake JVM, which ends; then the keeper
      if (!keeper.waitFor(10, TimeUnit.SECONDS)) {
        keeper.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
        keeper.destroyForcibly();
        keeper.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  private Process start(String... plan) throws Exception {
    return start(Map.of(), plan);
  }

  private Process start(Map<String, String> env, String... plan) throws Exception {
    Files.writeString(dir.resolve("plan"), String.join("\n", plan) + "\n");
    ProcessBuilder pb = new ProcessBuilder(keeperBinary().toString(), "--", "python3", fakeJvm().toString(), dir.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("keeper.log").toFile());
    pb.environment().putAll(env);
    keeper = pb.start();
    return keeper;
  }

  /** The next datagram on a notify socket (systemd's stand-in), or null after 10 s. */
  private static String notification(Fd socket) throws PosixException {
    try {
      return new String(Sockets.receiveFds(socket.get(), 4096, 0).data(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (PosixException e) {
      if (e.errno() == dev.papa.posix.internal.Errno.EAGAIN) return null;
      throw e;
    }
  }

  /**
   * Under systemd (NOTIFY_SOCKET, a real datagram socket here) the keeper says READY=1 when the
   * daemon serves, STATUS= with the figures of a valid KM_ALIVE only (a hostile one, out of range
   * or carrying descriptors, is ignored and closes them), and STOPPING=1 at SIGTERM; the JVM it
   * starts does not see NOTIFY_SOCKET.
   */
  @Test
  void notifiesSystemdAndTakesOnlyValidFigures() throws Exception {
    Path address = dir.resolve("notify");
    try (Fd socket = Sockets.bindUnix(Sockets.Type.DGRAM, address.toString(), 0, null)) {
      Sockets.setReceiveTimeout(socket.get(), 10_000);
      start(Map.of("NOTIFY_SOCKET", address.toString()),
          "serve",
          "mark served",
          "wait-file bad",
          "alive -1 0 0",
          "alive 0 2147483648 0",
          "alive 0 0 -1",
          "alive 1 1 1 2",
          "alive 3 2 100",
          "mark figures",
          "wait-term");
      int jvm = report(0).value("pid");
      assertEquals("READY=1\nSTATUS=serving (daemon pid " + jvm + ")", notification(socket));
      String environ = Files.readString(Path.of("/proc/" + jvm + "/environ"));
      assertFalse(environ.contains("NOTIFY_SOCKET"), "the JVM's environment: " + environ);
      int fdsBefore = keeperFds();
      Files.createFile(dir.resolve("bad"));
      await(() -> Files.exists(dir.resolve("figures")), "the figures sent");
      assertEquals("STATUS=serving: 3 processes, 2 sockets, 100 bytes queued", notification(socket), "only the valid figures");
      assertEquals(fdsBefore, keeperFds(), "the descriptors of the refused KM_ALIVE were closed");
      assertTrue(log().contains("alive with figures 1, 1, 1 and 2 descriptors: ignored"), log());
      keeper.destroy();
      assertEquals("STOPPING=1\nSTATUS=stopping: SIGTERM", notification(socket));
      assertTrue(keeper.waitFor(10, TimeUnit.SECONDS));
      assertEquals(143, keeper.exitValue());
    }
  }

  /** What start N of the fake JVM received, once it wrote it down. */
  private Report report(int n) throws Exception {
    Path p = dir.resolve("jvm-" + n + ".txt");
    await(() -> Files.exists(p), "start " + n + " of the daemon");
    return new Report(Files.readAllLines(p), Files.getLastModifiedTime(p).toMillis());
  }

  record Report(List<String> lines, long writtenMillis) {
    int value(String key) {
      return lines.stream().filter(l -> l.startsWith(key + " ")).map(l -> Integer.parseInt(l.split(" ")[1])).findFirst().orElseThrow();
    }

    /** id to what /proc/self/fd/ID was in that JVM. */
    Map<Integer, String> held() {
      Map<Integer, String> m = new TreeMap<>();
      for (String l : lines) if (l.startsWith("held ")) m.put(Integer.parseInt(l.split(" ")[1]), l.split(" ", 4)[3]);
      return m;
    }

    /** pid to wait status of each exit reported at its start. */
    Map<Integer, Integer> exits() {
      Map<Integer, Integer> m = new TreeMap<>();
      for (String l : lines) if (l.startsWith("exited ")) m.put(Integer.parseInt(l.split(" ")[1]), Integer.parseInt(l.split(" ")[2]));
      return m;
    }
  }

  private void await(BooleanSupplier condition, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what + "; keeper's children " + keeper.toHandle().children()
            .map(h -> h.pid() + " " + h.info().commandLine().orElse("?") + " " + read(Path.of("/proc/" + h.pid() + "/wchan"))).toList()
            + "; files " + Files.list(dir).map(p -> p.getFileName().toString()).toList() + "; keeper log:\n" + log());
      }
      if (!keeper.isAlive() && !what.startsWith("keeper end")) throw new AssertionError("keeper died (" + keeper.exitValue() + ") waiting for " + what + ":\n" + log());
      Thread.sleep(5); // polling files the fake JVM writes
    }
  }

  private String log() {
    try {
      return Files.readString(dir.resolve("keeper.log"));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private int keeperFds() throws IOException {
    return TestSupport.fdsOf(Long.toString(keeper.pid())).size();
  }

  private int pidFile(String name) throws Exception {
    Path p = dir.resolve(name + ".pid");
    await(() -> Files.exists(p) && !read(p).isEmpty(), name + ".pid");
    int pid = Integer.parseInt(read(p));
    strays.add(pid);
    return pid;
  }

  private static String read(Path p) {
    try {
      return Files.readString(p).trim();
    } catch (IOException e) {
      return "";
    }
  }

  private static boolean alive(int pid) {
    return Files.exists(Path.of("/proc/" + pid));
  }

  @Test
  void descriptorsComeBackAtTheirNumbersAndAReleaseClosesThem() throws Exception {
    Path file = dir.resolve("held-file");
    start("only-start 0 hold-file 10 " + file,
        "only-start 0 hold-pipe 11 writer",
        "serve",
        "only-start 0 mark registered",
        "only-start 0 wait-file go0",
        "only-start 0 kill-self 9",
        "only-start 1 read 11 read1",
        "only-start 1 release 10",
        "only-start 1 mark released",
        "only-start 1 wait-file go1",
        "only-start 1 kill-self 9",
        "wait-term");
    int writer = pidFile("writer");
    await(() -> Files.exists(dir.resolve("registered")), "registration");
    int fdsBefore = keeperFds();
    Files.createFile(dir.resolve("go0"));

    Report first = report(1);
    assertEquals(1, first.value("restarts"));
    assertEquals(9, first.value("last_death"), "the wait status of a SIGKILL");
    Map<Integer, String> held = first.held();
    assertEquals(file.toString(), held.get(10));
    String pipe = Files.readSymbolicLink(Path.of("/proc/" + writer + "/fd/1")).toString();
    assertEquals(pipe, held.get(11), "the writer's pipe, at the number it was registered under");
    await(() -> Files.exists(dir.resolve("read1")), "read from the handed-back pipe");
    assertEquals("tick\n", Files.readString(dir.resolve("read1")), "what the writer wrote while no JVM read");
    assertTrue(alive(writer), "the writer never got EPIPE");
    assertEquals(Integer.toString((int) keeper.pid()), Files.readString(Path.of("/proc/" + writer + "/stat")).split(" ")[3],
        "the writer's parent is the keeper");

    await(() -> Files.exists(dir.resolve("released")), "release");
    await(() -> {
      try {
        return keeperFds() == fdsBefore - 1;
      } catch (IOException e) {
        return false;
      }
    }, "the released descriptor closed in the keeper");
    Files.createFile(dir.resolve("go1"));
    Report second = report(2);
    assertEquals(Map.of(11, pipe), second.held(), "a released descriptor is not handed to the next JVM");
  }

  @Test
  void malformedMessagesChangeNothingTheKeeperHolds() throws Exception {
    Path file = dir.resolve("held-file");
    start("only-start 0 hold-file 10 " + file,
        "only-start 0 hold-pipe 11 writer",
        "serve",
        "only-start 0 mark registered",
        "only-start 0 wait-file fuzz",
        "only-start 0 empty",
        "only-start 0 fuzz 3000 7",
        "only-start 0 hold-file 12 " + dir.resolve("after-fuzz"),
        "only-start 0 kill-self 9",
        "only-start 1 fuzz 3000 7",
        "only-start 1 kill-self 9",
        "only-start 2 fuzz 3000 7",
        "only-start 2 kill-self 9",
        "wait-term");
    int writer = pidFile("writer");
    await(() -> Files.exists(dir.resolve("registered")), "registration");
    int fdsBefore = keeperFds();
    Files.createFile(dir.resolve("fuzz"));
    Report last = report(3);
    assertTrue(keeper.isAlive(), "the keeper survived 9,000 messages, valid and not");
    assertEquals(3, last.value("restarts"));
    // the fuzz holds id 40 at most with kinds out of range (refused) and releases 5 (never held);
    // everything else it sends is refused: what the keeper holds is what it held before
    assertEquals(Map.of(10, file.toString(), 11, Files.readSymbolicLink(Path.of("/proc/" + writer + "/fd/1")).toString(),
        12, dir.resolve("after-fuzz").toString()), last.held(), "and a valid message after an empty one and the fuzz still counts");
    assertEquals(fdsBefore + 1, keeperFds(), "no descriptor of the fuzz stayed in the keeper: "
        + TestSupport.fdsOf(Long.toString(keeper.pid())).stream().map(fd -> {
          try {
            return fd + "=" + TestSupport.link(Long.toString(keeper.pid()), fd);
          } catch (IOException e) {
            return fd + "?";
          }
        }).toList());
    assertTrue(alive(writer));
    assertTrue(log().contains("ignored"), "malformed messages are logged");
    assertTrue(log().contains("log lines left out") || log().lines().count() < 200, "the log is rate-limited:\n" + log());
  }

  @Test
  void restartsPauseLongerWhileTheDaemonDiesBeforeServingAndRecover() throws Exception {
    start("only-start 0 serve",
        "only-start 0 exit 3",
        "only-start 1 exit 3",
        "only-start 2 exit 3",
        "only-start 3 exit 3",
        "only-start 4 exit 3",
        "serve",
        "wait-term");
    long[] at = new long[6];
    for (int i = 0; i < 6; i++) at[i] = report(i).writtenMillis();
    // death 1 (start 0, served an instant): at once; death 2: 250 ms; 3: 500; 4: 1 s; 5: 2 s
    long[] pause = {0, 0, 250, 500, 1000, 2000};
    for (int i = 2; i < 6; i++) {
      long gap = at[i] - at[i - 1];
      assertTrue(gap >= pause[i] - 20, "restart " + i + " came " + gap + " ms after the previous start; pause " + pause[i]);
    }
    assertTrue(log().contains("restart 5 in 2000 ms"), log());
    assertTrue(log().contains("died of exit status 3"), log());
    assertEquals(5, report(5).value("restarts"));
    keeper.destroy();
    assertTrue(keeper.waitFor(10, TimeUnit.SECONDS));
    assertEquals(143, keeper.exitValue(), "SIGTERM: the daemon's 143");
  }

  @Test
  void anExitIsReportedUntilAcknowledgedEvenWhenNoJvmRan() throws Exception {
    Files.writeString(dir.resolve("sibling.sh"), "while [ ! -e " + dir.resolve("go") + " ]; do sleep 0.01; done; exit 7\n");
    start("only-start 0 spawn sibling sh " + dir.resolve("sibling.sh"),
        "only-start 0 serve",
        "only-start 0 exit 3",
        "only-start 1 exit 3",
        "only-start 2 exit 3",
        "only-start 3 exit 3",
        "only-start 4 ack-all",
        "only-start 4 exit 3",
        "wait-term");
    int sibling = pidFile("sibling");
    report(2);
    // start 2 exits at once; the keeper pauses 500 ms before start 3: the sibling ends meanwhile
    await(() -> childrenOfKeeper().size() == 1, "start 2 gone");
    Files.createFile(dir.resolve("go"));
    await(() -> !alive(sibling), "the sibling reaped by the keeper");
    assertEquals(Map.of(sibling, 7 << 8), report(3).exits(), "the exit, with its status, to the first JVM after it");
    assertEquals(Map.of(sibling, 7 << 8), report(4).exits(), "again: start 3 did not acknowledge it");
    assertEquals(Map.of(), report(5).exits(), "start 4 acknowledged it: never again");
  }

  private List<Long> childrenOfKeeper() {
    return keeper.toHandle().children().map(ProcessHandle::pid).toList();
  }

  private void fresh() throws IOException {
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) Files.delete(p);
    }
  }

  @Test
  void endingStatusesAreTheDaemons() throws Exception {
    start("serve", "ending", "exit 0");
    assertTrue(keeper.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, keeper.exitValue(), "exit-if-idle: the daemon says it ends, the keeper ends with it");

    fresh();
    start("serve", "wait-term");
    report(0);
    Processes.kill((int) keeper.pid(), 2);
    assertTrue(keeper.waitFor(30, TimeUnit.SECONDS));
    assertEquals(130, keeper.exitValue(), "SIGINT: forwarded, and the daemon's 130");

    fresh();
    start("serve", "wait-term");
    int jvm = report(0).value("pid");
    keeper.destroyForcibly();
    assertTrue(keeper.waitFor(30, TimeUnit.SECONDS));
    await(() -> !alive(jvm), "keeper end: the daemon stops when its keeper is killed (PR_SET_PDEATHSIG)");

    fresh();
    start("exit 2");
    assertTrue(keeper.waitFor(30, TimeUnit.SECONDS));
    assertEquals(2, keeper.exitValue(), "a daemon that never served (bad options): its status, no restart");
    assertTrue(Files.exists(dir.resolve("jvm-0.txt")));
    assertFalse(Files.exists(dir.resolve("jvm-1.txt")));
    assertFalse(log().contains("not restarting"), "the daemon said why it ended; the keeper adds nothing: " + log());

    fresh();
    start("kill-self 9");
    assertTrue(keeper.waitFor(30, TimeUnit.SECONDS));
    assertEquals(137, keeper.exitValue(), "killed before it served: 128 + 9, no restart");
    assertFalse(Files.exists(dir.resolve("jvm-1.txt")));
    assertTrue(log().contains("the daemon ended before it served (signal 9 (Killed)); not restarting"), log());
  }

  /** The lines of DIR/NAME, a fake JVM's record of the messages it awaited ("type id a target"). */
  private List<String> messages(String name) throws Exception {
    Path p = dir.resolve(name);
    await(() -> Files.exists(p), name);
    return Files.readAllLines(p);
  }

  @Test
  void anUpgradeHandsOverWhatWasHeldSinceTheNextJvmStartedAndNothingItSentBefore() throws Exception {
    Path a = dir.resolve("file-a");
    Path b = dir.resolve("file-b");
    Path c = dir.resolve("file-c");
    start("only-start 0 hold-file 10 " + a,
        "only-start 0 serve",
        "only-start 0 upgrade new-version",
        "only-start 0 await 105 hand-over",
        "only-start 0 hold-file 11 " + b, // after the next JVM started
        "only-start 0 hold-memfd 12 2",
        "only-start 0 handed 12",
        "only-start 0 await 109 retire",
        "only-start 0 exit 0",
        "only-start 1 hold-file 20 " + c, // before it took over: the keeper must ignore it
        "only-start 1 release 10",
        "only-start 1 ready",
        "only-start 1 await 107 take-over",
        "only-start 1 taken",
        "only-start 1 serve",
        "only-start 1 mark took-over",
        "only-start 1 wait-file go1",
        "only-start 1 kill-self 9",
        "wait-term");
    Report next = report(1);
    assertEquals(1, next.value("standby"));
    assertEquals(Map.of(10, a.toString()), next.held(), "what was held when it started, at its number");
    assertTrue(next.lines().contains("argv " + dir + " new-version"), next.lines().toString());

    List<String> handOver = messages("hand-over");
    assertEquals("105 0 0 -", handOver.get(handOver.size() - 1), "the serving JVM is told to hand over once the next is ready");
    List<String> takeOver = messages("take-over");
    assertEquals(List.of("106 11 7 " + b, "106 12 2 ", "107 12 0 -"),
        takeOver.stream().map(l -> l.startsWith("106 12 2 ") ? "106 12 2 " : l).toList(),
        "only what was held after it started, with the descriptor, then the state to take");
    assertTrue(takeOver.get(1).contains("memfd:fake-jvm"), takeOver.toString());
    assertEquals("109 0 0 -", messages("retire").get(0), "the JVM that handed over is told to retire");
    await(() -> Files.exists(dir.resolve("took-over")), "the take-over");

    Files.createFile(dir.resolve("go1"));
    Report restarted = report(2);
    assertEquals(0, restarted.value("standby"));
    assertEquals(1, restarted.value("restarts"), "the retired JVM's end is no restart; the killed one's is");
    assertTrue(restarted.lines().contains("argv " + dir + " new-version"), "restarted with the upgrade's command: " + restarted.lines());
    Map<Integer, String> held = restarted.held();
    assertEquals(a.toString(), held.get(10), "the next JVM's release before it took over changed nothing");
    assertEquals(b.toString(), held.get(11));
    assertTrue(held.get(12).contains("memfd:fake-jvm"), held.toString());
    assertFalse(held.containsKey(20), "the next JVM's hold before it took over changed nothing");
    assertTrue(log().contains("message of type 1 from the new daemon before it took over: ignored"), log());
    assertTrue(log().contains("took over from pid " + report(0).value("pid")), log());
  }

  @Test
  void aFailedUpgradeResumesTheServingJvm() throws Exception {
    start("only-start 0 serve",
        "only-start 0 upgrade unsealed new-version",
        "only-start 0 await 108 resume-unsealed",
        "only-start 0 upgrade new-version",
        "only-start 0 await 108 resume-died",
        "only-start 0 mark done",
        "only-start 1 exit 3", // the next JVM ends before it is ready
        "wait-term");
    assertEquals(List.of("108 0 -1 -"), messages("resume-unsealed"), "a command that is not in a sealed memfd is refused");
    assertEquals(List.of("108 0 768 -"), messages("resume-died"), "the next JVM's wait status (exit 3)");
    await(() -> Files.exists(dir.resolve("done")), "the serving JVM went on");
    assertEquals(0, report(0).value("restarts"));
    assertFalse(Files.exists(dir.resolve("jvm-2.txt")), "no restart");
    assertTrue(report(1).value("standby") == 1 && alive(report(0).value("pid")), "the serving JVM still runs");
    assertTrue(log().contains("upgrade: the command is not in a sealed memfd"), log());
    assertTrue(log().contains("ended (exit status 3) before it took over"), log());
  }

  /**
   * A JVM's last messages are read after its death even when an empty message came first: the
   * keeper is stopped while the JVM sends and dies, so it reads all of it only at the death.
   */
  @Test
  void aDeadJvmsLastMessagesAreReadPastAnEmptyOne() throws Exception {
    Path file = dir.resolve("last-file");
    start("only-start 0 serve",
        "only-start 0 mark started",
        "only-start 0 wait-file go",
        "only-start 0 empty",
        "only-start 0 hold-file 12 " + file,
        "only-start 0 kill-self 9",
        "wait-term");
    int jvm = report(0).value("pid");
    await(() -> Files.exists(dir.resolve("started")), "the first JVM");
    Processes.kill((int) keeper.pid(), 19); // SIGSTOP
    try {
      Files.createFile(dir.resolve("go"));
      await(() -> read(Path.of("/proc/" + jvm + "/stat")).contains(") Z "), "the JVM's death (a zombie: its keeper is stopped)");
    } finally {
      Processes.kill((int) keeper.pid(), 18); // SIGCONT
    }
    assertEquals(file.toString(), report(1).held().get(12), "the hold after the empty message counts");
  }
}
