package dev.papa.daemon;

import java.nio.file.Path;

/** How a daemon is run: the command-line options of {@link DaemonMain}, as a builder. */
public final class DaemonConfig {
    public static final int DEFAULT_PORT = 20202;
    public static final int DEFAULT_MAX_SESSIONS = 1024;
    /** A client with over 1 MiB of replies unread that reads nothing this long is disconnected. */
    public static final java.time.Duration DEFAULT_SLOW_CLIENT_TIMEOUT = java.time.Duration.ofSeconds(60);
    /** The unix control socket's mode: owner only (docs/SECURITY.md). */
    public static final int DEFAULT_SOCKET_MODE = 0600;

    private int port = DEFAULT_PORT;
    private Path unixSocket;
    private boolean singleSession;
    private boolean debug;
    private Path logFile;
    private String launcher;
    private int maxSessions = DEFAULT_MAX_SESSIONS;
    private java.time.Duration slowClientTimeout = DEFAULT_SLOW_CLIENT_TIMEOUT;
    private final java.util.List<Integer> allowedUids = new java.util.ArrayList<>();
    private int socketMode = DEFAULT_SOCKET_MODE;
    private java.util.List<String> arguments = java.util.List.of();
    private Path portFile;
    private long outputBudget;
    private long pipeSize = -1;
    private long valuesLimit;
    private long childOpenFilesSoft = -1;
    private long lookupTimeoutMillis = dev.papa.daemon.work.Worker.DEFAULT_LOOKUP_TIMEOUT_MILLIS;
    private int maxSessionsPerUser;
    /**
     * The longest request line: Circus sends a watcher's whole environment ({@code copy_env}) in
     * one {@code make process}.
     */
    public static final int DEFAULT_MAX_LINE = 256 * 1024;
    /** The range {@code --max-line} accepts. */
    public static final int MIN_MAX_LINE = 1024, MAX_MAX_LINE = 64 << 20;
    private int maxLine = DEFAULT_MAX_LINE;

    /** TCP port on 127.0.0.1; 0 lets the system choose (see {@link Daemon#port()}). */
    public DaemonConfig port(int port) { this.port = port; return this; }
    /** Write the TCP port the daemon listens on to this file ({@code --port-file}). */
    public DaemonConfig portFile(Path path) { this.portFile = path; return this; }
    /** Serve on this unix socket path instead of TCP. */
    public DaemonConfig unixSocket(Path path) { this.unixSocket = path; return this; }
    /** Exit once the last session closes (after at least one). */
    public DaemonConfig singleSession(boolean on) { this.singleSession = on; return this; }
    public DaemonConfig debug(boolean on) { this.debug = on; return this; }
    public DaemonConfig logFile(Path path) { this.logFile = path; return this; }
    /** The program that started the daemon, for the process title {@code papa daemon from NAME}. */
    public DaemonConfig launcher(String name) { this.launcher = name; return this; }
    public DaemonConfig maxSessions(int n) { this.maxSessions = n; return this; }
    /** The longest request line, in bytes before the newline. */
    public DaemonConfig maxLine(int bytes) { this.maxLine = bytes; return this; }
    public int maxLine() { return maxLine; }
    /** Sessions one non-administrator uid may have at once (0: a quarter of maxSessions). */
    public DaemonConfig maxSessionsPerUser(int n) { this.maxSessionsPerUser = n; return this; }
    public DaemonConfig slowClientTimeout(java.time.Duration d) { this.slowClientTimeout = d; return this; }

    /** Lets this uid connect too (root and the daemon's own uid always may). */
    public DaemonConfig allowUid(int uid) { allowedUids.add(uid); return this; }
    /** Permission bits of the unix control socket file (default 0600). */
    public DaemonConfig socketMode(int mode) { this.socketMode = mode; return this; }

    /** The command-line options this daemon was started with (an upgrade gives them to the new image). */
    /** The keeper's channel when the daemon runs under a keeper (src-c/keeper.c), else null. */
    private dev.papa.daemon.keeper.KeeperLink keeper;
    public DaemonConfig keeper(dev.papa.daemon.keeper.KeeperLink link) { this.keeper = link; return this; }
    public dev.papa.daemon.keeper.KeeperLink keeper() { return keeper; }

    public DaemonConfig arguments(java.util.List<String> args) { this.arguments = java.util.List.copyOf(args); return this; }
    public java.util.List<String> arguments() { return arguments; }
    /** Heap bytes every process's queued output may take together (0: half the JVM's maximum heap). */
    public DaemonConfig outputBudget(long bytes) { this.outputBudget = bytes; return this; }
    /** {@code --pipe-size}: bytes asked of each output pipe (0: the kernel's default; -1: not given, see PipeSize). */
    public DaemonConfig pipeSize(long bytes) { this.pipeSize = bytes; return this; }
    public long pipeSize() { return pipeSize; }
    /** Heap bytes all values may take together (0: an eighth of the maximum heap, at most 64 MiB). */
    public DaemonConfig valuesLimit(long bytes) { this.valuesLimit = bytes; return this; }

    public long outputBudget() {
        return outputBudget > 0 ? outputBudget : dev.papa.daemon.buffer.OutputBudget.defaultLimit();
    }

    public long valuesLimit() {
        return valuesLimit > 0 ? valuesLimit : dev.papa.daemon.table.ValueTable.defaultLimit();
    }

    /**
     * The open-files soft limit the daemon was started with, before it raised its own: children
     * get it unless they give {@code rlimit.nofile}. -1 (the default): children inherit the
     * daemon's limits as they are.
     */
    public DaemonConfig childOpenFilesSoft(long soft) { this.childOpenFilesSoft = soft; return this; }

    public int port() { return port; }
    public long childOpenFilesSoft() { return childOpenFilesSoft; }
    public java.util.List<Integer> allowedUids() { return java.util.List.copyOf(allowedUids); }
    public int socketMode() { return socketMode; }
    public Path unixSocket() { return unixSocket; }
    public Path portFile() { return portFile; }
    public boolean singleSession() { return singleSession; }
    public boolean debug() { return debug; }
    public Path logFile() { return logFile; }
    public String launcher() { return launcher; }
    public int maxSessions() { return maxSessions; }
    public int maxSessionsPerUser() { return maxSessionsPerUser; }
    public java.time.Duration slowClientTimeout() { return slowClientTimeout; }
    /** How long a user, group or host lookup may take before its request gets an error (--lookup-timeout). */
    public DaemonConfig lookupTimeoutMillis(long millis) { this.lookupTimeoutMillis = millis; return this; }
    public long lookupTimeoutMillis() { return lookupTimeoutMillis; }
}
