package dev.papa.benchmarks.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The fleet scenario (issue 11), the way Circus watches: N processes, each writing a
 * timestamped, numbered line every T ms, each watched by its own session ({@code make process
 * NAME watch=1 ...}) that acknowledges every batch. All N sessions are served by one selector
 * thread here, so the harness costs little per line. Measured twice: while the N processes are
 * being started (from the first request to the last reply), and in steady state afterwards.
 * A line belongs to the phase in which it was written (a chunk: in which it was captured), so
 * lines written during the start-up and delivered only after it count for the start-up.
 * Reported: capture->delivery latency (arrival minus the item's header time) and
 * write->delivery (arrival minus the time the writer printed), lines lost (gaps in the
 * numbers), daemon CPU per delivered line (utime+stime of /proc/PID/stat), RSS and threads.
 */
final class Fleet {
    /** The writer: one line "SEQ MICROS\n" per period, on an absolute schedule (no drift), with write(2). */
    private static final String WRITER_C = String.join("\n",
            "#include <stdio.h>",
            "#include <stdlib.h>",
            "#include <time.h>",
            "#include <unistd.h>",
            "int main(int argc, char **argv) {",
            "  long period = atol(argv[1]);",
            "  struct timespec next, now;",
            "  clock_gettime(CLOCK_MONOTONIC, &next);",
            "  char buf[64];",
            "  for (unsigned long seq = 0;; seq++) {",
            "    clock_gettime(CLOCK_REALTIME, &now);",
            "    int n = snprintf(buf, sizeof buf, \"%lu %ld%06ld\\n\", seq, (long) now.tv_sec, now.tv_nsec / 1000);",
            "    if (write(1, buf, n) != n) return 1;",
            "    next.tv_nsec += period * 1000;",
            "    while (next.tv_nsec >= 1000000000) { next.tv_nsec -= 1000000000; next.tv_sec++; }",
            "    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);",
            "  }",
            "}",
            "");

    private final LoadHarness h;
    private Path writer;

    Fleet(LoadHarness h) {
        this.h = h;
    }

    /** Compiles the writer with cc; null (and says why) when there is no C compiler. */
    Path writer() throws IOException, InterruptedException {
        if (writer != null) return writer;
        Path src = h.work.resolve("fleet_writer.c");
        Path bin = h.work.resolve("fleet_writer");
        Files.writeString(src, WRITER_C);
        Process cc;
        try {
            cc = new ProcessBuilder("cc", "-O2", "-o", bin.toString(), src.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            System.out.println("  fleet: no C compiler (cc) to build the writer: skipped");
            return null;
        }
        String out = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!cc.waitFor(60, TimeUnit.SECONDS) || cc.exitValue() != 0) {
            System.out.println("  fleet: cc failed: " + out);
            return null;
        }
        writer = bin;
        return bin;
    }

    /** Latency samples in microseconds, and counts, for one phase. */
    static final class Phase {
        final String label;
        long[] capture = new long[1 << 16];
        int nCapture;
        long[] write = new long[1 << 16];
        int nWrite;
        long lines;
        long lost;
        long cpuMillis;
        double seconds;
        /** Lines written (chunks captured) before this wall-clock time, in microseconds, belong to {@link #earlier}. */
        long fromMicros = Long.MIN_VALUE;
        Phase earlier;

        Phase owner(long writtenMicros) {
            return earlier != null && writtenMicros < fromMicros ? earlier.owner(writtenMicros) : this;
        }

        Phase(String label) {
            this.label = label;
        }

        void capture(long us) {
            if (nCapture == capture.length) capture = Arrays.copyOf(capture, nCapture * 2);
            capture[nCapture++] = us;
        }

        void write(long us) {
            if (nWrite == write.length) write = Arrays.copyOf(write, nWrite * 2);
            write[nWrite++] = us;
        }
    }

    /** One watcher session: greeting, the make reply, then batches. */
    static final class Watch {
        final int index;
        final SocketChannel ch;
        final ByteBuffer in = ByteBuffer.allocate(256 * 1024);
        int state; // 0 greeting, 1 make reply, 2 watching
        long expectedSeq;
        int pid = -1;
        /** Remaining bytes of the chunk being read, -1 when between items. */
        int chunkLeft = -1;
        long chunkMicros;
        final byte[] partial = new byte[64];
        int partialLen;

        Watch(int index, SocketChannel ch) {
            this.index = index;
            this.ch = ch;
        }
    }

    /**
     * Runs one fleet on a fresh daemon: N processes, one line each every {@code periodMs},
     * steady state measured for {@code steadySeconds}.
     */
    void run(int n, int periodMs, int steadySeconds) throws Exception {
        Path bin = writer();
        if (bin == null) return;
        Process daemon = h.startDaemon(h.daemonFlags);
        List<Watch> watches = new ArrayList<>();
        Selector sel = Selector.open();
        Phase startup = new Phase("start-up");
        Phase steady = new Phase("steady");
        Phase[] current = {startup};
        try {
            long t0 = System.nanoTime();
            long cpu0 = LoadHarness.cpuMillis(daemon.pid());
            for (int i = 0; i < n; i++) {
                SocketChannel ch = SocketChannel.open(new InetSocketAddress("127.0.0.1", h.port));
                ch.socket().setTcpNoDelay(true);
                ch.configureBlocking(false);
                Watch w = new Watch(i, ch);
                watches.add(w);
                ch.register(sel, SelectionKey.OP_READ, w);
            }
            // Every session asks at once: the start-up burst a manager causes when it (re)starts a fleet.
            for (Watch w : watches) {
                write(w.ch, "make process fleet" + w.index + " watch=1 " + bin + " " + (periodMs * 1000L) + "\n");
            }
            int[] made = {0};
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120 + n / 10);
            while (made[0] < n && System.nanoTime() < deadline) pump(sel, current[0], made);
            startup.seconds = (System.nanoTime() - t0) / 1e9;
            startup.cpuMillis = LoadHarness.cpuMillis(daemon.pid()) - cpu0;
            long startupEnd = LoadHarness.nowMicros();
            if (made[0] < n) {
                System.out.printf(Locale.ROOT, "  fleet N=%d: only %d of %d processes made within the time bound%n", n, made[0], n);
            }
            for (Watch w : watches) if (w.pid > 0) h.childPids.add(w.pid);
            // settle for 2 s (not measured), then steady state
            Phase settle = new Phase("settle");
            settle.earlier = startup;
            settle.fromMicros = startupEnd;
            current[0] = settle;
            long settleEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (System.nanoTime() < settleEnd) pump(sel, settle, made);
            current[0] = steady;
            steady.earlier = settle;
            steady.fromMicros = LoadHarness.nowMicros();
            long s0 = System.nanoTime();
            long c0 = LoadHarness.cpuMillis(daemon.pid());
            long end = s0 + TimeUnit.SECONDS.toNanos(steadySeconds);
            while (System.nanoTime() < end) pump(sel, steady, made);
            steady.cpuMillis = LoadHarness.cpuMillis(daemon.pid()) - c0;
            steady.seconds = (System.nanoTime() - s0) / 1e9;
            long[] st = LoadHarness.status(daemon.pid());
            int threads = LoadHarness.nonJitThreads(daemon.pid());
            report(n, periodMs, startup, made[0]);
            report(n, periodMs, steady, made[0]);
            System.out.printf(Locale.ROOT, "  fleet N=%d: daemon RSS %.1f MiB, %d threads (%d without JIT compiler threads)%n",
                    n, st[0] / 1024.0, st[1], threads);
            h.rows.add(new LoadHarness.Row("8. fleet N=" + n + " x " + (1000 / periodMs) + " lines/s: RSS, threads (no JIT)",
                    String.format(Locale.ROOT, "%.1f MiB, %d (%d)", st[0] / 1024.0, st[1], threads), "", "(reported)", null));
        } finally {
            for (Watch w : watches) {
                try {
                    w.ch.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
            sel.close();
            for (Watch w : watches) if (w.pid > 0) ProcessHandle.of(w.pid).ifPresent(ProcessHandle::destroyForcibly);
            h.stopDaemon(daemon);
        }
    }

    private void report(int n, int periodMs, Phase p, int made) {
        long[] cap = Arrays.copyOf(p.capture, p.nCapture);
        long[] wr = Arrays.copyOf(p.write, p.nWrite);
        Arrays.sort(cap);
        Arrays.sort(wr);
        double usPerLine = p.lines == 0 ? Double.NaN : p.cpuMillis * 1000.0 / p.lines;
        System.out.printf(Locale.ROOT, "  fleet N=%d x %d lines/s, %s (%.1f s, %d made): %d lines, %d lost; "
                        + "capture->delivery p50 %s / p99 %s / max %s ms; write->delivery p50 %s / p99 %s / max %s ms; "
                        + "daemon CPU %d ms = %.1f us/line%n",
                n, 1000 / periodMs, p.label, p.seconds, made, p.lines, p.lost,
                LoadHarness.ms(LoadHarness.pct(cap, 50)), LoadHarness.ms(LoadHarness.pct(cap, 99)), LoadHarness.ms(LoadHarness.max(cap)),
                LoadHarness.ms(LoadHarness.pct(wr, 50)), LoadHarness.ms(LoadHarness.pct(wr, 99)), LoadHarness.ms(LoadHarness.max(wr)),
                p.cpuMillis, usPerLine);
        String label = "8. fleet N=" + n + " x " + (1000 / periodMs) + " lines/s, " + p.label;
        boolean p99ok = LoadHarness.pct(cap, 99) <= 5000;
        h.rows.add(new LoadHarness.Row(label + ": capture->delivery p50 / p99 / max",
                LoadHarness.ms(LoadHarness.pct(cap, 50)) + " / " + LoadHarness.ms(LoadHarness.pct(cap, 99)) + " / "
                        + LoadHarness.ms(LoadHarness.max(cap)) + " ms",
                "", "p99 <= 5 ms", n == 500 && periodMs == 20 ? p99ok : null));
        h.rows.add(new LoadHarness.Row(label + ": lines delivered / lost", p.lines + " / " + p.lost, "", "0 lost", p.lost == 0));
        h.rows.add(new LoadHarness.Row(label + ": daemon CPU per line",
                String.format(Locale.ROOT, "%.1f us", usPerLine), "", "<= 10 us (N=100)",
                n == 100 && p.label.equals("steady") ? usPerLine <= 10 : null));
    }

    private static void write(SocketChannel ch, String s) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (b.hasRemaining()) {
            ch.write(b);
            if (b.hasRemaining() && System.nanoTime() > deadline) throw new IOException("daemon does not take requests");
        }
    }

    private static final ByteBuffer ACK = ByteBuffer.wrap(new byte[] {'\n'});

    /** One select round: reads what arrived on every ready session and parses it. */
    private void pump(Selector sel, Phase phase, int[] made) throws IOException {
        if (sel.select(100) == 0) return;
        long now = LoadHarness.nowMicros();
        for (var it = sel.selectedKeys().iterator(); it.hasNext(); ) {
            SelectionKey k = it.next();
            it.remove();
            Watch w = (Watch) k.attachment();
            int r = w.ch.read(w.in);
            if (r < 0) throw new IOException("daemon closed session " + w.index);
            w.in.flip();
            parse(w, phase, now, made);
            w.in.compact();
        }
    }

    private void parse(Watch w, Phase phase, long now, int[] made) throws IOException {
        ByteBuffer b = w.in;
        while (b.hasRemaining()) {
            if (w.state == 0) { // greeting: up to "> "
                int end = find(b, (byte) '>');
                if (end < 0 || end + 1 >= b.limit()) return;
                b.position(end + 2);
                w.state = 1;
            } else if (w.state == 1) { // "NAME pid=PID ...\n" or an error
                int nl = find(b, (byte) '\n');
                if (nl < 0) return;
                String line = text(b, b.position(), nl);
                b.position(nl + 1);
                if (!line.startsWith("fleet")) throw new IOException("make process failed: " + line);
                int at = line.indexOf(" pid=");
                w.pid = Integer.parseInt(line.substring(at + 5, line.indexOf(' ', at + 5)));
                w.state = 2;
                made[0]++;
            } else if (w.chunkLeft >= 0) {
                int take = Math.min(w.chunkLeft, b.remaining());
                for (int i = 0; i < take; i++) {
                    byte c = b.get();
                    if (c == '\n') {
                        line(w, phase, now);
                        w.partialLen = 0;
                    } else if (w.partialLen < w.partial.length) {
                        w.partial[w.partialLen++] = c;
                    }
                }
                w.chunkLeft -= take;
                if (w.chunkLeft > 0) return;
                if (!b.hasRemaining()) {
                    w.chunkLeft = 0; // the newline after the chunk is still to come
                    return;
                }
                if (b.get() != '\n') throw new IOException("no newline after a chunk");
                w.chunkLeft = -1;
            } else {
                byte first = b.get(b.position());
                if (first == ']') {
                    if (b.remaining() < 2) return;
                    b.position(b.position() + 2);
                    ACK.rewind();
                    w.ch.write(ACK);
                    continue;
                }
                int nl = find(b, (byte) '\n');
                if (nl < 0) return;
                int from = b.position();
                int c1 = indexOf(b, from, nl, (byte) ':');
                int c3 = lastIndexOf(b, from, nl, (byte) ':');
                int c2 = lastIndexOf(b, from, c3, (byte) ':');
                if (c1 < 0 || c2 <= c1) throw new IOException("bad header: " + text(b, from, nl));
                if (b.get(from) == 'c') throw new IOException("fleet process exited: " + text(b, from, nl));
                w.chunkMicros = micros(b, c2 + 1, c3);
                w.chunkLeft = (int) number(b, c3 + 1, nl);
                b.position(nl + 1);
                phase.owner(w.chunkMicros).capture(now - w.chunkMicros);
            }
        }
    }

    /** A complete writer line "SEQ MICROS". */
    private static void line(Watch w, Phase phase, long now) {
        int sp = -1;
        for (int i = 0; i < w.partialLen; i++) if (w.partial[i] == ' ') sp = i;
        if (sp < 0) return;
        long seq = Watcher.parseLong(w.partial, 0, sp);
        long us = Watcher.parseLong(w.partial, sp + 1, w.partialLen);
        Phase p = phase.owner(us);
        if (seq > w.expectedSeq) p.lost += seq - w.expectedSeq;
        w.expectedSeq = seq + 1;
        p.lines++;
        p.write(now - us);
    }

    private static int find(ByteBuffer b, byte x) {
        for (int i = b.position(); i < b.limit(); i++) if (b.get(i) == x) return i;
        return -1;
    }

    private static int indexOf(ByteBuffer b, int from, int to, byte x) {
        for (int i = from; i < to; i++) if (b.get(i) == x) return i;
        return -1;
    }

    private static int lastIndexOf(ByteBuffer b, int from, int before, byte x) {
        for (int i = before - 1; i >= from; i--) if (b.get(i) == x) return i;
        return -1;
    }

    private static long number(ByteBuffer b, int from, int to) {
        long v = 0;
        for (int i = from; i < to; i++) v = v * 10 + (b.get(i) - '0');
        return v;
    }

    private static long micros(ByteBuffer b, int from, int to) {
        byte[] t = new byte[to - from];
        for (int i = 0; i < t.length; i++) t[i] = b.get(from + i);
        return Watcher.parseMicros(t, 0, t.length);
    }

    private static String text(ByteBuffer b, int from, int to) {
        byte[] t = new byte[to - from];
        for (int i = 0; i < t.length; i++) t[i] = b.get(from + i);
        return new String(t, StandardCharsets.UTF_8);
    }
}
