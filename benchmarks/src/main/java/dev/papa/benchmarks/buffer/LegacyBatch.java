package dev.papa.benchmarks.buffer;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.protocol.WallClock;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * A line-for-line copy of what {@code Session#sendBatch} does today (it is private): a
 * StringBuilder per batch, a String and a byte[] per header, a ByteBuffer per header and per
 * chunk queued on the session's pending deque, the end sequence boxed into a HashMap.
 * Kept in step with papa-core by hand; the benchmark checks its bytes against {@link BatchEncoder}.
 */
final class LegacyBatch {
    private static final byte[] BATCH_END = "] ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NEWLINE = {'\n'};

    final ArrayDeque<ByteBuffer> pending = new ArrayDeque<>();
    final Map<Object, Long> sentUpTo = new HashMap<>();
    long pendingBytes;

    void build(String[] names, OutputBuffer[] queues) {
        StringBuilder header = new StringBuilder(64);
        boolean any = false;
        for (int i = 0; i < queues.length; i++) {
            OutputBuffer q = queues[i];
            String name = names[i];
            if (q.isEmpty()) continue;
            long end = q.endSeq();
            for (long seq = q.headSeq(); seq < end; seq++) {
                header.setLength(0);
                if (any) header.append('\n');
                any = true;
                byte kind = q.kind(seq);
                if (kind == OutputBuffer.CLOSED) {
                    header.append("closed:").append(name).append(':');
                    WallClock.append(header, q.timeMicros(seq));
                    header.append(':').append(q.exitStatus()).append('\n');
                    enqueue(ByteBuffer.wrap(header.toString().getBytes(StandardCharsets.UTF_8)));
                    any = false;
                } else {
                    byte[] chunk = q.chunk(seq);
                    header.append(kind == OutputBuffer.OUT ? "out:" : "err:").append(name).append(':');
                    WallClock.append(header, q.timeMicros(seq));
                    header.append(':').append(chunk.length).append('\n');
                    enqueue(ByteBuffer.wrap(header.toString().getBytes(StandardCharsets.UTF_8)));
                    enqueue(ByteBuffer.wrap(chunk));
                }
            }
            sentUpTo.put(q, end);
        }
        if (any) enqueue(ByteBuffer.wrap(NEWLINE));
        enqueue(ByteBuffer.wrap(BATCH_END));
    }

    private void enqueue(ByteBuffer b) {
        if (!b.hasRemaining()) return;
        pending.add(b);
        pendingBytes += b.remaining();
    }

    /** What Io.write does with each heap buffer: copy it into the per-thread direct scratch buffer. */
    long drainInto(ByteBuffer scratch) {
        long total = 0;
        ByteBuffer b;
        while ((b = pending.poll()) != null) {
            while (b.hasRemaining()) {
                scratch.clear();
                int n = Math.min(scratch.remaining(), b.remaining());
                scratch.put(0, b.array(), b.arrayOffset() + b.position(), n);
                b.position(b.position() + n);
                total += n;
            }
        }
        pendingBytes = 0;
        return total;
    }
}
