package dev.papa.daemon.protocol;

import java.util.List;
import java.util.Locale;

/**
 * The commands of PROTOCOL.md Part 1 and Part 2, each with its help text beside it (as the
 * reference keeps each command's help in its docstring), and how their words are resolved:
 * case-insensitive, any prefix, the first name in sorted order that starts with it wins
 * ({@code l p} is {@code list processes}); {@code exit-if-idle} and {@code upgrade} may not be
 * abbreviated.
 *
 * <p>A command of Part 2 carries a summary: its line in the second block of {@code help}
 * ({@link Help#OVERVIEW}); Part 1's commands are in the reference's block.
 */
public enum Command {
    EXIT_IF_IDLE(null, """
            Exit papa if there are no processes, sockets or values.
            This command may not be abbreviated.
            """),
    GET(null, """
            Get a named value.

            Example:
                get count
            """),
    HELP(null, """
            Show help. "help WORDS..." shows the help of a command.
            """),
    LIST_DAEMON("Show facts about the daemon: version, restarts, sessions, bytes queued", """
            Show facts about the daemon, one key=value per line: version, keeper and daemon pids
            and start times, restarts and the last one's cause, upgrades, sessions, processes,
            sockets, values, queued/budget/dropped bytes, blocked processes, rss, threads, fds.
            Users other than administrators see the counts of what they own.

            Example:
                list daemon

            Abbreviated: l d
            """),
    LIST_PROCESSES(null, """
            List processes by name or PID.

            Reply lines: NAME pid=PID running=True|False started=SECONDS [uid=UID] [gid=GID] args=...
            (and, as they apply, shell=True, sockets=, stdin_socket=, overflow=, dropped=, blocked=True)
            Examples:
                list processes
                list processes nginx*
                list processes 3698
            """),
    LIST_SOCKETS(null, """
            List sockets by name or file number.

            Examples:
                list sockets
                list sockets uwsgi*
                list sockets 10
            """),
    LIST_VALUES(null, """
            List values by name: lines of NAME VALUE.

            Examples:
                list values
                list values circus.*
            """),
    MAKE_PROCESS(null, """
            Create a process.
            You need to specify a name, followed by name=value pairs for the process
            options, followed by the command and args to execute. The name must not
            contain spaces or ":".

                uid - the user name or id to run as
                gid - the group name or id to run as
                working_dir - the working directory (absolute)
                bufsize - size of the output buffer, with suffix k, m or g (default 1m);
                          0 captures nothing
                stdout - 1 to capture (default), 0 to discard
                stderr - 1 to capture (default), 0 to discard, stdout to merge
                watch - 1 to start watching the process at once
                shell - 1 to run /bin/sh -c COMMAND ARG... (ARGs are $0, $1, ...)
                env.NAME - an environment variable (the environment is only these)
                rlimit.NAME - a resource limit: as core cpu data fsize locks memlock
                              msgqueue nice nofile nproc rss rtprio rttime sigpending stack
                sockets - socket activation: sockets=A,B passes those sockets at fds 3, 4, ...
                          with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (systemd's way)
                stdin_socket - a socket as the process's stdin (inetd style)
                overflow - block: stop reading the process while its buffer is full (it
                           waits, nothing is lost); drop: evict the oldest output (the
                           default), counted as dropped=

            In arguments, $(socket.NAME.port) and $(socket.NAME.fileno) are replaced by
            the port and file number of a socket, which the process inherits.

            Examples:
                make process web uid=www working_dir=/srv env.PORT=8080 /usr/bin/app --fd $(socket.web.fileno)
                make process nginx /usr/local/nginx/sbin/nginx
                make process api sockets=web /usr/bin/gunicorn app:app
            """),
    MAKE_SOCKET(null, """
            Create a socket to be used by processes.
            You need to specify a name, followed by name=value pairs for the socket
            options. The name must not contain spaces.

                family - unix, inet or inet6 (default: unix if path is given, else inet)
                type - stream, dgram, raw, rdm or seqpacket (default: stream)
                backlog - the listen backlog (default: 5)
            Options for family=unix:
                path - must be an absolute path (required)
                umask - umask (decimal) applied while creating the socket file
            Options for family=inet or family=inet6:
                host - address or name to bind (default 127.0.0.1 / ::1, or
                       0.0.0.0 / :: when interface is given)
                port - if left out or 0, the system chooses one
                interface - bind to a single network interface only
                reuseport - 1: each process gets its own socket bound with SO_REUSEPORT
            Instead of all of these (unix control socket only):
                adopt - 1: keep the socket descriptor attached to this request line as NAME

            Examples:
                make socket uwsgi port=8080
                make socket chaussette path=/tmp/chaussette.sock
            """),
    QUIT(null, """
            Close the client session.
            """),
    REMOVE_PROCESSES(null, """
            Stop recording the output of processes and forget each one when it exits.
            The processes themselves are not touched.

            Examples:
                remove processes uwsgi
                remove processes 3698
            """),
    REMOVE_SOCKETS(null, """
            Close and remove sockets. Processes that inherited them keep their copy.

            Examples:
                remove sockets uwsgi
                remove sockets 10
            """),
    REMOVE_VALUES(null, """
            Remove named values. You cannot remove them all with "*".

            Examples:
                remove values count
                remove values circus.*
            """),
    SET(null, """
            Set or clear a named value. Pass no value to clear.

            Examples:
                set count 5
                set count
            """),
    TAKE_SOCKETS("Receive copies of sockets (unix control socket only)", """
            Receive duplicates of sockets (unix control socket only).
            The reply is the list sockets lines; one message carries the descriptors
            (SCM_RIGHTS), in the order of the lines. At most 253 in one take.
            The other way round, "make socket NAME adopt=1" with one socket descriptor
            attached to the request line makes papa keep that socket as NAME.

            Examples:
                take sockets web
                take sockets web* api

            Abbreviated: t s web
            """),
    UPGRADE("Upgrade the daemon in place (administrators; never abbreviated)", """
            Upgrade the daemon in place (administrators only; never abbreviated).
            JAR (absolute; default: the running jar) must read the daemon's state. The
            daemon then re-executes itself on JAR in the same pid: values, sockets,
            processes and their queued output survive; sessions are closed.
                java=PATH - the java binary to run JAR with (default: the running one)

            Examples:
                upgrade /opt/papa/papa-core.jar
                upgrade
            """),
    VERSION("Show the daemon's version, build and state format", """
            Show the daemon's version, build and state format, one line.

            Example:
                version

            Abbreviated: v
            """),
    WATCH_PROCESSES(null, """
            Watch the output of processes by name or PID.
            Each batch ends with "] "; send an empty line to acknowledge it and
            receive more, or "q" to acknowledge and stop watching.

            Examples:
                watch processes nginx
                watch processes uwsgi*
            """);

