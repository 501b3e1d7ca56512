package dev.papa.posix;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Everything about a process to start, gathered before the fork: the child runs
 * no Java code, so nothing can be decided there. A mutable builder; setters
 * return {@code this}. Defaults: empty environment, inherited working directory
 * and umask, stdin on /dev/null, stdout and stderr on pipes, a new session, every descriptor
 * other than 0-2 closed.
 *
 * <p>Identity: groups are set only when the caller may (CAP_SETGID), a uid or gid equal to
 * the caller's own is left as it is, so an unprivileged caller can start processes as itself;
 * another uid or gid then fails at its step with EPERM. The working directory is entered
 * before the identity changes unless {@link #workingDirAfterIdentity} says otherwise.
 */
public final class SpawnSpec {
  /** What a child's stdout or stderr is connected to. */
  public enum Output {
    /** A fresh pipe; the parent gets the nonblocking read end. */
    PIPE,
    /** /dev/null. */
    NULL,
    /** stderr only: the same pipe (or /dev/null) as stdout. */
    STDOUT
  }

  final List<String> argv;
  final Map<String, String> env = new LinkedHashMap<>();
  String workingDir;
  boolean workingDirAfterIdentity;
  boolean limitsAfterIdentity;
  int uid = -1;
  int gid = -1;
  int[] groups;
  final Map<Rlimit, long[]> rlimits = new TreeMap<>(); // {soft, hard}
  int stdin = -1;
  Output stdout = Output.PIPE;
  Output stderr = Output.PIPE;
  final List<Integer> keepFds = new ArrayList<>();
  final Map<Integer, Integer> passFds = new LinkedHashMap<>(); // target -> source
  boolean listenPid;
  boolean newSession = true;
  int umask = -1;

  /** argv.get(0) is the program; without a '/' it is looked up in the env's PATH, else /bin:/usr/bin. */
  public SpawnSpec(List<String> argv) {
    this.argv = List.copyOf(argv);
  }

  /** The exact environment, in iteration order (replaces any earlier one). */
  public SpawnSpec env(Map<String, String> env) {
    this.env.clear();
    this.env.putAll(env);
    return this;
  }

  public SpawnSpec workingDir(String dir) {
    this.workingDir = dir;
    return this;
  }

  /**
   * true: enter the working directory after becoming the new user, with that user's rights
   * (for processes started on behalf of someone who is not an administrator). Default false:
   * enter it first, with the caller's rights, as the reference papa does.
   */
  public SpawnSpec workingDirAfterIdentity(boolean on) {
    this.workingDirAfterIdentity = on;
    return this;
  }

  /**
   * true: set the resource limits after becoming the new user, so that none exceeds what that
   * user could set itself (a raised hard limit fails with EPERM at the RLIMIT step). Default
   * false: set them first, with the caller's rights.
   */
  public SpawnSpec limitsAfterIdentity(boolean on) {
    this.limitsAfterIdentity = on;
    return this;
  }

  public SpawnSpec uid(int uid) {
    if (uid < 0) throw new IllegalArgumentException("uid " + uid);
    this.uid = uid;
    return this;
  }

  public SpawnSpec gid(int gid) {
    if (gid < 0) throw new IllegalArgumentException("gid " + gid);
    this.gid = gid;
    return this;
  }

  /** Supplementary groups (setgroups); left as inherited unless given. An empty array clears them. */
  public SpawnSpec groups(int[] groups) {
    this.groups = groups.clone();
    return this;
  }

  /** soft = hard = value; -1 is RLIM_INFINITY. */
  public SpawnSpec rlimit(Rlimit r, long value) {
    return rlimit(r, value, value);
  }

  /** The soft and the hard limit; -1 is RLIM_INFINITY. */
  public SpawnSpec rlimit(Rlimit r, long soft, long hard) {
    rlimits.put(Objects.requireNonNull(r), new long[] {soft, hard});
    return this;
  }

  /** The child gets {@code fd} as its stdin (e.g. a listening socket, inetd style) instead of /dev/null. */
  public SpawnSpec stdin(int fd) {
    if (fd < 0) throw new IllegalArgumentException("stdin(" + fd + ")");
    this.stdin = fd;
    return this;
  }

  public SpawnSpec stdout(Output o) {
    if (o == Output.STDOUT) throw new IllegalArgumentException("stdout cannot be merged into itself");
    this.stdout = Objects.requireNonNull(o);
    return this;
  }

  public SpawnSpec stderr(Output o) {
    this.stderr = Objects.requireNonNull(o);
    return this;
  }

  /** The child keeps this descriptor (>= 3) open at the same number. */
  public SpawnSpec keepFd(int fd) {
    if (fd < 3) throw new IllegalArgumentException("keepFd needs a descriptor >= 3, got " + fd);
    if (!keepFds.contains(fd)) keepFds.add(fd);
    return this;
  }

  /** The child receives fd at number target (>= 3); sources and targets may overlap freely. */
  public SpawnSpec passFd(int fd, int target) {
    if (fd < 0 || target < 3) throw new IllegalArgumentException("passFd(" + fd + ", " + target + "): target must be >= 3");
    passFds.put(target, fd);
    return this;
  }

  /** Puts LISTEN_PID=&lt;child's pid&gt; in its environment (systemd socket activation). */
  public SpawnSpec listenPid(boolean on) {
    this.listenPid = on;
    return this;
  }

  /** setsid() in the child; default true. */
  public SpawnSpec newSession(boolean on) {
    this.newSession = on;
    return this;
  }

  /** The child's umask; by default the one this process started with ({@link Processes#startUmask}). */
  public SpawnSpec umask(int mask) {
    if (mask < 0 || mask > 0777) throw new IllegalArgumentException("umask " + Integer.toOctalString(mask));
    this.umask = mask;
    return this;
  }
}
