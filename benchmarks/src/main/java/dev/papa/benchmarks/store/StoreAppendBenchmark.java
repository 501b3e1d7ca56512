package dev.papa.benchmarks.store;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.store.OutputStore;
import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;
import org.openjdk.jmh.annotations.*;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * What {@code ProcessTable#drain} does per pipe read, on the heap queue and on the memfd store,
 * at the sizes of {@code buffer.AppendBenchmark} (64 B, 4 KiB, 64 KiB; with and without eviction):
 *
 * <ul>
 * <li>{@code heapCapture}: a new byte[n] copied from the 64 KiB direct read buffer, appended to
 *   {@link OutputBuffer} (today's path).</li>
 * <li>{@code storeCapture}: {@link OutputStore#append(byte, long, ByteBuffer, int)}: the read
 *   buffer copied once into the mapping, the record published.</li>
 * </ul>
 * Without eviction the capacity is 1 GiB and everything is acknowledged every 64 appends (that
 * cost, pages given back included, is amortised into the op); with eviction the queue holds 16
 * chunks and every append evicts the oldest. One op = one chunk.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
public class StoreAppendBenchmark {
    @Param({"64", "4096", "65536"})
    int size;
    @Param({"false", "true"})
    boolean evict;

    OutputBuffer heap;
    Fd fd;
    OutputStore store;
    ByteBuffer readBuffer;
    long time = 1_795_854_417_739_433L;

    @Setup
    public void setup() throws Exception {
        long capacity = evict ? 16L * size : 1L << 30;
        heap = new OutputBuffer(capacity);
        fd = Memfd.create("bench-store");
        store = OutputStore.create(fd.get(), capacity);
        readBuffer = ByteBuffer.allocateDirect(65536);
        readBuffer.put(0, new byte[65536]);
    }

    @TearDown
    public void tearDown() {
        store.close();
        fd.close();
    }

    @Benchmark
    public long heapCapture() {
        readBuffer.clear().position(size); // as if read(2) returned size bytes
        byte[] c = new byte[size];
        readBuffer.flip();
        readBuffer.get(c);
        heap.append(OutputBuffer.OUT, time++, c);
        if (!evict && heap.size() >= 64) heap.acknowledge(heap.endSeq());
        return heap.bytes();
    }

    @Benchmark
    public long storeCapture() {
        readBuffer.clear().position(size);
        readBuffer.flip();
        store.append(OutputStore.OUT, time++, readBuffer, size);
        if (!evict && store.size() >= 64) store.acknowledge(store.endSeq());
        return store.bytes();
    }
}
