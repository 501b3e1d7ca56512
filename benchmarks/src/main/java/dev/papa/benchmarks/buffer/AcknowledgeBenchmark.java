package dev.papa.benchmarks.buffer;

import dev.papa.daemon.buffer.OutputBuffer;
import org.openjdk.jmh.annotations.*;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Acknowledging one batch over 1, 10 and 100 processes, 4 items each. The items are appended
 * again in the same op (preallocated chunks, no eviction) so every op acknowledges a full batch;
 * {@code appendOnly} is that refill alone, so acknowledge cost = the difference.
 *
 * <ul>
 * <li>{@code legacyAck}: {@code Session#acknowledge} today: the end sequence boxed into a
 *   {@code HashMap<HostedProcess, Long>} at send time, the map copied at ack time, then
 *   {@link OutputBuffer#acknowledge} per process.</li>
 * <li>{@code arrayAck}: the proposal: parallel arrays reused by the session, no boxing, no copy.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
public class AcknowledgeBenchmark {
    @Param({"1", "10", "100"})
    int processes;

    static final int ITEMS = 4;
    OutputBuffer[] queues;
    final byte[] chunk = new byte[64];
    final Map<OutputBuffer, Long> sentUpTo = new HashMap<>();
    OutputBuffer[] sentQueue;
    long[] sentEnd;
    long t = 1_795_854_417_739_433L;

    @Setup
    public void setup() {
        queues = new OutputBuffer[processes];
        for (int p = 0; p < processes; p++) queues[p] = new OutputBuffer(1 << 30);
        sentQueue = new OutputBuffer[processes];
        sentEnd = new long[processes];
    }

    private void refill() {
        for (OutputBuffer q : queues) {
            for (int i = 0; i < ITEMS; i++) q.append(OutputBuffer.OUT, t++, chunk);
        }
    }

    @Benchmark
    public long appendOnly() {
        refill();
        long s = 0;
        for (OutputBuffer q : queues) {
            s += q.endSeq();
            q.discardAll();
        }
        return s;
    }

    @Benchmark
    public int legacyAck() {
        refill();
        for (OutputBuffer q : queues) sentUpTo.put(q, q.endSeq()); // at send time
        for (Map.Entry<OutputBuffer, Long> e : new HashMap<>(sentUpTo).entrySet()) {
            e.getKey().acknowledge(e.getValue());
        }
        sentUpTo.clear();
        return queues[0].size();
    }

    @Benchmark
    public int arrayAck() {
        refill();
        int n = 0;
        for (OutputBuffer q : queues) { // at send time
            sentQueue[n] = q;
            sentEnd[n++] = q.endSeq();
        }
        for (int i = 0; i < n; i++) {
            OutputBuffer q = sentQueue[i];
            if (q != null) q.acknowledge(sentEnd[i]);
            sentQueue[i] = null;
        }
        return queues[0].size();
    }
}
