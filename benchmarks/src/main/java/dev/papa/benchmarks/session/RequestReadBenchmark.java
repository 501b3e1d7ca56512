package dev.papa.benchmarks.session;

import dev.papa.posix.Fd;
import dev.papa.posix.FdReceiver;
import dev.papa.posix.Io;
import dev.papa.posix.Sockets;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
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
 * The cost descriptor passing adds to the plain request path of a unix session: one request
 * line written to a unix socket pair and read back, by {@code read} (what TCP sessions do, and
 * what unix sessions did) and by {@link FdReceiver#read} (recvmsg with a one-descriptor control
 * buffer, what unix sessions do now), in the same run. No descriptor travels.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar RequestReadBenchmark}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class RequestReadBenchmark {
  private static final byte[] LINE = "list processes web.*\n".getBytes(StandardCharsets.US_ASCII);

  private Fd[] pair;
  private final ByteBuffer out = ByteBuffer.allocateDirect(64);
  private final ByteBuffer in = ByteBuffer.allocateDirect(16384);
  private final FdReceiver receiver = new FdReceiver(1);

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    pair = Sockets.socketPair();
    Io.setNonBlocking(pair[1].get(), true);
    out.put(LINE).flip();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pair[0].close();
    pair[1].close();
  }

  @Benchmark
  public int read() throws Exception {
    out.position(0);
    Io.write(pair[0].get(), out);
    in.clear();
    return Io.read(pair[1].get(), in);
  }

  @Benchmark
  public int recvmsg() throws Exception {
    out.position(0);
    Io.write(pair[0].get(), out);
    in.clear();
    int n = receiver.read(pair[1].get(), in);
    if (receiver.hasAncillary()) throw new AssertionError("no descriptor was sent");
    return n;
  }
}
