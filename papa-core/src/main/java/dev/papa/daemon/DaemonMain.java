package dev.papa.daemon;

import dev.papa.daemon.spawn.PipeSize;
import dev.papa.posix.ProcTitle;
import dev.papa.posix.Spawner;
import dev.papa.posix.Rlimit;

import dev.papa.daemon.log.LastWords;
import dev.papa.daemon.protocol.Printable;
import dev.papa.daemon.state.Carried;
import dev.papa.daemon.state.Restore;
import dev.papa.daemon.state.StateException;
import dev.papa.daemon.table.Patterns;
import dev.papa.daemon.upgrade.Upgrader;
import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * The daemon's command line: parses the options, sets up logging and runs a daemon in the
 * foreground until it stops. The jar's entry point is {@link dev.papa.Main}.
 */
public final class DaemonMain {
    public static final String USAGE = String.join("\n",
            "usage: java -jar papa-core.jar [-p PORT | -u PATH] [--port-file PATH] [-d] [--log-file PATH] [--single-session] [--daemonize]",
            "       java -jar papa-core.jar ctl [-p PORT | -u PATH] COMMAND...",
            "",
            "  -p, --port PORT         TCP port on 127.0.0.1 (default 20202; 0: the kernel chooses one)",
            "  -u, --unix-socket PATH  serve on a unix socket instead of TCP",
            "  --port-file PATH        write the port it listens on to PATH (removed at exit)",
            "  -d, --debug             verbose log",
            "  --log-file PATH         log to PATH instead of stderr",
            "  --single-session        exit when the last client session closes",
            "  --daemonize             detach into the background, print the daemon's pid",
            "  --no-keeper             run the daemon alone, without the keeper (by default the keeper, a small native",
            "                          parent, restarts a daemon JVM that dies, which then loses nothing it hosts)",
            "  --launcher NAME         name shown in the process title (papa daemon from NAME)",
            "  --allow-user NAME       let this user connect too (repeatable; root and the daemon's user always may)",
            "  --allow-uid N           let this uid connect too (repeatable)",
            "  --socket-mode OCTAL     permissions of the unix control socket (default 0600)",
            "  --output-budget SIZE    heap all queued output may take (e.g. 512m; default half the max heap)",
            "  --pipe-size SIZE        each output pipe of a hosted process (0: the kernel's 64k, the default;",
            "                          1m under --keeper with CAP_SYS_RESOURCE or CAP_SYS_ADMIN)",
            "  --lookup-timeout SECS   how long a user, group or host lookup may take (default 5; 0.1 to 300)",
            "  --max-line SIZE         longest request line (default 256k; 1k to 64m)",
            "  --max-sessions N        sessions at once (default 1024; an eighth kept for administrators)",
            "  --max-sessions-per-user N  sessions of one non-administrator uid (default a quarter of the limit)",
            "",
            "Once it serves, the daemon prints \"papa: listening on 127.0.0.1:PORT\" (or the unix socket",
            "path) on stderr, and when it stops \"papa: stopped: REASON\". Exit status: 0 when a",
            "client made it exit, 143 after SIGTERM, 130 after SIGINT, 1 when it could not start,",
            "70 when it died of an error.",
            "");

    /** {@code --lookup-timeout SECS}: seconds, decimals allowed, 0.1 to 300; in milliseconds. */
    static long lookupTimeout(String v) {
        double secs = v.matches("\\d{1,3}(\\.\\d{1,3})?") ? Double.parseDouble(v) : 0;
        if (secs < 0.1 || secs > 300) throw new IllegalArgumentException("invalid --lookup-timeout \"" + v + "\" (seconds, 0.1 to 300)");
        return Math.round(secs * 1000);
    }

