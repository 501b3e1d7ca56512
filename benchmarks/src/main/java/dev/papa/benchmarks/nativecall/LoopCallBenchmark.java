package dev.papa.benchmarks.nativecall;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.internal.LoopCalls;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What one of the loop's native calls costs: {@code papa_read} of an empty nonblocking pipe
 * (EAGAIN, so the syscall is the cheapest it can be) through the JNI native the loop uses
 * ({@link LoopCalls#read}), next to the same C function bound with JNA direct mapping, as the
 * loop called it before. Run with the daemon's JIT flag ({@code -XX:TieredStopAtLevel=1}, C1 only).
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar LoopCallBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1"})
public class LoopCallBenchmark {
  /** papa_read bound the way the loop bound it before LoopCalls. */
  static final class Jna {
    static {
      Native.register(Jna.class, "papa");
    }

    static native long papa_read(int fd, long base, long off, long len);
  }

  private Fd[] pipe;
  private int fd;
  private ByteBuffer buf;
  private long address;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    pipe = Io.pipe();
    fd = pipe[0].get();
    Io.setNonBlocking(fd, true);
    buf = ByteBuffer.allocateDirect(4096);
    address = Pointer.nativeValue(Native.getDirectBufferPointer(buf));
    long jni = LoopCalls.read(fd, address, 0, 4096), jna = Jna.papa_read(fd, address, 0, 4096);
    if (jni != jna || jni >= 0) throw new IllegalStateException("expected the same -EAGAIN from both: " + jni + ", " + jna);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Fd f : pipe) f.close();
  }

  @Benchmark
  public long jni() {
    return LoopCalls.read(fd, address, 0, 4096);
  }

  @Benchmark
  public long jna() {
    return Jna.papa_read(fd, address, 0, 4096);
  }
}
