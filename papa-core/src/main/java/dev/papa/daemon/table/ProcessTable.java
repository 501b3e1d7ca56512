package dev.papa.daemon.table;

import dev.papa.daemon.spawn.ProcessRequest;
import dev.papa.daemon.spawn.Launch;
import dev.papa.daemon.spawn.SpawnSockets;
import dev.papa.daemon.spawn.Activation;
import dev.papa.daemon.spawn.ProcessSpec;

import dev.papa.daemon.buffer.OutputBudget;
import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.principal.Audit;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.Printable;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Sizes;
import dev.papa.daemon.protocol.WallClock;
import dev.papa.daemon.protocol.Words;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Epoll;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.Rlimit;
import dev.papa.posix.SpawnSpec;

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
    /** How long after the exit to wait for descendants to close the pipes before reporting it. */
    static final long PIPE_GRACE_MILLIS = 1000;
    /** What {@code shell=1} runs its command with, as the reference's Popen(shell=True). */
    static final String SHELL = "/bin/sh";
    /** Reads per readiness event before yielding to other descriptors (fairness). */
    private static final int READS_PER_EVENT = 16;
    private static final int READ_SIZE = 65536;
    /** Exit status reported when the status could not be collected (never the case for our own children). */
    static final int UNKNOWN_STATUS = 255;

    private final EventLoop loop;
    private final Worker work;
    private final WallClock clock;
    private final SocketTable sockets;
    private final OutputBudget budget;
    private final PipeGate gate;
    private final DropLog dropLog;
    private final NavigableMap<String, HostedProcess> byName = new TreeMap<>();
    private final Map<Integer, HostedProcess> byPid = new HashMap<>();
    /** Processes no longer listed whose pipes descendants still hold open: drained until EOF. */
    private final java.util.Set<HostedProcess> draining = new java.util.HashSet<>();
    /** Names whose spawn is in flight, with the requests for the same name waiting for it. */
    private final Map<String, List<Runnable>> spawning = new HashMap<>();
    /** Under the keeper: exits are reported by it, pidfds are not polled. */
    private boolean exitsFromKeeper;
    /** Reused for every pipe read: one copy, into the chunk the queue keeps. */
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_SIZE);
    /** After this much captured output, one collection once capture is quiet (see captured()). */
    static final long TRIM_AFTER_BYTES = 32L << 20;
    private long capturedSinceTrim;
    private boolean trimScheduled;
    /** {soft, hard} open-files limit for children that do not ask (the daemon raised its own), or null. */
    private long[] childOpenFiles;
    private TableChanges changes = TableChanges.NONE;

    public ProcessTable(EventLoop loop, Worker work, WallClock clock, SocketTable sockets, OutputBudget budget) {
        this.loop = loop;
        this.work = work;
        this.clock = clock;
        this.sockets = sockets;
        this.budget = budget;
        this.gate = new PipeGate(loop, budget, this::drain);
        this.dropLog = new DropLog(loop);
    }

    /**
     * Children get this open-files limit unless they give {@code rlimit.nofile}: the daemon
     * raises its own soft limit, but programs that use select() or close every descriptor
     * expect the one they were started under.
     */
    public void childOpenFilesLimit(long soft, long hard) {
        childOpenFiles = new long[] {soft, hard};
    }

    /**
     * Who is told of each change to what a state carries of a process (the keeper's journal):
     * added, exited, a pipe closed, its pipe grace begun or over, blocked past it, its exit
     * queued, marked removed, forgotten. Never per output chunk.
     */
    public void changes(TableChanges changes) { this.changes = changes; }

    private void changed(HostedProcess p) {
        changes.process(p.name());
    }

    // ---------------------------------------------------------------- make process

    /**
     * {@code make process NAME [OPTION=VALUE...] EXECUTABLE [ARG...]}. What is wrong with the
     * request itself throws; the rest is answered on the loop, maybe before this returns: the
     * user and group lookups (if any), then the spawn, run on the worker. A name whose spawn is in
     * flight is reserved: a second request for it waits, then gets that process or the "already
     * created" error, as if the two had come one after the other.
     */
    public void make(Principal by, List<String> words, Worker.Answer<Made> answer) throws CommandError {
        if (words.isEmpty()) throw new CommandError("Process requires a name");
        String name = words.remove(0);
        Map<String, String> options = Words.takeOptions(words);
        Names.check("Process", name);
        boolean watch = SocketTable.flag("watch", options.remove("watch"));
        ProcessRequest request = parse(by, name, options, words);
        if (!request.needsLookup()) {
            admit(by, request.prepare(), watch, answer);
            return;
        }
        work.lookup(by, "the user and groups of process " + name, request::prepare, (spec, error) -> {
            if (error != null) answer.accept(null, error);
            else admit(by, spec, watch, answer);
        });
    }

    public record Made(HostedProcess process, boolean watch) {}

    /** Spawns this daemon JVM made, and spawns that failed (list daemon's spawns=, spawn_failures=). */
    private long spawns, spawnFailures;

    public long spawns() { return spawns; }

    public long spawnFailures() { return spawnFailures; }

    /** On the loop, with the prepared spec: the existing process, or a new one once spawned. */
    private void admit(Principal by, ProcessSpec spec, boolean watch, Worker.Answer<Made> answer) {
        String name = spec.name();
        List<Runnable> waiting = spawning.get(name);
        if (waiting != null) {
            waiting.add(() -> admit(by, spec, watch, answer));
            return;
        }
        Launch launch;
        try {
            HostedProcess existing = byName.get(name);
            by.claim(name, existing);
            if (existing != null) {
                if (!existing.spec.equals(spec)) {
                    throw new CommandError("Process for " + name + " has already been created - " + existing.line());
                }
                answer.accept(new Made(existing, watch), null);
                return;
            }
            if (spec.args().isEmpty()) throw new CommandError("No command");
            launch = launch(by, spec);
        } catch (CommandError e) {
            answer.accept(null, e);
            return;
        } catch (RuntimeException | LinkageError e) {
            LOG.log(Level.SEVERE, "make process " + name + " failed", e);
            answer.accept(null, CommandError.internal());
            return;
        }
        spawning.put(name, new ArrayList<>());
        work.spawn(launch::start, (child, error) -> {
            launch.close();
            List<Runnable> next = spawning.remove(name);
            if (error != null) {
                spawnFailures++;
                answer.accept(null, error);
            } else {
                spawns++;
                // Tracked even when the requesting session has gone meanwhile: the process exists.
                HostedProcess p = new HostedProcess(spec, by.uid(), by.isAdmin(), child.pid(), clock.nowMicros(), budget);
                p.pidfd = child.pidfd();
                p.stdout = child.stdout();
                p.stderr = child.stderr();
                track(p);
                Audit.changed(by, "created process " + p.line());
                answer.accept(new Made(p, watch), null);
            }
            for (Runnable r : next) r.run();
        });
    }

    private ProcessRequest parse(Principal by, String name, Map<String, String> options, List<String> args) throws CommandError {
        Map<String, String> env = new LinkedHashMap<>();
        Map<Rlimit, Long> rlimits = new LinkedHashMap<>();
        String workingDir = null;
        String uidText = null;
        String gidText = null;
        long bufsize = 1 << 20;
        int stdout = 1;
        String stderr = "1";
        boolean shell = false;
        Activation activation = Activation.parse(options.remove("sockets"), options.remove("stdin_socket"));
        Overflow overflow = Overflow.parse(options.remove("overflow"));
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
                        noNul("working_dir", value);
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
                    case "shell": // the reference's client sends shell=True; the reference takes any word as true
                        if (value.equals("1") || value.equals("True")) shell = true;
                        else if (value.equals("0") || value.equals("False")) shell = false;
                        else throw new CommandError("Invalid shell \"" + value + "\" - must be 1 or 0");
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
        for (String arg : args) noNul("argument", arg);
        for (String v : env.values()) noNul("environment value", v);
        return new ProcessRequest(by, name, List.copyOf(args), Collections.unmodifiableMap(env), Collections.unmodifiableMap(rlimits),
                workingDir, uidText, gidText, stdout, stderr, bufsize, activation, overflow, shell);
    }

    /** Arguments, environment and paths become C strings: a NUL would silently cut them. */
    private static void noNul(String what, String value) throws CommandError {
        if (value.indexOf('\0') >= 0) throw new CommandError("Invalid " + what + " \"" + Printable.of(value) + "\" - contains a NUL character");
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
        long n = Sizes.parse(text);
        if (n < 0) throw new CommandError("Invalid bufsize \"" + text + "\" - must be a number of bytes, optionally with suffix k, m or g");
        if (n > MAX_BUFSIZE) throw new CommandError("bufsize \"" + text + "\" is over the maximum of 1g");
        return n;
    }

    /**
     * The spawn, built on the loop: socket substitution and passing look at the sockets table.
     * The socket descriptors it passes are duplicates the launch owns until it is closed.
     */
    private Launch launch(Principal by, ProcessSpec spec) throws CommandError {
        SpawnSockets passed = new SpawnSockets(by, sockets, spec.activation());
        try {
            List<String> argv = passed.substitute(spec.name(), spec.args());
            if (spec.shell()) { // the first word is the script, the rest its $0, $1, ...
                List<String> viaShell = new ArrayList<>(List.of(SHELL, "-c"));
                viaShell.addAll(argv);
                argv = viaShell;
            }
            SpawnSpec s = new SpawnSpec(argv);
            passed.resolveActivation();
            passed.applyTo(s, spec.env());
            if (spec.workingDir() != null) s.workingDir(spec.workingDir());
            // A principal's directory and limits are entered and set with its own rights only.
            s.workingDirAfterIdentity(!by.isAdmin()).limitsAfterIdentity(!by.isAdmin());
            if (spec.groups() != null) s.groups(spec.groups());
            if (spec.gid() != null) s.gid(spec.gid());
            if (spec.uid() != null) s.uid(spec.uid());
            for (Map.Entry<Rlimit, Long> r : spec.rlimits().entrySet()) s.rlimit(r.getKey(), r.getValue());
            if (childOpenFiles != null && !spec.rlimits().containsKey(Rlimit.NOFILE)) {
                s.rlimit(Rlimit.NOFILE, childOpenFiles[0], childOpenFiles[1]);
            }
            s.stdout(spec.stdout() == 1 ? SpawnSpec.Output.PIPE : SpawnSpec.Output.NULL);
            s.stderr(spec.stderr().equals("1") ? SpawnSpec.Output.PIPE
                    : spec.stderr().equals("stdout") ? SpawnSpec.Output.STDOUT : SpawnSpec.Output.NULL);
            return new Launch(spec, s, passed);
        } catch (CommandError | RuntimeException e) {
            passed.close();
            throw e;
        }
    }

    /** Registers the pidfd and pipes with the loop. */
    private void track(HostedProcess p) {
        byName.put(p.name(), p);
        changed(p);
        byPid.put(p.pid, p);
        try {
            // null: reaped before an upgrade; under the keeper, exits come from it (exitReported)
            if (p.pidfd != null && !exitsFromKeeper) loop.register(p.pidfd.get(), Epoll.IN, ev -> exited(p));
            gate.open(p);
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
            int room = gate.room(p, READ_SIZE);
            if (room == 0) {
                gate.block(p);
                break;
            }
            int n;
            readBuffer.clear().limit(room);
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
            if (p.keepsOutput()) {
                byte[] chunk = new byte[n];
                readBuffer.flip();
                readBuffer.get(chunk);
                long droppedBefore = p.output.droppedBytes();
                long evictedBefore = budget.evictedBytes();
                p.output.append(kind, clock.nowMicros(), chunk);
                captured(n);
                dropLog.dropped(p.name(), p.output.droppedBytes() - droppedBefore);
                dropLog.budgetEvicted(budget.evictedBytes() - evictedBefore);
                queued = true;
            }
            // A short read emptied the pipe. The loop's epoll is level-triggered and reports the
            // pipe again when more arrives, so the read that would say EAGAIN is saved: one
            // syscall of the few a delivered line costs (docs/PERFORMANCE.md, fleet). After the
            // exit, read on to EOF.
            if (n < READ_SIZE && p.running) break;
        }
        if (queued) notifyWatchers(p);
        if (!p.running && p.stdout == null && p.stderr == null) finish(p);
    }

    private void closePipe(HostedProcess p, byte kind) {
        Fd pipe = kind == OutputBuffer.OUT ? p.stdout : p.stderr;
        if (pipe == null) return;
        changed(p);
        loop.unregister(pipe.get());
        pipe.close();
        if (kind == OutputBuffer.OUT) p.stdout = null;
        else p.stderr = null;
        if (p.stdout == null && p.stderr == null) draining.remove(p);
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
        exited(p, status);
    }

    /**
     * Under the keeper (src-c/keeper.c) processes are its children: it reaps them and reports
     * each exit (dev.papa.daemon.keeper.KeeperLink), and pidfds are not polled here.
     */
    public void exitsFromKeeper() {
        exitsFromKeeper = true;
    }

    /** The keeper reaped p with this status (the code, or minus the signal). */
    public void exitReported(HostedProcess p, int status) {
        if (!p.running || p.gone) return;
        exited(p, status);
    }

    /** The process of this pid in the table, or null. */
    public HostedProcess byPid(int pid) {
        return byPid.get(pid);
    }

    /** The process of this name in the table, or null. */
    public HostedProcess find(String name) {
        return byName.get(name);
    }

    /** Whether a spawn is under way (its pid is not in the table yet). */
    public boolean spawnInFlight() {
        return !spawning.isEmpty();
    }

    private void exited(HostedProcess p, int status) {
        if (p.pidfd != null) p.pidfd.close();
        p.running = false;
        p.exitStatus = status;
        changed(p);
        LOG.info(() -> "Process " + p.name() + " (pid " + p.pid + ") exited with " + p.exitStatus);
        drain(p, OutputBuffer.OUT);
        drain(p, OutputBuffer.ERR);
        if (p.stdout == null && p.stderr == null) {
            finish(p);
            return;
        }
        startPipeGrace(p, PIPE_GRACE_MILLIS);
    }

    /** Descendants hold the pipes open: keep reading for a while, then report anyway. */
    private void startPipeGrace(HostedProcess p, long millis) {
        p.pipeDeadline = loop.schedule(millis, () -> {
            p.pipeDeadline = null;
            changed(p);
            graceOver(p);
        });
        changed(p);
    }

    private void graceOver(HostedProcess p) {
        drain(p, OutputBuffer.OUT);
        drain(p, OutputBuffer.ERR);
        if (p.blocked) {
            // overflow=block: what is still in the pipes is output the process wrote; report its
            // exit only after that was delivered (acknowledge() comes back here)
            p.graceDue = true;
            changed(p);
            LOG.fine(() -> "Process " + p.name() + ": pipe grace over while blocked; its exit follows the output left in its pipes");
            return;
        }
        finish(p); // report the exit now; descendants keep the pipes, which are read until end of file
    }

    /**
     * Room came back in p's queue and in the budget (an acknowledgement, a removal): read the
     * pipes of those that waited for it again.
     */
    private void roomFreed(HostedProcess p) {
        if (gate.acknowledged(p)) resumed(p);
        for (HostedProcess q : gate.budgetFreed(READ_SIZE)) resumed(q);
    }

    private void resumed(HostedProcess p) {
        if (!p.graceDue) return;
        p.graceDue = false;
        changed(p);
        graceOver(p);
    }

    /** Exited and pipes closed (or the grace over): queue the closed item, or forget a removed process. */
    private void finish(HostedProcess p) {
        if (p.gone || p.output.isClosed()) return;
        changed(p);
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
        p.output.acknowledge(endSeq);
        if (p.output.closedAndDelivered()) forget(p);
        roomFreed(p);
    }

    /**
     * Removes {@code p} from the table and closes what the daemon holds of it, except pipes that
     * descendants still hold: those are drained (and what comes is discarded) until end of file.
     */
    private void forget(HostedProcess p) {
        forget(p, false);
    }

    private void forget(HostedProcess p, boolean daemonExit) {
        if (p.gone) return;
        p.gone = true;
        changed(p);
        p.output.release();
        gate.forget(p);
        byName.remove(p.name(), p);
        byPid.remove(p.pid, p);
        if (p.pipeDeadline != null) p.pipeDeadline.cancel();
        if (daemonExit) {
            closePipe(p, OutputBuffer.OUT);
            closePipe(p, OutputBuffer.ERR);
        } else if (p.stdout != null || p.stderr != null) {
            draining.add(p);
        }
        if (p.pidfd != null && p.pidfd.isOpen()) {
            loop.unregister(p.pidfd.get());
            p.pidfd.close();
        }
        for (ProcessWatcher w : new ArrayList<>(p.watchers)) w.processGone(p);
        p.watchers.clear();
        LOG.fine(() -> "Forgot process " + p.name());
    }

    /**
     * Captured output is garbage once acknowledged or evicted. The heap grows with a burst of it,
     * and an idle daemon allocates nothing, so no collection would ever hand that memory back:
     * after {@link #TRIM_AFTER_BYTES} captured, collect once when capture has been quiet for a
     * second and little is queued.
     */
    private void captured(long n) {
        capturedSinceTrim += n;
        if (capturedSinceTrim >= TRIM_AFTER_BYTES && !trimScheduled) scheduleTrim(capturedSinceTrim);
    }

    private void scheduleTrim(long mark) {
        trimScheduled = true;
        loop.schedule(1000, () -> {
            if (capturedSinceTrim - mark > TRIM_AFTER_BYTES / 32 || budget.used() > TRIM_AFTER_BYTES / 32) {
                scheduleTrim(capturedSinceTrim); // still busy: look again later
                return;
            }
            trimScheduled = false;
            capturedSinceTrim = 0;
            System.gc();
        });
    }

    /** What every process's queued output costs on the heap, and its bound. */
    public OutputBudget budget() {
        return budget;
    }

    // ---------------------------------------------------------------- upgrade

    /** Every process in the table, in name order (for the upgrade's snapshot). */
    public java.util.Collection<HostedProcess> all() {
        return java.util.Collections.unmodifiableCollection(byName.values());
    }

    /**
     * Takes back a process from an upgrade's state: its descriptors (close-on-exec again) and
     * where it was in its life; the caller then queues its items again. A process that exited meanwhile is reaped by the
     * first round of the loop (its pidfd is readable).
     */
    public HostedProcess adopt(ProcessSpec spec, int owner, int pid, long startedMicros, Fd pidfd, Fd stdout, Fd stderr,
                               boolean running, int exitStatus, boolean removed, long pipeGraceMillis, boolean graceDue) {
        // An upgrade's process: its owner is an administrator as a session's would be (Principal.of).
        boolean ownerAdmin = owner == 0 || owner == dev.papa.posix.Processes.effectiveUid();
        HostedProcess p = new HostedProcess(spec, owner, ownerAdmin, pid, startedMicros, budget);
        p.graceDue = graceDue; // blocked is found again: the first read of a full queue blocks it
        p.pidfd = pidfd;
        p.stdout = stdout;
        p.stderr = stderr;
        p.running = running;
        p.exitStatus = exitStatus;
        p.removed = removed;
        track(p);
        if (!running && pipeGraceMillis >= 0) startPipeGrace(p, pipeGraceMillis);
        return p;
    }

    // ---------------------------------------------------------------- list, remove, watch

    public NavigableMap<String, HostedProcess> select(Principal by, List<String> patterns, boolean required) throws CommandError {
        return Patterns.select(by, byName, patterns, required, byPid::get, HostedProcess::name);
    }

    public String list(Principal by, List<String> patterns) throws CommandError {
        StringBuilder sb = new StringBuilder();
        for (HostedProcess p : select(by, patterns, false).values()) {
            if (sb.length() > 0) sb.append('\n');
            sb.append(p.line());
        }
        return sb.toString();
    }

    /** Stop keeping output; forget each process at exit (at once if it has exited). */
    public void remove(Principal by, List<String> patterns) throws CommandError {
        for (HostedProcess p : new ArrayList<>(select(by, patterns, true).values())) {
            Audit.changed(by, "removed process " + p.name() + " (pid " + p.pid + ")");
            p.removed = true;
            changed(p);
            p.output.discardAll();
            roomFreed(p); // a removed process is drained, whatever its overflow rule
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

    /** Sockets in the socket table (systemd's STATUS= line). */
    public int socketCount() {
        return sockets.size();
    }

    /** Bytes of output queued, all processes (systemd's STATUS= line, {@code list daemon}'s queued=). */
    public long queuedBytes() {
        long queued = 0;
        for (HostedProcess p : all()) queued += p.output().bytes();
        return queued;
    }

    public int size() {
        return byName.size();
    }

    /** Daemon exit: close our ends of everything; the processes keep running. */
    public void closeAll() {
        for (HostedProcess p : new ArrayList<>(byName.values())) forget(p, true);
        // forgotten processes whose descendants still held pipes: the daemon lets go of them now
        for (HostedProcess p : new ArrayList<>(draining)) {
            closePipe(p, OutputBuffer.OUT);
            closePipe(p, OutputBuffer.ERR);
        }
    }
}
