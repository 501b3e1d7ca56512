package dev.papa.benchmarks.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
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
    private final LoadHarness h;
    private Path writer;
    private Path relay;
    private boolean compiled;

    Fleet(LoadHarness h) {
        this.h = h;
    }

    /** Compiles the writer and the raw relay (resources fleet/*.c) with cc; false (and says why) without a C compiler. */
    private boolean compile() throws IOException, InterruptedException {
        if (compiled) return writer != null;
        compiled = true;
        writer = cc("writer");
        relay = writer == null ? null : cc("relay");
        return writer != null;
    }

    private Path cc(String name) throws IOException, InterruptedException {
        Path src = h.work.resolve("fleet_" + name + ".c");
        Path bin = h.work.resolve("fleet_" + name);
        try (var in = Fleet.class.getResourceAsStream("/fleet/" + name + ".c")) {
            Files.write(src, in.readAllBytes());
        }
        Process cc;
        try {
            cc = new ProcessBuilder("cc", "-O2", "-pthread", "-o", bin.toString(), src.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            System.out.println("  fleet: no C compiler (cc) to build the " + name + ": skipped");
            return null;
        }
        String out = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!cc.waitFor(60, TimeUnit.SECONDS) || cc.exitValue() != 0) {
            System.out.println("  fleet: cc failed for the " + name + ": " + out);
            return null;
        }
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

    /** What the fleet runs against: the papa daemon, or the raw relay (SIGTERM ends either). */
    private record Server(String label, Process process, SocketAddress address) {}

    /** The two phases of one run, and the server's footprint after it. */
    private record Outcome(Server server, Phase startup, Phase steady, int made, long rssKiB, long threads, int nonJitThreads) {}

    /**
     * Runs one fleet (N processes, one line each every {@code periodMs}, steady state measured
     * for {@code steadySeconds}) on a fresh papa daemon, then the same fleet on the raw relay
     * (resources fleet/relay.c: the least a relay of this protocol must do per line, in C), so
     * each figure has its raw limit from the same run.
     */
    void run(int n, int periodMs, int steadySeconds) throws Exception {
        if (!compile()) return;
        Path unix = h.fleetUnix ? h.work.resolve("fleet-papa.sock") : null;
        Process daemon = h.startDaemon(h.daemonFlags, unix);
        Outcome papa = runOnce(n, periodMs, steadySeconds,
                new Server("papa", daemon, unix != null ? UnixDomainSocketAddress.of(unix) : new InetSocketAddress("127.0.0.1", h.port)));
        Outcome raw = relay == null ? null : runOnce(n, periodMs, steadySeconds, startRelay());
        String fleet = "8. fleet N=" + n + " x " + (1000 / periodMs) + " lines/s" + (h.fleetUnix ? " (unix socket)" : "");
        row(fleet, periodMs, n, papa, raw, true);
        row(fleet, periodMs, n, papa, raw, false);
        h.rows.add(new LoadHarness.Row(fleet + ": RSS, threads (no JIT)",
                String.format(Locale.ROOT, "%.1f MiB, %d (%d)", papa.rssKiB / 1024.0, papa.threads, papa.nonJitThreads),
                raw == null ? "" : String.format(Locale.ROOT, "relay %.1f MiB", raw.rssKiB / 1024.0), "(reported)", null));
    }

    private Server startRelay() throws IOException {
        Path unix = h.fleetUnix ? h.work.resolve("fleet-relay.sock") : null;
        if (unix != null) Files.deleteIfExists(unix);
        List<String> cmd = unix == null ? List.of(relay.toString()) : List.of(relay.toString(), unix.toString());
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String line = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII)).readLine();
        if (line == null || !line.startsWith("port ")) {
            p.destroyForcibly();
            throw new IOException("the relay did not start: " + line);
        }
        return new Server("raw relay", p, unix != null ? UnixDomainSocketAddress.of(unix)
                : new InetSocketAddress("127.0.0.1", Integer.parseInt(line.substring(5).trim())));
    }

    private Outcome runOnce(int n, int periodMs, int steadySeconds, Server server) throws Exception {
        long pid = server.process.pid();
        List<Watch> watches = new ArrayList<>();
        Selector sel = Selector.open();
        Phase startup = new Phase("start-up");
        Phase steady = new Phase("steady");
        try {
            long t0 = System.nanoTime();
            long cpu0 = LoadHarness.cpuMillis(pid);
            for (int i = 0; i < n; i++) {
                SocketChannel ch = SocketChannel.open(server.address);
                if (server.address instanceof InetSocketAddress) ch.socket().setTcpNoDelay(true);
                ch.configureBlocking(false);
                Watch w = new Watch(i, ch);
                watches.add(w);
                ch.register(sel, SelectionKey.OP_READ, w);
            }
            // Every session asks at once: the start-up burst a manager causes when it (re)starts a fleet.
            for (Watch w : watches) {
                write(w.ch, "make process fleet" + w.index + " watch=1 " + writer + " " + (periodMs * 1000L) + "\n");
            }
            int[] made = {0};
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120 + n / 10);
            while (made[0] < n && System.nanoTime() < deadline) pump(sel, startup, made);
            startup.seconds = (System.nanoTime() - t0) / 1e9;
            startup.cpuMillis = LoadHarness.cpuMillis(pid) - cpu0;
            long startupEnd = LoadHarness.nowMicros();
            if (made[0] < n) {
                System.out.printf(Locale.ROOT, "  fleet N=%d (%s): only %d of %d processes made within the time bound%n",
                        n, server.label, made[0], n);
            }
            for (Watch w : watches) if (w.pid > 0) h.childPids.add(w.pid);
            // settle for 2 s (not measured), then steady state
            Phase settle = new Phase("settle");
            settle.earlier = startup;
            settle.fromMicros = startupEnd;
            long settleEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (System.nanoTime() < settleEnd) pump(sel, settle, made);
            steady.earlier = settle;
            steady.fromMicros = LoadHarness.nowMicros();
            long s0 = System.nanoTime();
            long c0 = LoadHarness.cpuMillis(pid);
            long end = s0 + TimeUnit.SECONDS.toNanos(steadySeconds);
            while (System.nanoTime() < end) pump(sel, steady, made);
            steady.cpuMillis = LoadHarness.cpuMillis(pid) - c0;
            steady.seconds = (System.nanoTime() - s0) / 1e9;
            long[] st = LoadHarness.status(pid);
            Outcome o = new Outcome(server, startup, steady, made[0], st[0], st[1], LoadHarness.nonJitThreads(pid));
            print(n, periodMs, o, startup);
            print(n, periodMs, o, steady);
            System.out.printf(Locale.ROOT, "  fleet N=%d (%s): RSS %.1f MiB, %d threads (%d without JIT compiler threads)%n",
                    n, server.label, st[0] / 1024.0, st[1], o.nonJitThreads);
            return o;
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
            h.stopDaemon(server.process);
        }
    }

    private static double usPerLine(Phase p) {
        return p.lines == 0 ? Double.NaN : p.cpuMillis * 1000.0 / p.lines;
    }

    private static long[] sorted(long[] a, int n) {
        long[] c = Arrays.copyOf(a, n);
        Arrays.sort(c);
        return c;
    }

    private static String latency(long[] sorted) {
        return LoadHarness.ms(LoadHarness.pct(sorted, 50)) + " / " + LoadHarness.ms(LoadHarness.pct(sorted, 99)) + " / "
                + LoadHarness.ms(LoadHarness.max(sorted));
    }

    private static void print(int n, int periodMs, Outcome o, Phase p) {
        System.out.printf(Locale.ROOT, "  fleet N=%d x %d lines/s, %s, %s (%.1f s, %d made): %d lines, %d lost; "
                        + "capture->delivery p50/p99/max %s ms; write->delivery p50/p99/max %s ms; "
                        + "CPU %d ms = %.1f us/line%n",
                n, 1000 / periodMs, o.server.label, p.label, p.seconds, o.made, p.lines, p.lost,
                latency(sorted(p.capture, p.nCapture)), latency(sorted(p.write, p.nWrite)), p.cpuMillis, usPerLine(p));
    }

    /** The table rows of one phase: papa's figure, the relay's beside it. */
    private void row(String fleet, int periodMs, int n, Outcome papa, Outcome raw, boolean startupPhase) {
        Phase p = startupPhase ? papa.startup : papa.steady;
        Phase r = raw == null ? null : startupPhase ? raw.startup : raw.steady;
        String label = fleet + ", " + p.label;
        long[] cap = sorted(p.capture, p.nCapture);
        boolean scoredLatency = n == 500 && periodMs == 20;
        h.rows.add(new LoadHarness.Row(label + ": capture->delivery p50 / p99 / max", latency(cap) + " ms",
                r == null ? "" : "relay " + latency(sorted(r.capture, r.nCapture)) + " ms",
                "p99 <= 5 ms", scoredLatency ? LoadHarness.pct(cap, 99) <= 5000 : null));
        long[] wr = sorted(p.write, p.nWrite);
        h.rows.add(new LoadHarness.Row(label + ": write->delivery p50 / p99 / max", latency(wr) + " ms",
                r == null ? "" : "relay " + latency(sorted(r.write, r.nWrite)) + " ms",
                "p99 <= 5 ms", scoredLatency ? LoadHarness.pct(wr, 99) <= 5000 : null));
        h.rows.add(new LoadHarness.Row(label + ": lines delivered / lost", p.lines + " / " + p.lost,
                r == null ? "" : "relay " + r.lines + " / " + r.lost, "0 lost", p.lost == 0));
        double us = usPerLine(p);
        h.rows.add(new LoadHarness.Row(label + ": daemon CPU per line", String.format(Locale.ROOT, "%.1f us", us),
                r == null ? "" : String.format(Locale.ROOT, "relay %.1f us", usPerLine(r)), "<= 10 us (N=100)",
                n == 100 && !startupPhase ? us <= 10 : null));
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
                int sp = line.indexOf(' ', at + 5);
                w.pid = Integer.parseInt(line.substring(at + 5, sp < 0 ? line.length() : sp));
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
