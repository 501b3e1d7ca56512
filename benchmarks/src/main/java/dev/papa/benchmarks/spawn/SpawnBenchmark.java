package dev.papa.benchmarks.spawn;

import dev.papa.posix.Child;
import dev.papa.posix.Processes;
import dev.papa.posix.SpawnSpec;
import dev.papa.posix.Spawner;
import java.io.File;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Spawns per second of /bin/true, started and reaped, through papa-native's
 * {@link Spawner} (clone(CLONE_VM|CLONE_VFORK) in libpapa) next to the JDK's
 * {@link ProcessBuilder}, in the same run. Both variants give the child stdin on
 * /dev/null and either discard its output or capture it through pipes.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar SpawnBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-Xms1g", "-XX:+AlwaysPreTouch"})
public class SpawnBenchmark {
  private static final List<String> TRUE = List.of("/bin/true");
  private static final File DEV_NULL = new File("/dev/null");

  @Benchmark
  public int papaSpawnerDiscard() throws Exception {
    Child c = Spawner.spawn(new SpawnSpec(TRUE).stdout(SpawnSpec.Output.NULL).stderr(SpawnSpec.Output.NULL));
    c.pidfd().close();
    return Processes.waitFor(c.pid());
  }

  @Benchmark
  public int processBuilderDiscard() throws Exception {
    Process p = new ProcessBuilder(TRUE).redirectInput(DEV_NULL)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    return p.waitFor();
  }

  @Benchmark
  public int papaSpawnerPipes() throws Exception {
    Child c = Spawner.spawn(new SpawnSpec(TRUE));
    c.pidfd().close();
    int status = Processes.waitFor(c.pid());
    c.stdout().close();
    c.stderr().close();
    return status;
  }

  @Benchmark
  public int processBuilderPipes() throws Exception {
    Process p = new ProcessBuilder(TRUE).redirectInput(DEV_NULL).start();
    int status = p.waitFor();
    p.getInputStream().close();
    p.getErrorStream().close();
    return status;
  }
}