    private final String summary;
    private final String help;

    Command(String summary, String help) {
        this.summary = summary;
        this.help = help;
    }

    /** The words that name this command in full: {@code list daemon}, {@code exit-if-idle}. */
    public String words() {
        return this == EXIT_IF_IDLE ? "exit-if-idle" : name().toLowerCase(Locale.ROOT).replace('_', ' ');
    }

    /** Its line in the second block of {@code help}, or null for a command of the reference (Part 1). */
    public String summary() {
        return summary;
    }

    /** What {@code help WORDS} answers for it. */
    public String help() {
        return help;
    }

    /** Top-level words, sorted: resolution depends on this order. */
    static final List<String> TOP = List.of("exit-if-idle", "get", "help", "list", "make", "quit", "remove", "set", "take",
            "upgrade", "version", "watch");

    static List<String> secondWords(String first) {
        switch (first) {
            case "list":
            case "remove":
                return List.of("processes", "sockets", "values");
            case "make":
                return List.of("process", "socket");
            case "watch":
                return List.of("processes");
            case "take":
                return List.of("sockets");
            default:
                return List.of();
        }
    }

    /**
     * Resolves and removes the command words at the front of {@code words}.
     *
     * @param partial allow a group word alone (for {@code help list}); returns null for it
     */
    public static Command take(List<String> words, boolean partial) throws CommandError {
        String first = resolve(words.remove(0), TOP, null);
        List<String> second = secondWords(first);
        if (second.isEmpty()) return of(first, null);
        if (words.isEmpty()) {
            if (partial) return null;
            throw new CommandError('"' + first + "\" must be followed by one of: " + String.join(", ", second));
        }
        String word = words.remove(0);
        // "list daemon" (Part 2): resolved apart, so Part 1's words and error texts stay as they were
        if (first.equals("list") && !word.isEmpty() && "daemon".startsWith(word.toLowerCase(Locale.ROOT))) return LIST_DAEMON;
        return of(first, resolve(word, second, first));
    }

    /** The group word of a partial help request ({@code help l} → {@code list}). */
    public static String group(String word) throws CommandError {
        return resolve(word, TOP, null);
    }

    private static String resolve(String word, List<String> names, String primary) throws CommandError {
        String w = word.toLowerCase(Locale.ROOT);
        if (names.contains(w)) return w;
        for (String name : names) {
            if (name.startsWith(w)) {
                // Commands that change the daemon itself must be spelt out.
                if (name.equals("exit-if-idle") || name.equals("upgrade")) {
                    throw new CommandError("You cannot abbreviate \"" + name + '"');
                }
                return name;
            }
        }
        if (primary != null) {
            throw new CommandError("Bad \"" + primary + "\" command. The following word must be one of: " + String.join(", ", names));
        }
        throw new CommandError("Unknown command \"" + Printable.of(w) + '"');
    }

    static Command of(String first, String second) {
        String name = second == null ? first : first + '_' + second;
        return valueOf(name.toUpperCase(Locale.ROOT).replace('-', '_'));
    }
}