    /** MemTotal of /proc/meminfo in bytes, or Long.MAX_VALUE when it cannot be read. */
    static long physicalMemory() {
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            // no figure to check against
        }
        return Long.MAX_VALUE;
    }

    /** The exit code after the daemon died of an error (EX_SOFTWARE); the JVM's own OOM exit is 3. */
    public static final int EXIT_CRASHED = 70;

    /** Start and stop lines reach the log file at the default level (strong reference: keeps its level). */
    private static final Logger LIFECYCLE = Logger.getLogger("dev.papa.daemon.lifecycle");

    private DaemonMain() {}

    /** Runs a foreground daemon until it exits; returns the process exit code. */
    public static int run(String[] args, PrintStream err) {
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        int checkState;
        int restoreState;
        boolean fallback = rest.remove(Upgrader.RESTORE_FALLBACK);
        boolean underKeeper = rest.remove(dev.papa.daemon.keeper.KeeperLink.OPTION);
        DaemonConfig config;
        try {
            checkState = takeDescriptor(rest, Upgrader.CHECK_STATE);
            restoreState = takeDescriptor(rest, Upgrader.RESTORE_STATE);
            config = parse(rest.toArray(new String[0]));
        } catch (IllegalArgumentException e) {
            err.println("papa: " + e.getMessage());
            if (!fallback && Arrays.asList(args).contains(Upgrader.RESTORE_STATE)) {
                return restoreFailed(Arrays.asList(args), err, e);
            }
            err.print(USAGE);
            return 2;
        }
        if (config == null) {
            err.print(USAGE);
            return 0;
        }
        config.arguments(rest);
        if (checkState >= 0) return checkState(checkState, err);
        try {
            configureLogging(config);
        } catch (IOException e) {
            err.println("papa: cannot open log file " + config.logFile() + ": " + e.getMessage());
            if (restoreState >= 0 && !fallback) return restoreFailed(Arrays.asList(args), err, e);
            return 1;
        }
        raiseOpenFilesLimit(config);
        Spawner.pipeSize(PipeSize.choose(config.pipeSize(), underKeeper));
        exitOnUncaughtErrors();
        Daemon daemon;
        try {
            if (underKeeper) {
                daemon = startUnderKeeper(config);
            } else if (restoreState >= 0) {
                try {
                    daemon = Daemon.restore(config, Fd.adopt(restoreState));
                } catch (IOException | StateException | RuntimeException | LinkageError | VirtualMachineError e) {
                    // An Error too: a new jar that lacks a class only the restore needs passed
                    // --check-state; exiting would lose every process, the old image takes them back.
                    if (fallback) throw e;
                    return restoreFailed(Arrays.asList(args), err, e);
                }
            } else {
                daemon = Daemon.start(config);
            }
        } catch (IOException | StateException | RuntimeException e) {
            // A detached daemon's stderr is /dev/null: say it in the log too (--daemonize, auto-start).
            if (config.logFile() != null) Logger.getLogger(DaemonMain.class.getName()).severe("cannot start: " + e.getMessage());
            err.println("papa: " + e.getMessage());
            return 1;
        }
        // SIGTERM and SIGINT stop serving cleanly and leave processes running; the exit status
        // says which signal it was (128 + its number), as a shell reports a process killed by it.
        for (String name : new String[] {"TERM", "INT"}) {
            sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> daemon.stop("SIG" + name));
        }
        Runtime.getRuntime().addShutdownHook(new Thread(daemon::close, "papa-shutdown")); // System.exit elsewhere
        try {
            if (config.portFile() != null) PortFile.write(config.portFile(), daemon.port());
        } catch (IOException e) {
            daemon.close(); // a startup failure like any other: one line, non-zero exit
            if (config.logFile() != null) Logger.getLogger(DaemonMain.class.getName()).severe("cannot start: " + e.getMessage());
            err.println("papa: cannot write the port file " + config.portFile() + ": " + e.getMessage());
            return 1;
        }
        // A hangup (closed terminal, a stray kill -HUP) must not stop a process manager's kernel;
        // the JVM would otherwise treat it like SIGTERM. Children get default dispositions at spawn.
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> Logger.getLogger(DaemonMain.class.getName()).fine("SIGHUP ignored"));
        if (config.launcher() != null) ProcTitle.set("papa daemon from " + config.launcher());
        announce(err, config, "listening on " + daemon.where());
        if (config.keeper() != null) config.keeper().serving();
        // under the keeper, the keeper tells systemd (and this JVM has no NOTIFY_SOCKET)
        SystemdNotify systemd = config.keeper() == null ? SystemdNotify.fromEnvironment(System.getenv()) : null;
        if (systemd != null) systemd.ready(daemon);
        try {
            daemon.awaitExit();
        } catch (InterruptedException e) {
            daemon.close();
        }
        if (config.portFile() != null) PortFile.remove(config.portFile(), daemon.port());
        String reason = java.util.Objects.requireNonNullElse(daemon.stopReason(), "the event loop died");
        if (systemd != null) systemd.stopping(reason);
        announce(err, config, "stopped: " + reason);
        // on purpose (a client, a signal): the keeper ends with this JVM instead of restarting it
        if (config.keeper() != null && daemon.failure() == null) config.keeper().ending();
        if (daemon.failure() != null) return EXIT_CRASHED;
        return reason.equals("SIGTERM") ? 128 + 15 : reason.equals("SIGINT") ? 128 + 2 : 0;
    }

    /**
     * Under the keeper: takes back what it holds. With a state (an earlier JVM of this keeper
     * died), the daemon restores it as after an upgrade; else it starts afresh.
     */
    private static Daemon startUnderKeeper(DaemonConfig config) throws IOException, StateException {
        dev.papa.daemon.keeper.KeeperLink link = dev.papa.daemon.keeper.KeeperLink.connect();
        config.keeper(link);
        if (link.standby()) { // an upgrade's new JVM: takes over once the serving one handed over
            // what a restore needs is loaded and compiled while the serving JVM still serves
            Preload.daemonClasses();
            dev.papa.daemon.keeper.KeeperUpgrade.warmUp(link);
            dev.papa.daemon.keeper.KeeperUpgrade.Serving serving = dev.papa.daemon.keeper.KeeperUpgrade.servingState(link);
            Daemon built = prebuild(config, serving);
            if (built != null) built.warmUpSessions();
            holdStandbyForTest(built != null);
            dev.papa.daemon.keeper.KeeperUpgrade.TakeOver t = dev.papa.daemon.keeper.KeeperUpgrade.awaitTakeOver(link);
            return Daemon.takeOver(config, built, built != null && serving.is(t.state()), t.state(), t.replaced());
        }
        Fd state = link.takeState();
        if (link.restarts() > 0) {
            Logger.getLogger(DaemonMain.class.getName()).warning(() -> "Started by the keeper (pid " + link.keeperPid() + ") after "
                    + link.restarts() + " deaths of the daemon, the last of wait status " + link.lastDeath()
                    + (state == null ? "; no state to take back" : "; taking its state back"));
        }
        return state == null ? Daemon.start(config) : Daemon.restore(config, state);
    }

    /**
     * Test hook: with {@code -Dpapa.test.holdStandby=PATH}, an upgrade's standby says it built
     * its tables (creates PATH.built, or PATH.unbuilt) and waits up to a minute for PATH before
     * it says it is ready, so that a test can change the tables in between.
     */
    static final String HOLD_STANDBY_PROPERTY = "papa.test.holdStandby";

    private static void holdStandbyForTest(boolean built) {
        String path = System.getProperty(HOLD_STANDBY_PROPERTY);
        if (path == null) return;
        try {
            java.nio.file.Files.createFile(java.nio.file.Path.of(path + (built ? ".built" : ".unbuilt")));
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!java.nio.file.Files.exists(java.nio.file.Path.of(path)) && System.nanoTime() < deadline) Thread.sleep(10);
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(HOLD_STANDBY_PROPERTY + ": " + e, e);
        }
    }

    /** The tables of an upgrade's standby, built while the serving JVM serves; null if they cannot be (built at the take-over). */
    private static Daemon prebuild(DaemonConfig config, dev.papa.daemon.keeper.KeeperUpgrade.Serving serving) {
        if (serving == null) return null;
        try {
            return Daemon.prebuild(config, serving.image());
        } catch (IOException | StateException | RuntimeException e) {
            Logger.getLogger(DaemonMain.class.getName()).log(Level.INFO, "Cannot build the tables before the hand-over; built at the take-over", e);
            return null;
        }
    }

    /** A line for whoever started the daemon: on stderr, and in the log file when there is one. */
    private static void announce(PrintStream err, DaemonConfig config, String what) {
        err.println("papa: " + what);
        err.flush();
        if (config.logFile() != null) LIFECYCLE.info(what);
    }

    /** {@code --check-state FD}: reads the whole state as a restore would, prints the version line. */
    private static int checkState(int fd, PrintStream err) {
        try (java.io.InputStream in = Memfd.input(fd)) {
            Restore.read(in);
        } catch (IOException | StateException | RuntimeException e) {
            err.println(e.getMessage());
            return 1;
        }
        System.out.println(Version.line());
        return 0;
    }

    /**
     * This image cannot take over the state an upgrade gave it: hand the state and every
     * descriptor back to the image that wrote it. Returns only if that is impossible too.
     */
    private static int restoreFailed(List<String> args, PrintStream err, Throwable why) {
        Logger log = Logger.getLogger(DaemonMain.class.getName());
        int i = args.indexOf(Upgrader.RESTORE_STATE);
        int fd = i >= 0 && i + 1 < args.size() && Patterns.isNumber(args.get(i + 1)) ? Integer.parseInt(args.get(i + 1)) : -1;
        String what = why instanceof Error ? why.toString() : why.getMessage(); // an Error's message is often a bare class name
        log.log(Level.SEVERE, "Cannot restore the state after an upgrade: " + what, why);
        err.println("papa: cannot restore the state after an upgrade: " + what);
        if (fd < 0) return 1;
        try (java.io.InputStream in = Memfd.input(fd)) {
            Carried.Header header = Restore.header(in);
            log.severe("Falling back to the previous image: " + String.join(" ", header.command()));
            Upgrader.fallBack(header.command(), header.descriptors(), fd);
        } catch (IOException | StateException | RuntimeException e) {
            log.log(Level.SEVERE, "Cannot fall back to the previous image", e);
            err.println("papa: cannot fall back to the previous image: " + e.getMessage());
        }
        return 1;
    }

    /** Removes {@code option FD} from {@code args}; -1 when absent. */
    private static int takeDescriptor(List<String> args, String option) {
        int i = args.indexOf(option);
        if (i < 0) return -1;
        if (i + 1 >= args.size() || !Patterns.isNumber(args.get(i + 1))) throw new IllegalArgumentException(option + " needs a descriptor number");
        int fd = Integer.parseInt(args.get(i + 1));
        args.subList(i, i + 2).clear();
        return fd;
    }

    /**
     * An error on any other thread of the daemon's JVM is fatal too: logged, then the JVM halts
     * non-zero at once (its state may be broken; a supervisor starts a fresh daemon).
     */
    private static void exitOnUncaughtErrors() {
        LastWords.prepare();
        Logger log = Logger.getLogger(DaemonMain.class.getName());
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
            try {
                if (e instanceof Error) LastWords.freeReserve();
                log.log(Level.SEVERE, "uncaught in " + thread.getName() + ": " + e, e);
            } catch (Throwable logFailed) {
                if (e instanceof Error) LastWords.fallback(thread, e); // out of heap even for that: one line made in advance
            } finally {
                if (e instanceof Error) Runtime.getRuntime().halt(EXIT_CRASHED);
            }
        });
    }

    /** Parses the daemon's options; null means help was asked. */
    /**
     * Whether {@code args} start a daemon (rather than print the usage, or fail on a bad option,
     * or run one of the upgrade's own steps): what the keeper is started for (dev.papa.Main).
     */
    public static boolean startsDaemon(List<String> args) {
        for (String internal : List.of(Upgrader.CHECK_STATE, Upgrader.RESTORE_STATE, Upgrader.RESTORE_FALLBACK,
                dev.papa.daemon.keeper.KeeperLink.OPTION)) {
            if (args.contains(internal)) return false;
        }
        try {
            return parse(args.toArray(new String[0])) != null;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    static DaemonConfig parse(String[] args) {
        DaemonConfig c = new DaemonConfig();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                value = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            switch (a) {
                case "-h": case "--help":
                    return null;
                case "-p": case "--port": {
                    String v = value != null ? value : next(args, ++i, a);
                    try {
                        int port = Integer.parseInt(v);
                        if (port < 0 || port > 65535) throw new NumberFormatException();
                        c.port(port);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("invalid port \"" + v + "\"");
                    }
                    break;
                }
                case "-u": case "--unix-socket": {
                    String v = value != null ? value : next(args, ++i, a);
                    if (!v.startsWith("/")) throw new IllegalArgumentException("unix socket path must be absolute: " + v);
                    c.unixSocket(Path.of(v));
                    break;
                }
                case "--port-file":
                    c.portFile(Path.of(value != null ? value : next(args, ++i, a)));
                    break;
                case "-d": case "--debug":
                    c.debug(true);
                    break;
                case "--log-file":
                    c.logFile(Path.of(value != null ? value : next(args, ++i, a)));
                    break;
                case "--single-session":
                    c.singleSession(true);
                    break;
                case "--allow-user": case "--allow-uid": case "--socket-mode":
                    dev.papa.daemon.access.AccessOptions.apply(c, a, value != null ? value : next(args, ++i, a));
                    break;
                case "--output-budget": {
                    String v = value != null ? value : next(args, ++i, a);
                    long n = dev.papa.daemon.protocol.Sizes.parse(v);
                    if (n < dev.papa.daemon.buffer.OutputBudget.MIN_LIMIT) {
                        throw new IllegalArgumentException("invalid output budget \"" + v + "\" (at least 1m; suffix k, m or g)");
                    }
                    long memory = physicalMemory();
                    if (n > memory) { // was taken as Long.MAX_VALUE, silently: no budget at all
                        throw new IllegalArgumentException("invalid output budget \"" + v + "\" (more than this machine's memory, "
                                + memory + " bytes)");
                    }
                    c.outputBudget(n);
                    break;
                }
                case "--pipe-size": {
                    String v = value != null ? value : next(args, ++i, a);
                    long n = dev.papa.daemon.protocol.Sizes.parse(v);
                    if (n != 0 && (n < PipeSize.MIN || n > PipeSize.MAX)) {
                        throw new IllegalArgumentException("invalid --pipe-size \"" + v + "\" (0, or 4k to 1g)");
                    }
                    c.pipeSize(n);
                    break;
                }
                case "--lookup-timeout": {
                    String v = value != null ? value : next(args, ++i, a);
                    c.lookupTimeoutMillis(lookupTimeout(v));
                    break;
                }
                case "--max-line": {
                    String v = value != null ? value : next(args, ++i, a);
                    long n = dev.papa.daemon.protocol.Sizes.parse(v);
                    if (n < DaemonConfig.MIN_MAX_LINE || n > DaemonConfig.MAX_MAX_LINE) {
                        throw new IllegalArgumentException("invalid --max-line \"" + v + "\" (1k to 64m; suffix k or m)");
                    }
                    c.maxLine((int) n);
                    break;
                }
                case "--max-sessions": case "--max-sessions-per-user": {
                    String v = value != null ? value : next(args, ++i, a);
                    int n;
                    try {
                        n = Integer.parseInt(v);
                        if (n < 1) throw new NumberFormatException();
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException(a + " needs a positive number, not \"" + v + "\"");
                    }
                    if (a.equals("--max-sessions")) c.maxSessions(n);
                    else c.maxSessionsPerUser(n);
                    break;
                }
                case "--launcher":
                    c.launcher(value != null ? value : next(args, ++i, a));
                    break;
                default:
                    throw new IllegalArgumentException("unknown option \"" + args[i] + "\"");
            }
        }
        if (c.portFile() != null && c.unixSocket() != null) {
            throw new IllegalArgumentException("--port-file needs a TCP port, not --unix-socket");
        }
        return c;
    }

    private static String next(String[] args, int i, String option) {
        if (i >= args.length) throw new IllegalArgumentException(option + " needs a value");
        return args[i];
    }

    /**
     * Raises the daemon's open-files soft limit to the hard limit (it holds many descriptors)
     * and remembers the soft limit it started with for its children. The JVM raises the limit
     * itself before main unless started with -XX:-MaxFDLimit, as the launchers do; then the
     * limit it started with is unknown and children get the raised one.
     */
    static void raiseOpenFilesLimit(DaemonConfig config) {
        try {
            long[] limit = Rlimit.NOFILE.get();
            config.childOpenFilesSoft(limit[0]);
            if (limit[0] != limit[1]) Rlimit.NOFILE.set(limit[1], limit[1]);
        } catch (IOException e) {
            Logger.getLogger(DaemonMain.class.getName()).log(Level.WARNING, "cannot raise the open files limit", e);
        }
    }

    /**
     * The log file, never through a symbolic link and only a regular file (docs/SECURITY.md):
     * opened natively with O_NOFOLLOW, then reopened through its descriptor's /proc link, which
     * names that very file, for a stream Java can write to.
     */
    private static final int ELOOP = 40, EINVAL = 22, ENXIO = 6; // Io.openLogFile's refusals (ENXIO: a FIFO nobody reads)

    static java.io.OutputStream openLog(Path path) throws IOException {
        try (dev.papa.posix.Fd fd = dev.papa.posix.Io.openLogFile(path.toAbsolutePath().toString())) {
            return new java.io.FileOutputStream("/proc/self/fd/" + fd.get(), true);
        } catch (dev.papa.posix.PosixException e) {
            if (e.errno() == ELOOP) throw new IOException(path + " is a symbolic link, or a directory on its way is one", e);
            if (e.errno() == EINVAL || e.errno() == ENXIO) throw new IOException(path + " is not a regular file", e);
            throw new IOException(e.reason(), e);
        }
    }

    static void configureLogging(DaemonConfig config) throws IOException {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) root.removeHandler(h);
        Handler handler;
        if (config.logFile() != null) {
            java.io.OutputStream file = openLog(config.logFile());
            handler = new StreamHandler(file, new LineFormatter()) {
                @Override
                public synchronized void publish(LogRecord record) {
                    super.publish(record);
                    flush(); // a log is read when something went wrong: never keep lines back
                }
            };
        } else {
            handler = new ConsoleHandler();
        }
        handler.setFormatter(new LineFormatter());
        // Like the reference: quiet unless --debug; a busy daemon must not spend its time logging.
        Level level = config.debug() ? Level.FINE : Level.WARNING;
        handler.setLevel(Level.ALL); // the loggers' levels decide
        root.addHandler(handler);
        Logger.getLogger("dev.papa").setLevel(level);
        LIFECYCLE.setLevel(Level.INFO);
        root.setLevel(Level.WARNING); // libraries (JNA) stay quiet even with --debug
    }

    /** One line per record: time, level, logger, message (and the stack trace, if any). */
    static final class LineFormatter extends Formatter {
        @Override
        public String format(LogRecord r) {
            StringBuilder sb = new StringBuilder(128);
            sb.append(java.time.Instant.ofEpochMilli(r.getMillis())).append(' ').append(r.getLevel().getName())
                    .append(' ').append(r.getLoggerName().replace("dev.papa.daemon.", "")).append(": ")
                    .append(Printable.of(formatMessage(r))).append('\n'); // one line, whatever a client put in it
            if (r.getThrown() != null) {
                java.io.StringWriter w = new java.io.StringWriter();
                r.getThrown().printStackTrace(new java.io.PrintWriter(w));
                sb.append(w);
            }
            return sb.toString();
        }
    }
}
