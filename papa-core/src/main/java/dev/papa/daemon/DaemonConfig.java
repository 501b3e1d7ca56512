package dev.papa.daemon;

import java.nio.file.Path;

/** How a daemon is run: the command-line options of {@link Main}, as a builder. */
public final class DaemonConfig {
    public static final int DEFAULT_PORT = 20202;
    public static final int DEFAULT_MAX_SESSIONS = 1024;

    private int port = DEFAULT_PORT;
    private Path unixSocket;
    private boolean singleSession;
    private boolean debug;
    private Path logFile;
    private String launcher;
    private int maxSessions = DEFAULT_MAX_SESSIONS;

    /** TCP port on 127.0.0.1; 0 lets the system choose (see {@link Daemon#port()}). */
    public DaemonConfig port(int port) { this.port = port; return this; }
    /** Serve on this unix socket path instead of TCP. */
    public DaemonConfig unixSocket(Path path) { this.unixSocket = path; return this; }
    /** Exit once the last session closes (after at least one). */
    public DaemonConfig singleSession(boolean on) { this.singleSession = on; return this; }
    public DaemonConfig debug(boolean on) { this.debug = on; return this; }
    public DaemonConfig logFile(Path path) { this.logFile = path; return this; }
    /** The program that started the daemon, for the process title {@code papa daemon from NAME}. */
    public DaemonConfig launcher(String name) { this.launcher = name; return this; }
    public DaemonConfig maxSessions(int n) { this.maxSessions = n; return this; }

    public int port() { return port; }
    public Path unixSocket() { return unixSocket; }
    public boolean singleSession() { return singleSession; }
    public boolean debug() { return debug; }
    public Path logFile() { return logFile; }
    public String launcher() { return launcher; }
    public int maxSessions() { return maxSessions; }
}
