package dev.papa.benchmarks.store;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.store.OutputStore;
import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * Acknowledging one batch over 1, 10 and 100 processes, 4 items of 64 bytes each (as
 * {@code buffer.AcknowledgeBenchmark}), on heap queues and on memfd stores. Every op appends
 * the 4 items again (preallocated chunk) and acknowledges them; {@code *AppendOnly} is that
 * refill with a discard, so acknowledge cost = the difference.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
public class StoreAcknowledgeBenchmark {
    @Param({"1", "10", "100"})
    int processes;

    static final int ITEMS = 4;
    OutputBuffer[] heaps;
    OutputStore[] stores;
    Fd[] fds;
    final byte[] chunk = new byte[64];
    long t = 1_795_854_417_739_433L;

    @Setup
    public void setup() throws Exception {
        heaps = new OutputBuffer[processes];
        stores = new OutputStore[processes];
        fds = new Fd[processes];
        for (int p = 0; p < processes; p++) {
            heaps[p] = new OutputBuffer(1 << 30);
            fds[p] = Memfd.create("bench-ack");
            stores[p] = OutputStore.create(fds[p].get(), 1 << 20);
        }
    }

    @TearDown
    public void tearDown() {
        for (int p = 0; p < processes; p++) {
            stores[p].close();
            fds[p].close();
        }
    }

    @Benchmark
    public int heapAck() {
        for (OutputBuffer q : heaps) {
            for (int i = 0; i < ITEMS; i++) q.append(OutputBuffer.OUT, t++, chunk);
        }
        for (OutputBuffer q : heaps) q.acknowledge(q.endSeq());
        return heaps[0].size();
    }

    @Benchmark
    public int storeAck() {
        for (OutputStore q : stores) {
            for (int i = 0; i < ITEMS; i++) q.append(OutputStore.OUT, t++, chunk);
        }
        for (OutputStore q : stores) q.acknowledge(q.endSeq());
        return stores[0].size();
    }

    @Benchmark
    public int heapAppendOnly() {
        for (OutputBuffer q : heaps) {
            for (int i = 0; i < ITEMS; i++) q.append(OutputBuffer.OUT, t++, chunk);
            q.discardAll();
        }
        return heaps[0].size();
    }

    @Benchmark
    public int storeAppendOnly() {
        for (OutputStore q : stores) {
            for (int i = 0; i < ITEMS; i++) q.append(OutputStore.OUT, t++, chunk);
            q.discardAll();
        }
        return stores[0].size();
    }
}
