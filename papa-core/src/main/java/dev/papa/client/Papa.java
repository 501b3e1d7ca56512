package dev.papa.client;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A client of the papa daemon: one session over TCP (127.0.0.1, port 20202 by default) or a Unix
 * socket, with every command of the protocol as a typed method.
 *
 * <pre>{@code
 * try (Papa papa = Papa.connect()) {
 *     SocketInfo web = papa.makeSocket("web", new SocketOptions().port(8080));
 *     ProcessInfo p = papa.makeProcess("web.1", new ProcessOptions().env("PATH", "/usr/bin:/bin"),
 *             "my-server", "--fd", "$(socket.web.fileno)");
 *     try (Watcher w = papa.watchProcesses("web.*")) {
 *         for (WatchBatch b; (b = w.read().orElse(null)) != null; ) {
 *             b.out().forEach(c -> System.out.print(c.text()));
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p><b>Threads.</b> A {@code Papa} is for one thread at a time (it is one conversation with the
 * daemon); give each thread its own, or guard it with a lock. Any number of {@code Papa}s may be
 * used concurrently, in one JVM or many. A {@link Watcher} it returns may be handed to another
 * thread: it has a connection of its own.
 *
 * <p><b>Defaults.</b> {@link #connect()} uses the process-wide defaults: the endpoint
 * ({@link #setDefaultPort}, {@link #setDefaultPath}; initially the system property {@code papa.unixSocket}
 * or {@code papa.port}, else the environment variable {@code PAPA_UNIX_SOCKET} or {@code PAPA_PORT},
 * else port 20202), the connection timeout ({@link #setDefaultTimeout}, 10 s) and auto-start
 * ({@link #setDefaultAutoStart}; on unless the system property {@code papa.autoStart} or the
 * environment variable {@code PAPA_AUTO_START} is {@code false}).
 *
 * <p><b>Auto-start.</b> When nothing answers and auto-start is on, the client starts a daemon for
 * the endpoint, detached (see {@link DaemonLauncher}), and retries every 0.1 s until the connection
 * timeout. Concurrent callers in one JVM start one daemon. A failure says why, with the tail of the
 * daemon's log.
 *
 * <p><b>Escaping.</b> Names, patterns, arguments and option values are escaped so that spaces and
 * any Unicode arrive intact; option values (environment, working directory, ...) that end in a
 * backslash or white space are quoted so that they arrive intact too. The protocol itself sets
 * three limits: a newline arrives as a space, and a plain word (argument, {@code set} value, name)
 * can be neither empty nor end in a backslash or a space; such words are refused with an
 * {@link IllegalArgumentException} instead of being sent mangled.
 */
public final class Papa implements AutoCloseable {
    private static volatile Endpoint defaultEndpoint = initialEndpoint();
    private static volatile Duration defaultTimeout = Duration.ofSeconds(10);
    private static volatile boolean defaultAutoStart = initialAutoStart();
    private static volatile boolean defaultCheckDaemonOwner = !isOff(System.getProperty("papa.checkDaemonOwner",
            System.getenv("PAPA_CHECK_DAEMON_OWNER")));

    private final Endpoint endpoint;
    private final Duration timeout;
    private final boolean autoStart;
    private final boolean checkDaemonOwner;
    private Connection conn;
    private final AtomicReference<Connection> spare = new AtomicReference<>();
    private volatile boolean closed;

    private Papa(Endpoint endpoint, Duration timeout, boolean autoStart, boolean checkDaemonOwner) throws PapaException {
        this.endpoint = Objects.requireNonNull(endpoint, "endpoint");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.autoStart = autoStart;
        this.checkDaemonOwner = checkDaemonOwner;
        this.conn = open();
    }

    // ---------------------------------------------------------------- defaults and factories

    private static Endpoint initialEndpoint() {
        try {
            String path = System.getProperty("papa.unixSocket", System.getenv("PAPA_UNIX_SOCKET"));
            if (path != null && !path.isBlank()) {
                return Endpoint.unix(Path.of(path));
            }
            String port = System.getProperty("papa.port", System.getenv("PAPA_PORT"));
            if (port != null && !port.isBlank()) {
                return Endpoint.tcp(Integer.parseInt(port.trim()));
            }
        } catch (RuntimeException e) {
            // fall back to the default port
        }
        return Endpoint.tcp(Endpoint.DEFAULT_PORT);
    }

    private static boolean initialAutoStart() {
        return !isOff(System.getProperty("papa.autoStart", System.getenv("PAPA_AUTO_START")));
    }

    private static boolean isOff(String v) {
        return v != null && (v.trim().equalsIgnoreCase("false") || v.trim().equals("0")
                || v.trim().equalsIgnoreCase("no") || v.trim().equalsIgnoreCase("off"));
    }

    /** Makes {@link #connect()} use this TCP port on 127.0.0.1. */
    public static void setDefaultPort(int port) {
        defaultEndpoint = Endpoint.tcp(port);
    }

    /** Makes {@link #connect()} use this Unix socket. */
    public static void setDefaultPath(Path unixSocket) {
        defaultEndpoint = Endpoint.unix(unixSocket);
    }

    public static Endpoint defaultEndpoint() {
        return defaultEndpoint;
    }

    /** How long to wait for a daemon to answer (and to start, with auto-start), and for each reply. */
    public static void setDefaultTimeout(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive");
        }
        defaultTimeout = timeout;
    }

    public static Duration defaultTimeout() {
        return defaultTimeout;
    }

    /** Whether a client that finds no daemon starts one. */
    public static void setDefaultAutoStart(boolean on) {
        defaultAutoStart = on;
    }

    public static boolean defaultAutoStart() {
        return defaultAutoStart;
    }

    /** Connects with the process-wide defaults. */
    public static Papa connect() throws PapaException {
        return builder().connect();
    }

    /** Connects to 127.0.0.1:port. */
    public static Papa connect(int port) throws PapaException {
        return builder().port(port).connect();
    }

    /** Connects to a Unix socket. */
    public static Papa connect(Path unixSocket) throws PapaException {
        return builder().path(unixSocket).connect();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Connection settings; anything not set comes from the process-wide defaults. */
    public static final class Builder {
        private Endpoint endpoint;
        private Duration timeout;
        private Boolean autoStart;
        private Boolean checkDaemonOwner;

        private Builder() {
        }

        public Builder port(int port) {
            endpoint = Endpoint.tcp(port);
            return this;
        }

        public Builder path(Path unixSocket) {
            endpoint = Endpoint.unix(unixSocket);
            return this;
        }

        public Builder endpoint(Endpoint endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        public Builder autoStart(boolean on) {
            this.autoStart = on;
            return this;
        }

        /**
         * Talk only to a daemon run by root or by this process's uid (default on; the system
         * property {@code papa.checkDaemonOwner=false} or {@code PAPA_CHECK_DAEMON_OWNER=false}
         * changes the default). Off, a local user who took the daemon's address first would
         * receive every command. See docs/SECURITY.md.
         */
        public Builder checkDaemonOwner(boolean on) {
            this.checkDaemonOwner = on;
            return this;
        }

        public Papa connect() throws PapaException {
            return new Papa(endpoint != null ? endpoint : defaultEndpoint,
                    timeout != null ? timeout : defaultTimeout,
                    autoStart != null ? autoStart : defaultAutoStart,
                    checkDaemonOwner != null ? checkDaemonOwner : defaultCheckDaemonOwner);
        }
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    public Duration timeout() {
        return timeout;
    }

    // ---------------------------------------------------------------- sockets

    /** {@code list sockets [PATTERN...]}: the matching sockets by name, sorted. */
    public Map<String, SocketInfo> listSockets(String... patterns) throws PapaException {
        return listed(command(words("list", "sockets"), patterns), SocketInfo::parse, SocketInfo::name);
    }

    private interface LineParser<T> {
        T parse(String line) throws PapaException;
    }

    /** A list reply, one item a line, as an unmodifiable map by name in reply order (sorted). */
    private static <T> Map<String, T> listed(String reply, LineParser<T> parser,
                                             java.util.function.Function<T, String> name) throws PapaException {
        Map<String, T> r = new LinkedHashMap<>();
        for (String line : lines(reply)) {
            T item = parser.parse(line);
            r.put(name.apply(item), item);
        }
        return Collections.unmodifiableMap(r);
    }

    /** {@code make socket NAME} with the daemon's defaults. */
    public SocketInfo makeSocket(String name) throws PapaException {
        return makeSocket(name, new SocketOptions());
    }

    /** {@code make socket NAME OPTIONS...}. */
    public SocketInfo makeSocket(String name, SocketOptions options) throws PapaException {
        List<String> w = words("make", "socket");
        w.add(Words.word(name));
        w.addAll(options.words());
        return SocketInfo.parse(command(w));
    }

    /** {@code remove sockets PATTERN...}. */
    public void removeSockets(String... patterns) throws PapaException {
        command(words("remove", "sockets"), patterns);
    }

    /**
     * {@code take sockets PATTERN...}: this process's own descriptors for the matching sockets
     * (SCM_RIGHTS over a unix connection of its own), in the order of their sorted lines; each
     * is owned by the caller. The daemon keeps its copies, so a server may serve on them, exit
     * and take them again without a connection ever being refused. An exact name that does
     * not exist is an error; at most 253 in one call. Over TCP the daemon refuses.
     */
    public List<TakenSocket> takeSockets(String... patterns) throws PapaException {
        List<String> w = words("take", "sockets");
        for (String p : patterns) {
            w.add(Words.word(p));
        }
        if (!endpoint.isUnix()) {
            command(w); // the daemon answers "descriptor passing needs the unix control socket"
            throw new PapaException(PapaException.Kind.PROTOCOL, "take sockets over TCP did not fail");
        }
        FdExchange.Reply r = FdExchange.request(endpoint.path(), Words.line(w), new int[0], timeout);
        List<TakenSocket> taken = new ArrayList<>();
        try {
            List<String> lines = lines(r.text());
            if (lines.size() != r.fds().length) {
                throw new PapaException(PapaException.Kind.PROTOCOL, "papa sent " + r.fds().length
                        + " descriptors for " + lines.size() + " sockets");
            }
            for (int i = 0; i < lines.size(); i++) {
                taken.add(new TakenSocket(SocketInfo.parse(lines.get(i)), r.fds()[i]));
            }
            return Collections.unmodifiableList(taken);
        } catch (PapaException | RuntimeException e) {
            for (dev.papa.posix.Fd f : r.fds()) {
                f.close();
            }
            throw e;
        }
    }

    /**
     * {@code make socket NAME adopt=1} with {@code fd} attached: the daemon keeps its own
     * duplicate of this socket as NAME (family, type, address, port and backlog as the kernel
     * tells them). The caller still owns {@code fd}. Over TCP the daemon refuses.
     */
    public SocketInfo adoptSocket(String name, int fd) throws PapaException {
        List<String> w = words("make", "socket");
        w.add(Words.word(name));
        w.add("adopt=1");
        if (!endpoint.isUnix()) {
            command(w);
            throw new PapaException(PapaException.Kind.PROTOCOL, "adopt over TCP did not fail");
        }
        FdExchange.Reply r = FdExchange.request(endpoint.path(), Words.line(w), new int[] {fd}, timeout);
        for (dev.papa.posix.Fd f : r.fds()) {
            f.close(); // none expected
        }
        return SocketInfo.parse(r.text());
    }

    // ---------------------------------------------------------------- values

    /** {@code set NAME VALUE}; a null or empty value deletes the name. */
    public void set(String name, String value) throws PapaException {
        List<String> w = words("set");
        w.add(Words.word(name));
        if (value != null && !value.isEmpty()) {
            w.add(Words.word(value));
        }
        command(w);
    }

    /** {@code get NAME}: the value, or null when there is none. */
    public String get(String name) throws PapaException {
        List<String> w = words("get");
        w.add(Words.word(name));
        String r = command(w);
        return r.isEmpty() ? null : r;
    }

    /** {@code list values [PATTERN...]}: the matching values by name, sorted. */
    public Map<String, String> listValues(String... patterns) throws PapaException {
        Map<String, String> r = new LinkedHashMap<>();
        for (String line : lines(command(words("list", "values"), patterns))) {
            int sp = line.indexOf(' ');
            if (sp < 0) {
                r.put(line, "");
            } else {
                r.put(line.substring(0, sp), line.substring(sp + 1));
            }
        }
        return Collections.unmodifiableMap(r);
    }

    /** {@code remove values PATTERN...} (at least one pattern; {@code *} alone is refused by the daemon). */
    public void removeValues(String... patterns) throws PapaException {
        command(words("remove", "values"), patterns);
    }

    // ---------------------------------------------------------------- processes

    /** {@code list processes [PATTERN...]}: the matching processes by name, sorted. */
    public Map<String, ProcessInfo> listProcesses(String... patterns) throws PapaException {
        return listed(command(words("list", "processes"), patterns), ProcessInfo::parse, ProcessInfo::name);
    }

    /** {@code make process NAME OPTIONS... EXECUTABLE ARGS...}. */
    public ProcessInfo makeProcess(String name, ProcessOptions options, String executable, String... args)
            throws PapaException {
        return makeProcess(name, options, command(executable, args));
    }

    /** {@code make process NAME OPTIONS... COMMAND...} (the executable, then its arguments). */
    public ProcessInfo makeProcess(String name, ProcessOptions options, List<String> command) throws PapaException {
        return ProcessInfo.parse(command(makeProcessWords(name, options, command, false)));
    }

    /**
     * {@code make process ... watch=1}: makes the process and watches it from its first byte of
     * output. The watcher's {@link Watcher#process()} is the process made.
     */
    public Watcher makeProcessAndWatch(String name, ProcessOptions options, String executable, String... args)
            throws PapaException {
        return makeProcessAndWatch(name, options, command(executable, args));
    }

    /** Like {@link #makeProcessAndWatch(String, ProcessOptions, String, String...)}. */
    public Watcher makeProcessAndWatch(String name, ProcessOptions options, List<String> command) throws PapaException {
        return sendWatch(makeProcessWords(name, options, command, true), true);
    }

    /** {@code remove processes PATTERN...}: the daemon stops keeping their output (the processes keep running). */
    public void removeProcesses(String... patterns) throws PapaException {
        command(words("remove", "processes"), patterns);
    }

    /**
     * {@code watch processes PATTERN...}. The watcher takes over this {@code Papa}'s connection;
     * the next command here opens a new one.
     */
    public Watcher watchProcesses(String... patterns) throws PapaException {
        List<String> w = words("watch", "processes");
        for (String p : patterns) {
            w.add(Words.word(p));
        }
        return sendWatch(w, false);
    }

    /**
     * Sends a watching command given as words ({@code watch processes PATTERN...}, abbreviations
     * allowed, or {@code make process ... watch=1 ...}) and returns the watcher.
     */
    public Watcher executeWatch(List<String> words) throws PapaException {
        boolean make = Commands.isMakeProcessWithWatch(words);
        if (!make && (words.isEmpty() || !"watch".equals(Commands.resolve(words.get(0))))) {
            throw new IllegalArgumentException("Not a watching command: " + words);
        }
        List<String> w = new ArrayList<>();
        for (String word : words) {
            w.add(Words.word(word));
        }
        return sendWatch(w, make);
    }

    /** Sends a watching command; the connection passes to the returned watcher. */
    private Watcher sendWatch(List<String> w, boolean make) throws PapaException {
        Connection c = connection();
        String line;
        try {
            c.sendLine(Words.line(w));
            line = c.readLine(replyDeadline());
        } catch (IOException e) {
            throw fail(e);
        }
        conn = null;
        return make ? madeWatcher(c, line) : watcher(c, line);
    }

    private Watcher madeWatcher(Connection c, String line) throws PapaException {
        try {
            return new Watcher(this, c, 1, ProcessInfo.parse(line));
        } catch (PapaException e) {
            c.close();
            throw e;
        }
    }

    private Watcher watcher(Connection c, String line) throws PapaException {
        if (!line.startsWith("Watching ")) {
            c.close();
            throw new PapaException(PapaException.Kind.PROTOCOL, "Unexpected reply to watch: \"" + line + "\"");
        }
        int n;
        try {
            n = Integer.parseInt(line.substring("Watching ".length()).trim());
        } catch (NumberFormatException e) {
            n = Integer.MAX_VALUE;
        }
        return new Watcher(this, c, n, null);
    }

    // ---------------------------------------------------------------- misc

    /**
     * {@code exit-if-idle}: asks the daemon to exit when it holds no process, socket or value.
     *
     * @return true when the daemon is exiting (this session is then closed)
     */
    public boolean exitIfIdle() throws PapaException {
        String r = command(words("exit-if-idle"));
        if (r.startsWith("Exiting")) {
            dropConnection();
            return true;
        }
        return false;
    }

    /** {@code version}: the daemon's version, build and state format, one line. */
    public String version() throws PapaException {
        return command(words("version"));
    }

    /**
     * {@code list daemon}: the daemon's facts, {@code key=value} lines as a map in the daemon's
     * order ({@code version}, {@code daemon}, {@code restarts}, {@code queued}, ...; PROTOCOL.md
     * Part 2). A user other than an administrator gets only the counts of what it owns.
     */
    public Map<String, String> listDaemon() throws PapaException {
        Map<String, String> facts = new LinkedHashMap<>();
        for (String line : lines(command(words("list", "daemon")))) {
            int eq = line.indexOf('=');
            if (eq <= 0) throw new PapaException(PapaException.Kind.PROTOCOL, "Unexpected list daemon line from papa: \"" + line + "\"");
            facts.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return Collections.unmodifiableMap(facts);
    }

    /** {@link #upgrade(Path, Path)} with the java the daemon runs on now. */
    public String upgrade(Path jar) throws PapaException {
        return upgrade(jar, null);
    }

    /**
     * {@code upgrade [java=JAVA] JAR} (administrators only): the daemon checks that {@code jar}
     * reads its state, then re-executes itself on it, in the same pid, keeping its values,
     * sockets, processes and their unacknowledged output. This session is closed by it; the
     * next command connects again (and waits, in the listen backlog, until the new image serves).
     *
     * @param jar  the new papa-core.jar (null: the daemon's own jar again)
     * @param java the java binary to run it with (null: the daemon's)
     * @return the version line the daemon upgrades to
     */
    public String upgrade(Path jar, Path java) throws PapaException {
        List<String> w = words("upgrade");
        if (java != null) {
            w.add(Words.word("java=" + java.toAbsolutePath()));
        }
        if (jar != null) {
            w.add(Words.word(jar.toAbsolutePath().toString()));
        }
        Connection c = connection();
        try {
            c.sendLine(Words.line(w));
            // The daemon first runs the new jar once to check it: allow for a slow JVM start.
            String line = c.readLine(Connection.deadline(Math.max(timeout.toNanos(), UPGRADE_CHECK_TIMEOUT.toNanos())));
            if (!line.startsWith(UPGRADING)) {
                throw new PapaException(PapaException.Kind.PROTOCOL, "Unexpected reply to upgrade: \"" + line + "\"");
            }
            dropConnection();
            return line.substring(UPGRADING.length());
        } catch (IOException e) { // fail() keeps the session after a daemon's Error: reply
            throw fail(e);
        }
    }

    private static final String UPGRADING = "Upgrading to ";
    /** The daemon's pre-check gives the new jar 60 s to read the state. */
    private static final Duration UPGRADE_CHECK_TIMEOUT = Duration.ofSeconds(90);

    /** {@code help [WORDS...]}. */
    public String help(String... words) throws PapaException {
        return command(words("help"), words);
    }

    /**
     * Sends any command given as words (each escaped) and returns the reply text. For commands
     * that change the session's mode use the typed methods: {@code watch} and
     * {@code make process ... watch=1} are refused here; {@code quit} closes this session.
     */
    public String execute(String... words) throws PapaException {
        return execute(Arrays.asList(words));
    }

    /** Like {@link #execute(String...)}. */
    public String execute(List<String> words) throws PapaException {
        if (words.isEmpty()) {
            return command(List.of());
        }
        String first = Commands.resolve(words.get(0));
        if ("watch".equals(first) || Commands.isMakeProcessWithWatch(words)) {
            throw new IllegalArgumentException("Use watchProcesses or makeProcessAndWatch to watch");
        }
        List<String> w = new ArrayList<>();
        for (String word : words) {
            w.add(Words.word(word));
        }
        if ("quit".equals(first)) {
            Connection c = connection();
            try {
                c.sendLine(Words.line(w));
                String r = c.readToEnd(replyDeadline()).strip();
                return r;
            } catch (IOException e) {
                throw fail(e);
            } finally {
                dropConnection();
            }
        }
        String r = command(w);
        if ("exit-if-idle".equals(first) && r.startsWith("Exiting")) {
            dropConnection();
        }
        return r;
    }

    /** Closes this session. Watchers it returned keep their own connections. */
    @Override
    public void close() {
        closed = true;
        dropConnection();
        Connection s = spare.getAndSet(null);
        if (s != null) {
            s.close();
        }
    }

    // ---------------------------------------------------------------- internals

    /** The connection in use now (for tests). */
    Connection currentConnection() {
        return conn;
    }

    /** A watcher that ended cleanly gives its connection back (from any thread). */
    void giveBack(Connection c) {
        if (c == null) {
            return;
        }
        if (closed || !c.isOpen() || !spare.compareAndSet(null, c)) {
            c.close();
        } else if (closed) {
            Connection s = spare.getAndSet(null);
            if (s != null) {
                s.close();
            }
        }
    }

    private void dropConnection() {
        if (conn != null) {
            conn.close();
            conn = null;
        }
    }

    private Connection connection() throws PapaException {
        if (closed) {
            throw new IllegalStateException("This Papa is closed");
        }
        if (conn == null) {
            conn = spare.getAndSet(null);
            if (conn == null) {
                conn = open();
            }
        }
        return conn;
    }

    private long replyDeadline() {
        return Connection.deadline(timeout.toNanos());
    }

    private static List<String> words(String... fixed) {
        return new ArrayList<>(Arrays.asList(fixed));
    }

    private static List<String> command(String executable, String... args) {
        List<String> c = new ArrayList<>();
        c.add(executable);
        c.addAll(Arrays.asList(args));
        return c;
    }

    private static List<String> makeProcessWords(String name, ProcessOptions options, List<String> command,
                                                 boolean watch) {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("No command");
        }
        if (command.get(0).indexOf('=') >= 0) {
            throw new IllegalArgumentException("The executable cannot contain '=': " + command.get(0));
        }
        List<String> w = words("make", "process");
        w.add(Words.word(name));
        w.addAll((options == null ? new ProcessOptions() : options).words());
        if (watch) {
            w.add("watch=1");
        }
        for (String c : command) {
            w.add(Words.word(c));
        }
        return w;
    }

    private static List<String> lines(String text) {
        if (text.isEmpty()) {
            return List.of();
        }
        return Arrays.asList(text.split("\n"));
    }

    private String command(List<String> escapedWords, String... patterns) throws PapaException {
        List<String> w = new ArrayList<>(escapedWords);
        for (String p : patterns) {
            w.add(Words.word(p));
        }
        Connection c = connection();
        try {
            c.sendLine(Words.line(w));
            return c.readReply(replyDeadline());
        } catch (IOException e) { // fail() keeps the session after a daemon's Error: reply
            throw fail(e);
        }
    }

    /** A failed exchange leaves the session in an unknown state: drop it. */
    private PapaException fail(IOException e) {
        if (e instanceof PapaException pe && pe.isDaemonError()) {
            return pe;
        }
        dropConnection();
        if (e instanceof PapaException pe) {
            return pe;
        }
        if (e instanceof InterruptedIOException) {
            return new PapaException(PapaException.Kind.INTERRUPTED, e.getMessage(), e);
        }
        return new PapaException(PapaException.Kind.CONNECTION,
                "Lost connection to papa at " + endpoint + ": " + e.getMessage(), e);
    }

    /** Connects and reads the greeting; starts a daemon when none answers and auto-start is on. */
    private Connection open() throws PapaException {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException first;
        try {
            return greet(Connection.open(endpoint), deadline);
        } catch (PapaException e) {
            throw e;
        } catch (IOException e) {
            first = e;
        }
        if (!autoStart) {
            throw new PapaException(PapaException.Kind.CONNECTION,
                    "No papa daemon at " + endpoint + ": " + first.getMessage(), first);
        }
        AutoStart.Attempt attempt = AutoStart.ensureStarted(endpoint);
        while (true) {
            try {
                return greet(Connection.open(endpoint), deadline);
            } catch (PapaException e) {
                throw e;
            } catch (IOException e) {
                first = e;
            }
            attempt.checkAlive(endpoint);
            if (System.nanoTime() - deadline >= 0) {
                throw attempt.timedOut(endpoint, timeout, first);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new PapaException(PapaException.Kind.INTERRUPTED, "Interrupted while waiting for papa to start");
            }
        }
    }

    private Connection greet(Connection c, long deadline) throws IOException {
        try {
            c.readReply(deadline);
            if (checkDaemonOwner) DaemonOwner.check(endpoint, c.channel());
            return c;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** The protocol's command words, for resolving abbreviations the way the daemon does. */
    static final class Commands {
        static final List<String> TOP = List.of("exit-if-idle", "get", "help", "list", "make", "quit", "remove",
                "set", "take", "upgrade", "version", "watch");

        private Commands() {
        }

        /** The command a first word means, or null. */
        static String resolve(String word) {
            String w = word.toLowerCase(Locale.ROOT);
            if (w.isEmpty()) {
                return null;
            }
            for (String c : TOP) {
                if (c.startsWith(w)) {
                    if ((c.equals("exit-if-idle") || c.equals("upgrade")) && !w.equals(c)) {
                        continue;
                    }
                    return c;
                }
            }
            return null;
        }

        /** True for {@code make process ... watch=1 ...} (an option word before the executable). */
        static boolean isMakeProcessWithWatch(List<String> words) {
            if (words.size() < 2 || !"make".equals(resolve(words.get(0)))) {
                return false;
            }
            String second = words.get(1).toLowerCase(Locale.ROOT);
            if (second.isEmpty() || !"process".startsWith(second)) {
                return false;
            }
            for (int i = 3; i < words.size(); i++) {
                String w = words.get(i);
                if (w.indexOf('=') < 0) {
                    return false;
                }
                if (w.startsWith("watch=")) {
                    String v = w.substring(6);
                    return !v.isEmpty() && !v.equals("0");
                }
            }
            return false;
        }
    }
}
