package dev.papa.posix;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibPapa;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Starts processes through libpapa's clone(CLONE_VM|CLONE_VFORK) spawn (src-c/spawn.c):
 * no page-table copy of a big JVM heap, the child's setup done by async-signal-safe C,
 * and a child failure reported synchronously as a {@link SpawnException}.
 */
public final class Spawner {
  private static final String LISTEN_PID = "LISTEN_PID";
  private static final String DEFAULT_PATH = "/bin:/usr/bin";

  private Spawner() {}

  /**
   * From now on every spawned child is this process's parent's child (CLONE_PARENT): under the
   * keeper (src-c/keeper.c), which reaps it and keeps its exit status for whichever JVM runs.
   * Such a child is not this process's to reap: exits then come from the keeper. Process-wide.
   */
  public static void childrenOfParent() {
    LibPapa.papa_spawn_clone_parent(1);
  }

  /**
   * From now on every output pipe is asked for {@code bytes} (F_SETPIPE_SZ on its read end, the
   * kernel rounds up to a power of two pages); one the kernel will not enlarge keeps its size.
   * 0: the kernel's default (64 KiB). Process-wide.
   */
  public static void pipeSize(int bytes) {
    if (bytes < 0) throw new IllegalArgumentException("pipe size " + bytes);
    LibPapa.papa_spawn_pipe_size(bytes);
  }

  /** Starts the process; on failure nothing is left behind (no zombie, no descriptor). */
  public static Child spawn(SpawnSpec spec) throws PosixException {
    List<String> argvList = spec.argv;
    if (argvList.isEmpty()) throw new IllegalArgumentException("empty argv");
    for (String a : argvList) checkNoNul(a);

    List<String> envList = new ArrayList<>(spec.env.size() + 1);
    for (Map.Entry<String, String> e : spec.env.entrySet()) {
      String k = e.getKey(), v = e.getValue() == null ? "" : e.getValue();
      if (k.isEmpty() || k.indexOf('=') >= 0) throw new SpawnException(SpawnException.Step.PREPARE, Errno.EINVAL);
      checkNoNul(k);
      checkNoNul(v);
      if (spec.listenPid && k.equals(LISTEN_PID)) continue;
      envList.add(k + "=" + v);
    }
    int listenIdx = -1;
    if (spec.listenPid) {
      listenIdx = envList.size();
      envList.add(LISTEN_PID + "=" + "0".repeat(23)); // the child writes its pid over the zeros
    }

    List<String> candidates = candidates(argvList.get(0), spec.env);

    // One native block for the three NULL-terminated string vectors, freed right after the
    // call: thousands of spawns must not wait for the GC to release native memory.
    try (StringVectors vectors = new StringVectors(candidates, argvList, envList)) {
      return spawn(spec, vectors, listenIdx);
    }
  }

  private static Child spawn(SpawnSpec spec, StringVectors vectors, int listenIdx) throws PosixException {
    Pointer paths = vectors.vector(0);
    Pointer argv = vectors.vector(1);
    Pointer envp = vectors.vector(2);
    Pointer listenDigits = listenIdx < 0 ? null
        : envp.getPointer((long) listenIdx * Native.POINTER_SIZE).share(LISTEN_PID.length() + 1);

    int[] keep = spec.keepFds.stream().mapToInt(Integer::intValue).toArray();
    int npass = spec.passFds.size();
    int[] passSrc = new int[npass], passDst = new int[npass];
    int i = 0;
    for (Map.Entry<Integer, Integer> e : spec.passFds.entrySet()) {
      passDst[i] = e.getKey();
      passSrc[i] = e.getValue();
      if (spec.keepFds.contains(passDst[i])) {
        throw new IllegalArgumentException("descriptor " + passDst[i] + " is both kept and a passFd target");
      }
      i++;
    }
    int nrl = spec.rlimits.size();
    int[] rlRes = new int[nrl];
    long[] rlSoft = new long[nrl], rlHard = new long[nrl];
    i = 0;
    for (Map.Entry<Rlimit, long[]> e : spec.rlimits.entrySet()) {
      rlRes[i] = e.getKey().resource();
      rlSoft[i] = e.getValue()[0];
      rlHard[i] = e.getValue()[1];
      i++;
    }
    if (spec.workingDir != null) checkNoNul(spec.workingDir);
    byte[] cwd = spec.workingDir == null ? null : Errno.cString(spec.workingDir);
    int[] groups = spec.groups;
    int[] result = new int[6];

    int rc = LibPapa.papa_spawn(paths, argv, envp, listenDigits, spec.stdin,
        spec.stdout.ordinal(), spec.stderr.ordinal(),
        keep, keep.length, passSrc, passDst, npass, rlRes, rlSoft, rlHard, nrl,
        groups, groups == null ? -1 : groups.length, spec.gid, spec.uid,
        cwd, (spec.workingDirAfterIdentity ? 1 : 0) | (spec.limitsAfterIdentity ? 2 : 0), spec.umask >= 0 ? spec.umask : Processes.startUmask(), spec.newSession ? 1 : 0, result);
    if (rc != 0) {
      SpawnException.Step[] steps = SpawnException.Step.values();
      int s = result[4];
      throw new SpawnException(s >= 0 && s < steps.length ? steps[s] : SpawnException.Step.PREPARE, result[5]);
    }
    return new Child(result[0], Fd.adopt(result[1]),
        result[2] >= 0 ? Fd.adopt(result[2]) : null,
        result[3] >= 0 ? Fd.adopt(result[3]) : null);
  }

