package dev.papa.benchmarks.buffer;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.session.Outbox;
import org.openjdk.jmh.annotations.*;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Building one watch batch for 1, 10 and 100 watched processes, each with {@code items} queued
 * chunks of {@code chunk} bytes (PROTOCOL.md "Watching"), and copying it towards the socket.
 *
 * <ul>
 * <li>{@code legacy}: what {@code Session#sendBatch} did up to e1fc2ca (replica in
 *   {@link LegacyBatch}), plus the copy of every pending heap buffer into a 64 KiB direct buffer
 *   that {@code Io.write} makes before each {@code send()}.</li>
 * <li>{@code outbox}: the daemon's {@link Outbox} today: headers encoded into a reusable arena,
 *   chunks referenced, the batch copied into one 64 KiB direct buffer per {@code send()}.</li>
 * </ul>
 * One op = one whole batch. Bytes per batch are printed at setup: bytes/s = ops/s x that.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
public class BatchBenchmark {
    @Param({"1", "10", "100"})
    int processes;
    @Param({"64", "4096"})
    int chunk;
    @Param({"4"})
    int items;

    String[] names;
    byte[][] nameBytes;
    OutputBuffer[] queues;
    final LegacyBatch legacy = new LegacyBatch();
    final Outbox outbox = new Outbox();
    final ByteBuffer out = ByteBuffer.allocateDirect(65536);

    @Setup
    public void setup() {
        names = new String[processes];
        nameBytes = new byte[processes][];
        queues = new OutputBuffer[processes];
        long t = 1_795_854_417_739_433L;
        for (int p = 0; p < processes; p++) {
            names[p] = "worker-" + p;
            nameBytes[p] = names[p].getBytes(StandardCharsets.UTF_8);
            queues[p] = new OutputBuffer(1 << 30);
            for (int i = 0; i < items; i++) {
                byte[] c = new byte[chunk];
                Arrays.fill(c, (byte) ('a' + i));
                queues[p].append(i % 2 == 0 ? OutputBuffer.OUT : OutputBuffer.ERR, t + 1000L * i + p, c);
            }
            if (p % 10 == 9) queues[p].appendClosed(t + 99_000, p % 3 == 0 ? -9 : 0);
        }
        // Both encodings must produce the same bytes.
        byte[] a = legacyBytes();
        byte[] b = outboxBytes();
        if (!Arrays.equals(a, b)) throw new IllegalStateException("Outbox differs from the old Session#sendBatch");
        System.out.println("\n[batch] processes=" + processes + " chunk=" + chunk + " items=" + items
                + " bytes/batch=" + b.length);
    }

    private byte[] legacyBytes() {
        legacy.build(names, queues);
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        ByteBuffer bb;
        while ((bb = legacy.pending.poll()) != null) bos.write(bb.array(), bb.arrayOffset() + bb.position(), bb.remaining());
        legacy.sentUpTo.clear();
        return bos.toByteArray();
    }

    private byte[] outboxBytes() {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        if (!outbox.addBatch(queues, nameBytes, processes)) throw new IllegalStateException("empty batch");
        ByteBuffer small = ByteBuffer.allocate(100); // odd size: exercises resuming mid-slice
        while (!outbox.isEmpty()) {
            small.clear();
            outbox.fill(small);
            outbox.consume(small.position());
            bos.write(small.array(), 0, small.position());
        }
        return bos.toByteArray();
    }

    @Benchmark
    public long legacy() {
        legacy.build(names, queues);
        legacy.sentUpTo.clear();
        return legacy.drainInto(out);
    }

    @Benchmark
    public long outbox() {
        outbox.addBatch(queues, nameBytes, processes);
        long total = outbox.bytes();
        while (!outbox.isEmpty()) {
            out.clear();
            outbox.fill(out);
            outbox.consume(out.position());
        }
        return total;
    }
}
