package dev.papa.benchmarks.buffer;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.protocol.WallClock;
import org.openjdk.jmh.annotations.*;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * {@link OutputBuffer#append} of 64 B, 4 KiB and 64 KiB chunks, with and without eviction.
 *
 * <ul>
 * <li>{@code append}: the queue operation alone, on a preallocated chunk (must allocate 0 B/op).</li>
 * <li>{@code captureAndAppend}: what {@code ProcessTable#drain} does per read: a new byte[n],
 *   copied from the 64 KiB direct read buffer, stamped by {@link WallClock}, appended
 *   (must allocate exactly the chunk: n + 16 B/op).</li>
 * </ul>
 * Without eviction the buffer is 1 GiB and a watcher acknowledges everything every 64 appends
 * (that cost is amortised into the op); with eviction it holds 16 chunks and every append drops
 * the oldest. One op = one chunk: bytes/s = ops/s x size.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
public class AppendBenchmark {
    @Param({"64", "4096", "65536"})
    int size;
    @Param({"false", "true"})
    boolean evict;

    OutputBuffer queue;
    byte[] chunk;
    ByteBuffer readBuffer;
    final WallClock clock = new WallClock();
    long time = 1_795_854_417_739_433L;

    @Setup
    public void setup() {
        queue = new OutputBuffer(evict ? 16L * size : 1L << 30);
        chunk = new byte[size];
        readBuffer = ByteBuffer.allocateDirect(65536);
        readBuffer.put(0, new byte[65536]);
    }

    @Benchmark
    public long append() {
        queue.append(OutputBuffer.OUT, time++, chunk);
        if (!evict && queue.size() >= 64) queue.acknowledge(queue.endSeq());
        return queue.bytes();
    }

    @Benchmark
    public long captureAndAppend() {
        readBuffer.clear().position(size); // as if read(2) returned size bytes
        byte[] c = new byte[size];
        readBuffer.flip();
        readBuffer.get(c);
        queue.append(OutputBuffer.OUT, clock.nowMicros(), c);
        if (!evict && queue.size() >= 64) queue.acknowledge(queue.endSeq());
        return queue.bytes();
    }
}