  /** Where execvp would look for prog: prog itself when it has a slash, else each PATH entry. */
  private static List<String> candidates(String prog, Map<String, String> env) {
    List<String> candidates = new ArrayList<>();
    if (prog.indexOf('/') >= 0 || prog.isEmpty()) {
      candidates.add(prog);
    } else {
      String path = env.getOrDefault("PATH", DEFAULT_PATH);
      for (String dir : path.split(":", -1)) {
        candidates.add(dir.isEmpty() ? prog : dir.endsWith("/") ? dir + prog : dir + "/" + prog);
      }
    }
    return candidates;
  }

  /**
   * Replaces this process, keeping its pid, by {@code argv[0]} (looked up in env's PATH as
   * {@link #spawn} does) with exactly the environment {@code env}, descriptors 0-2 as they
   * are, {@code fds[i]} at 3 + i and nothing else. For a CLI that hands sockets to a server
   * (LISTEN_PID is then this process's pid). Returns only by throwing, and only while nothing
   * has changed: no executable found, a descriptor that cannot be copied.
   */
  public static void execInPlace(List<String> argv, Map<String, String> env, int[] fds) throws PosixException {
    if (argv.isEmpty()) throw new IllegalArgumentException("empty argv");
    for (String a : argv) checkNoNul(a);
    List<String> envList = new ArrayList<>();
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (e.getKey().isEmpty() || e.getKey().indexOf('=') >= 0) throw new SpawnException(SpawnException.Step.PREPARE, Errno.EINVAL);
      checkNoNul(e.getKey());
      checkNoNul(e.getValue());
      envList.add(e.getKey() + "=" + e.getValue());
    }
    String found = null;
    boolean denied = false;
    for (String c : candidates(argv.get(0), env)) {
      java.nio.file.Path p = java.nio.file.Path.of(c);
      if (!java.nio.file.Files.isRegularFile(p)) continue;
      if (java.nio.file.Files.isExecutable(p)) {
        found = c;
        break;
      }
      denied = true;
    }
    if (found == null) throw new SpawnException(SpawnException.Step.EXEC, denied ? Errno.EACCES : Errno.ENOENT);
    try (StringVectors vectors = new StringVectors(argv, envList)) {
      int rc = LibPapa.papa_exec_fds(Errno.cString(found), vectors.vector(0), vectors.vector(1), fds, fds.length);
      throw new SpawnException(SpawnException.Step.PREPARE, -rc);
    }
  }

  /** Several NULL-terminated {@code char*} vectors packed into one native allocation. */
  private static final class StringVectors implements AutoCloseable {
    private final com.sun.jna.Memory block;
    private final long[] offsets;

    @SafeVarargs
    StringVectors(List<String>... vectors) {
      int ptr = Native.POINTER_SIZE;
      long tables = 0;
      long strings = 0;
      List<byte[]> encoded = new ArrayList<>();
      for (List<String> v : vectors) {
        tables += (long) (v.size() + 1) * ptr;
        for (String str : v) {
          byte[] b = str.getBytes(java.nio.charset.StandardCharsets.UTF_8);
          encoded.add(b);
          strings += b.length + 1;
        }
      }
      block = new com.sun.jna.Memory(Math.max(1, tables + strings));
      offsets = new long[vectors.length];
      long table = 0;
      long text = tables;
      int k = 0;
      for (int v = 0; v < vectors.length; v++) {
        offsets[v] = table;
        for (int j = 0; j < vectors[v].size(); j++) {
          byte[] b = encoded.get(k++);
          block.write(text, b, 0, b.length);
          block.setByte(text + b.length, (byte) 0);
          block.setPointer(table, block.share(text));
          table += ptr;
          text += b.length + 1;
        }
        block.setPointer(table, null);
        table += ptr;
      }
    }

    Pointer vector(int i) {
      return block.share(offsets[i]);
    }

    @Override
    public void close() {
      block.close();
    }
  }

  private static void checkNoNul(String s) throws SpawnException {
    if (s.indexOf('\0') >= 0) throw new SpawnException(SpawnException.Step.PREPARE, Errno.EINVAL);
  }
}
