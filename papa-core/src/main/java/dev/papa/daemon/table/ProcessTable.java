package dev.papa.daemon.table;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.WallClock;
import dev.papa.daemon.protocol.Words;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Epoll;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.Rlimit;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The processes table: starting processes, capturing their output into their queues, learning
 * of their exit through pidfds, and forgetting them once their exit was delivered.
 */
public final class ProcessTable {
    private static final Logger LOG = Logger.getLogger(ProcessTable.class.getName());

    /** The largest output buffer a process may ask for. */
    public static final long MAX_BUFSIZE = 1L << 30;
    /** At most this many env.* options: an environment, not a data channel. */
    public static final int MAX_ENV = 4096;
    /** How long to keep reading pipes that descendants hold open after the process exited. */
    static final long PIPE_GRACE_MILLIS = 1000;
    /** Reads per readiness event before yielding to other descriptors (fairness). */
    private static final int READS_PER_EVENT = 16;
    private static final int READ_SIZE = 65536;
    /** Exit status reported when the status could not be collected (never the case for our own children). */
    static final int UNKNOWN_STATUS = 255;

    private final EventLoop loop;
    private final Worker work;
    private final WallClock clock;
    private final SocketTable sockets;
    private final NavigableMap<String, HostedProcess> byName = new TreeMap<>();
    private final Map<Integer, HostedProcess> byPid = new HashMap<>();
    /** Names whose spawn is in flight, with the requests for the same name waiting for it. */
    private final Map<String, List<Runnable>> spawning = new HashMap<>();
    /** Reused for every pipe read: one copy, into the chunk the queue keeps. */
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_SIZE);
    /** After this much captured output, one collection once capture is quiet (see queued()). */
    static final long TRIM_AFTER_BYTES = 32L << 20;
    private long queuedBytes;
    private long capturedSinceTrim;
    private boolean trimScheduled;

    public ProcessTable(EventLoop loop, Worker work, WallClock clock, SocketTable sockets) {
        this.loop = loop;
        this.work = work;
        this.clock = clock;
        this.sockets = sockets;
    }

    // ---------------------------------------------------------------- make process

    /**
     * {@code make process NAME [OPTION=VALUE...] EXECUTABLE [ARG...]}. What is wrong with the
     * request itself throws; the rest is answered on the loop, maybe before this returns: user
     * and group lookups (if any), then the spawn, run on the worker. A name whose spawn is in flight is
     * reserved: a second request for it waits, then gets that process or the "already created"
     * error, as if the two had come one after the other.
     */
    public void make(List<String> words, Worker.Answer<Made> answer) throws CommandError {
        if (words.isEmpty()) throw new CommandError("Process requires a name");
        String name = words.remove(0);
        Map<String, String> options = Words.takeOptions(words);
        Names.check("Process", name);
        boolean watch = SocketTable.flag("watch", options.remove("watch"));
        ProcessRequest request = parse(name, options, words);
        if (!request.needsLookup()) {
            admit(request.prepare(), watch, answer);
            return;
        }
        work.run(Worker.Lane.LOOKUP, request::prepare, (spec, error) -> {
            if (error != null) answer.accept(null, error);
            else admit(spec, watch, answer);
        });
    }

    public record Made(HostedProcess process, boolean watch) {}

    /** On the loop, with the prepared spec: the existing process, or a new one once spawned. */
    private void admit(ProcessSpec spec, boolean watch, Worker.Answer<Made> answer) {
        List<Runnable> waiting = spawning.get(spec.name());
        if (waiting != null) {
            waiting.add(() -> admit(spec, watch, answer));
            return;
        }
        HostedProcess existing = byName.get(spec.name());
        if (existing != null) {
            if (existing.spec.equals(spec)) answer.accept(new Made(existing, watch), null);
            else answer.accept(null, new CommandError("Process for " + spec.name() + " has already been created - " + existing.line()));
            return;
        }
        Launch launch;
        try {
            if (spec.args().isEmpty()) throw new CommandError("No command");
            launch = launch(spec);
        } catch (CommandError e) {
            answer.accept(null, e);
            return;
        } catch (RuntimeException | LinkageError e) {
            LOG.log(Level.SEVERE, "make process " + spec.name() + " failed", e);
            answer.accept(null, new CommandError("Internal error: " + e));
            return;
        }
        spawning.put(spec.name(), new ArrayList<>());
        work.run(Worker.Lane.SPAWN, launch::spawn, (child, error) -> {
            launch.close();
            List<Runnable> next = spawning.remove(spec.name());
            if (error != null) {
                answer.accept(null, error);
            } else {
                // Tracked even when the requesting session has gone meanwhile: the process exists.
                HostedProcess p = new HostedProcess(spec, child.pid(), clock.nowMicros());
                p.pidfd = child.pidfd();
                p.stdout = child.stdout();
                p.stderr = child.stderr();
                track(p);
                LOG.info(() -> "Created process " + p.line());
                answer.accept(new Made(p, watch), null);
            }
            for (Runnable r : next) r.run();
        });
    }

    private ProcessRequest parse(String name, Map<String, String> options, List<String> args) throws CommandError {
        Map<String, String> env = new LinkedHashMap<>();
        Map<Rlimit, Long> rlimits = new LinkedHashMap<>();
        String workingDir = null;
        String uidText = null;
        String gidText = null;
        long bufsize = 1 << 20;
        int stdout = 1;
        String stderr = "1";
        for (Map.Entry<String, String> o : options.entrySet()) {
            String key = o.getKey();
            String value = o.getValue();
            if (key.startsWith("env.")) {
                String var = key.substring(4);
                if (var.isEmpty() || var.indexOf('\0') >= 0) throw new CommandError("Invalid environment variable name \"" + var + '"');
                if (env.size() >= MAX_ENV) throw new CommandError("Too many env.* options (at most " + MAX_ENV + ")");
                env.put(var, value);
            } else if (key.startsWith("rlimit.")) {
                String r = key.substring(7);
                Rlimit limit = Rlimit.byName(r.toLowerCase(Locale.ROOT))
                        .orElseThrow(() -> new CommandError("Unknown rlimit \"" + r + '"'));
                rlimits.put(limit, rlimitValue(r, value));
            } else {
                switch (key) {
                    case "working_dir":
                        if (!value.startsWith("/")) throw new CommandError("working_dir must be an absolute path");
                        workingDir = value;
                        break;
                    case "uid": uidText = value.isEmpty() ? null : value; break;
                    case "gid": gidText = value.isEmpty() ? null : value; break;
                    case "bufsize": bufsize = bufsize(value); break;
                    case "stdout":
                        if (!value.equals("0") && !value.equals("1")) throw new CommandError("Invalid stdout \"" + value + "\" - must be 1 or 0");
                        stdout = Integer.parseInt(value);
                        break;
                    case "stderr":
                        if (!value.equals("0") && !value.equals("1") && !value.equals("stdout")) {
                            throw new CommandError("Invalid stderr \"" + value + "\" - must be 1, 0 or stdout");
                        }
                        stderr = value;
                        break;
                    default:
                        throw new CommandError("Unknown process option \"" + key + '"');
                }
            }
        }
        if (bufsize == 0) {
            stdout = 0;
            stderr = "0";
        }
        return new ProcessRequest(name, List.copyOf(args), Collections.unmodifiableMap(env),
                Collections.unmodifiableMap(rlimits), workingDir, uidText, gidText, stdout, stderr, bufsize);
    }

    private static long rlimitValue(String name, String value) throws CommandError {
        String v = value.toLowerCase(Locale.ROOT);
        if (v.equals("infinity") || v.equals("unlimited") || v.equals("-1")) return -1;
        try {
            long l = Long.parseLong(value);
            if (l < 0) throw new NumberFormatException();
            return l;
        } catch (NumberFormatException e) {
            throw new CommandError("The rlimit value for \"" + name + "\" must be an integer, not \"" + value + '"');
        }
    }

    /** {@code 1048576}, {@code 64k}, {@code 1m}, {@code 1g}. */
    static long bufsize(String text) throws CommandError {
        String t = text.trim();
        long unit = 1;
        if (!t.isEmpty()) {
            switch (Character.toLowerCase(t.charAt(t.length() - 1))) {
                case 'k': unit = 1L << 10; break;
                case 'm': unit = 1L << 20; break;
                case 'g': unit = 1L << 30; break;
                default: break;
            }
        }
        String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
        long n;
        try {
            n = Long.parseLong(digits);
            if (n < 0) throw new NumberFormatException();
        } catch (NumberFormatException e) {
            throw new CommandError("Invalid bufsize \"" + text + "\" - must be a number of bytes, optionally with suffix k, m or g");
        }
        if (n > MAX_BUFSIZE / unit) throw new CommandError("bufsize \"" + text + "\" is over the maximum of 1g");
        return n * unit;
    }

    /** Substitutes the socket references and takes duplicates of the sockets the child gets. */
    private Launch launch(ProcessSpec spec) throws CommandError {
        Map<Integer, Fd> passed = new LinkedHashMap<>();
        List<Fd> owned = new ArrayList<>();
        try {
            List<String> argv = substituteSockets(spec, passed, owned);
            return new Launch(spec, List.copyOf(argv), Collections.unmodifiableMap(passed), List.copyOf(owned));
        } catch (CommandError | RuntimeException e) {
            for (Fd fd : owned) fd.close();
            throw e;
        }
    }

    /**
     * Replaces {@code $(socket.NAME.port)} and {@code $(socket.NAME.fileno)}; collects the fds to
     * pass (child's number to an owned descriptor) and everything opened here in {@code owned}.
     */
    private List<String> substituteSockets(ProcessSpec spec, Map<Integer, Fd> passed, List<Fd> owned) throws CommandError {
        List<String> out = new ArrayList<>(spec.args().size());
        for (String arg : spec.args()) {
            int from = 0;
            StringBuilder sb = null;
            int start;
            while ((start = arg.indexOf("$(socket.", from)) >= 0) {
                int nameStart = start + 9;
                int end = arg.indexOf(')', nameStart);
                if (end < 0) {
                    throw new CommandError("Process for " + spec.name() + " argument starts with \"$(socket.\" but has no closing parenthesis");
                }
                String ref = arg.substring(nameStart, end);
                int dot = ref.lastIndexOf('.');
                String part = dot < 0 ? "" : ref.substring(dot + 1);
                if (!part.equals("port") && !part.equals("fileno")) {
                    throw new CommandError("You forgot to specify either \".port\" or \".fileno\" after the name");
                }
                String socketName = ref.substring(0, dot);
                HostedSocket s = sockets.find(socketName);
                if (s == null) throw new CommandError("Socket " + socketName + " not found");
                String replacement;
                if (part.equals("port")) {
                    replacement = Integer.toString(s.port());
                } else {
                    int fd;
                    if (s.reusePort()) {
                        Fd copy = sockets.reusePortCopy(s);
                        owned.add(copy);
                        fd = copy.get();
                        passed.put(fd, copy);
                    } else {
                        fd = s.fileno();
                        if (!passed.containsKey(fd)) {
                            Fd dup = duplicate(s);
                            owned.add(dup);
                            passed.put(fd, dup);
                        }
                    }
                    replacement = Integer.toString(fd);
                }
                if (sb == null) sb = new StringBuilder(arg.length());
                sb.append(arg, from, start).append(replacement);
                from = end + 1;
            }
            if (sb == null) {
                out.add(arg);
            } else {
                sb.append(arg, from, arg.length());
                out.add(sb.toString());
            }
        }
        return out;
    }

    private static Fd duplicate(HostedSocket s) throws CommandError {
        try {
            return Io.dupCloseOnExec(s.fileno());
        } catch (PosixException e) {
            throw new CommandError("Could not pass socket " + s.name() + " - " + e.getMessage());
        }
    }

    /** Registers the pidfd and pipes with the loop. */
    private void track(HostedProcess p) {
        byName.put(p.name(), p);
        byPid.put(p.pid, p);
        try {
            loop.register(p.pidfd.get(), Epoll.IN, ev -> exited(p));
            if (p.stdout != null) loop.register(p.stdout.get(), Epoll.IN, ev -> drain(p, OutputBuffer.OUT));
            if (p.stderr != null) loop.register(p.stderr.get(), Epoll.IN, ev -> drain(p, OutputBuffer.ERR));
        } catch (PosixException e) {
            // epoll can only fail here for lack of memory; the process runs, we cannot watch it.
            LOG.log(Level.SEVERE, "cannot watch process " + p.name(), e);
        }
    }

    // ---------------------------------------------------------------- output and exit

    private void drain(HostedProcess p, byte kind) {
        Fd pipe = kind == OutputBuffer.OUT ? p.stdout : p.stderr;
        if (pipe == null) return;
        boolean queued = false;
        for (int i = 0; i < READS_PER_EVENT; i++) {
            int n;
            readBuffer.clear();
            try {
                n = Io.read(pipe.get(), readBuffer);
            } catch (PosixException e) {
                LOG.log(Level.WARNING, "read from " + p.name() + " failed", e);
                n = Io.EOF;
            }
            if (n == Io.AGAIN) break;
            if (n == Io.EOF) {
                closePipe(p, kind);
                break;
            }
            if (!p.removed) {
                byte[] chunk = new byte[n];
                readBuffer.flip();
                readBuffer.get(chunk);
                long before = p.output.bytes();
                p.output.append(kind, clock.nowMicros(), chunk);
                queued(p.output.bytes() - before);
                queued = true;
            }
        }
        if (queued) notifyWatchers(p);
        if (!p.running && p.stdout == null && p.stderr == null) finish(p);
    }

    private void closePipe(HostedProcess p, byte kind) {
        Fd pipe = kind == OutputBuffer.OUT ? p.stdout : p.stderr;
        if (pipe == null) return;
        loop.unregister(pipe.get());
        pipe.close();
        if (kind == OutputBuffer.OUT) p.stdout = null;
        else p.stderr = null;
    }

    private void exited(HostedProcess p) {
        Integer status;
        try {
            status = Processes.reap(p.pid);
        } catch (PosixException e) {
            // ECHILD: someone else in this JVM reaped it. It has exited; its status is lost.
            LOG.log(Level.SEVERE, "cannot reap " + p.pid + "; reporting exit status " + UNKNOWN_STATUS, e);
            status = UNKNOWN_STATUS;
        }
        if (status == null) return; // not yet: the pidfd will be ready again
        loop.unregister(p.pidfd.get());
        p.pidfd.close();
        p.running = false;
        p.exitStatus = status;
        LOG.info(() -> "Process " + p.name() + " (pid " + p.pid + ") exited with " + p.exitStatus);
        drain(p, OutputBuffer.OUT);
        drain(p, OutputBuffer.ERR);
        if (p.stdout == null && p.stderr == null) {
            finish(p);
            return;
        }
        // Descendants hold the pipes open: keep reading for a while, then report anyway.
        p.pipeDeadline = loop.schedule(PIPE_GRACE_MILLIS, () -> {
            p.pipeDeadline = null;
            drain(p, OutputBuffer.OUT);
            drain(p, OutputBuffer.ERR);
            closePipe(p, OutputBuffer.OUT);
            closePipe(p, OutputBuffer.ERR);
            finish(p);
        });
    }

    /** Exited and pipes closed: queue the closed item, or forget a removed process. */
    private void finish(HostedProcess p) {
        if (p.gone || p.output.isClosed()) return;
        if (p.pipeDeadline != null) {
            p.pipeDeadline.cancel();
            p.pipeDeadline = null;
        }
        if (p.removed) {
            forget(p);
            return;
        }
        p.output.appendClosed(clock.nowMicros(), p.exitStatus);
        notifyWatchers(p);
    }

    private static void notifyWatchers(HostedProcess p) {
        for (int i = p.watchers.size() - 1; i >= 0; i--) p.watchers.get(i).outputQueued(p);
    }

    /** A watcher acknowledged items up to {@code endSeq}; forgets the process once its exit is delivered. */
    public void acknowledge(HostedProcess p, long endSeq) {
        if (p.gone) return;
        long before = p.output.bytes();
        p.output.acknowledge(endSeq);
        queued(p.output.bytes() - before);
        if (p.output.closedAndDelivered()) forget(p);
    }

    /** Removes {@code p} from the table and closes what the daemon holds of it. */
    private void forget(HostedProcess p) {
        if (p.gone) return;
        p.gone = true;
        queued(-p.output.bytes());
        byName.remove(p.name(), p);
        byPid.remove(p.pid, p);
        if (p.pipeDeadline != null) p.pipeDeadline.cancel();
        closePipe(p, OutputBuffer.OUT);
        closePipe(p, OutputBuffer.ERR);
        if (p.pidfd != null && p.pidfd.isOpen()) {
            loop.unregister(p.pidfd.get());
            p.pidfd.close();
        }
        for (ProcessWatcher w : new ArrayList<>(p.watchers)) w.processGone(p);
        p.watchers.clear();
        LOG.info(() -> "Removed process " + p.name());
    }

    /**
     * Captured output is garbage once acknowledged or evicted. The heap grows with a burst of it,
     * and an idle daemon allocates nothing, so no collection would ever hand that memory back:
     * after {@link #TRIM_AFTER_BYTES} captured, collect once when capture has been quiet for a
     * second and little is queued.
     */
    private void queued(long delta) {
        queuedBytes += delta;
        if (delta > 0) capturedSinceTrim += delta;
        if (capturedSinceTrim >= TRIM_AFTER_BYTES && !trimScheduled) scheduleTrim(capturedSinceTrim);
    }

    private void scheduleTrim(long mark) {
        trimScheduled = true;
        loop.schedule(1000, () -> {
            if (capturedSinceTrim - mark > TRIM_AFTER_BYTES / 32 || queuedBytes > TRIM_AFTER_BYTES / 32) {
                scheduleTrim(capturedSinceTrim); // still busy: look again later
                return;
            }
            trimScheduled = false;
            capturedSinceTrim = 0;
            System.gc();
        });
    }

    /** Bytes queued in every process's output buffer. */
    public long queuedBytes() {
        return queuedBytes;
    }

    // ---------------------------------------------------------------- list, remove, watch

    public NavigableMap<String, HostedProcess> select(List<String> patterns, boolean required) throws CommandError {
        return Patterns.select(byName, patterns, required, byPid::get, HostedProcess::name);
    }

    public String list(List<String> patterns) throws CommandError {
        StringBuilder sb = new StringBuilder();
        for (HostedProcess p : select(patterns, false).values()) {
            if (sb.length() > 0) sb.append('\n');
            sb.append(p.line());
        }
        return sb.toString();
    }

    /** Stop keeping output; forget each process at exit (at once if it has exited). */
    public void remove(List<String> patterns) throws CommandError {
        for (HostedProcess p : new ArrayList<>(select(patterns, true).values())) {
            p.removed = true;
            queued(-p.output.bytes());
            p.output.discardAll();
            if (!p.running) {
                forget(p);
            } else {
                for (ProcessWatcher w : new ArrayList<>(p.watchers)) w.processGone(p);
                p.watchers.clear();
            }
        }
    }

    public boolean isEmpty() {
        return byName.isEmpty() && spawning.isEmpty();
    }

    public int size() {
        return byName.size();
    }

    /** Daemon exit: close our ends of everything; the processes keep running. */
    public void closeAll() {
        for (HostedProcess p : new ArrayList<>(byName.values())) forget(p);
    }
}
