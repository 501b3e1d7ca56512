package dev.papa.daemon.protocol;

import dev.papa.daemon.spawn.Launch;

import java.util.List;

/** The texts of the {@code help} command. */
public final class Help {
    private Help() {}

    public static final String OVERVIEW = String.join("\n",
            "Possible commands are:",
            "    make socket - Create a socket to be used by processes",
            "    remove sockets - Close and remove sockets by name or file number",
            "    list sockets - List sockets by name or file number",
            "    -----------------------------------------------------",
            "    make process - Launch a process",
            "    remove processes - Stop recording the output of processes by name or PID",
            "    list processes - List processes by name or PID",
            "    watch processes - Start receiving the output of processes by name or PID",
            "    -----------------------------------------------------",
            "    set - Set a named value",
            "    get - Get a named value",
            "    list values - List values by name",
            "    remove values - Remove values by name",
            "    -----------------------------------------------------",
            "    quit - Close the client session",
            "    exit-if-idle - Exit papa if there are no processes, sockets or values",
            "    help - Type \"help <cmd>\" for more information",
            "",
            "NOTE: All of these commands may be abbreviated. Type at least one character of",
            "      each word. The rest are optional.",
            "",
            "Patterns: no pattern or \"*\" is everything, \"name*\" every name starting with",
            "\"name\", anything else that exact name (or a PID / file number).",
            "");

    /** Help for {@code help WORDS...}; unknown words get the lookup error as plain text, like the reference. */
    public static String forWords(List<String> words) {
        try {
            String first = words.get(0);
            Command command = Command.take(words, true);
            if (command == null) return group(Command.group(first));
            return of(command);
        } catch (CommandError e) {
            return e.getMessage() + "\n";
        }
    }

    private static String group(String word) {
        switch (word) {
            case "list":
                return lines("List sockets, processes or values.",
                        "",
                        "Examples:",
                        "    list processes nginx*",
                        "    list sockets 10",
                        "    list values circus.*",
                        "",
                        "Abbreviated: l p nginx*, l s, l v");
            case "make":
                return lines("Make a new socket or process.",
                        "",
                        "Do 'help make process' or 'help make socket' for details.");
            case "remove":
                return lines("Remove sockets, values, or the output channel of processes.",
                        "",
                        "Examples:",
                        "    remove processes nginx",
                        "    remove sockets uwsgi",
                        "    remove values circus.*",
                        "",
                        "Abbreviated: r p nginx, r s uwsgi, r v circus.*");
            case "watch":
                return of(Command.WATCH_PROCESSES);
            case "take":
                return of(Command.TAKE_SOCKETS);
            default:
                return of(Command.valueOf(word.toUpperCase(java.util.Locale.ROOT).replace('-', '_')));
        }
    }

    public static String of(Command command) {
        switch (command) {
            case EXIT_IF_IDLE:
                return lines("Exit papa if there are no processes, sockets or values.",
                        "This command may not be abbreviated.");
            case GET:
                return lines("Get a named value.", "", "Example:", "    get count");
            case SET:
                return lines("Set or clear a named value. Pass no value to clear.", "",
                        "Examples:", "    set count 5", "    set count");
            case HELP:
                return lines("Show help. \"help WORDS...\" shows the help of a command.");
            case QUIT:
                return lines("Close the client session.");
            case LIST_DAEMON:
                return lines("list daemon",
                        "",
                        "Facts about the daemon, one key=value per line: version, keeper and daemon pids",
                        "and start times, restarts and the last one's cause, upgrades, sessions, processes,",
                        "sockets, values, queued/budget/dropped bytes, blocked processes, rss, threads, fds.",
                        "Users other than administrators see the counts of what they own.",
                        "",
                        "Abbreviated: l d");
            case LIST_PROCESSES:
                return lines("List processes by name or PID.", "",
                        "Reply lines: NAME pid=PID running=True|False started=SECONDS [uid=UID] [gid=GID] args=...",
                        "Examples:", "    list processes", "    list processes nginx*", "    list processes 3698");
            case LIST_SOCKETS:
                return lines("List sockets by name or file number.", "",
                        "Examples:", "    list sockets", "    list sockets uwsgi*", "    list sockets 10");
            case LIST_VALUES:
                return lines("List values by name: lines of NAME VALUE.", "",
                        "Examples:", "    list values", "    list values circus.*");
            case REMOVE_PROCESSES:
                return lines("Stop recording the output of processes and forget each one when it exits.",
                        "The processes themselves are not touched.", "",
                        "Examples:", "    remove processes uwsgi", "    remove processes 3698");
            case REMOVE_SOCKETS:
                return lines("Close and remove sockets. Processes that inherited them keep their copy.", "",
                        "Examples:", "    remove sockets uwsgi", "    remove sockets 10");
            case REMOVE_VALUES:
                return lines("Remove named values. You cannot remove them all with \"*\".", "",
                        "Examples:", "    remove values count", "    remove values circus.*");
            case WATCH_PROCESSES:
                return lines("Watch the output of processes by name or PID.",
                        "Each batch ends with \"] \"; send an empty line to acknowledge it and",
                        "receive more, or \"q\" to acknowledge and stop watching.", "",
                        "Examples:", "    watch processes nginx", "    watch processes uwsgi*");
            case MAKE_SOCKET:
                return lines("Create a socket to be used by processes.",
                        "You need to specify a name, followed by name=value pairs for the socket",
                        "options. The name must not contain spaces.",
                        "",
                        "    family - unix, inet or inet6 (default: unix if path is given, else inet)",
                        "    type - stream, dgram, raw, rdm or seqpacket (default: stream)",
                        "    backlog - the listen backlog (default: 5)",
                        "Options for family=unix:",
                        "    path - must be an absolute path (required)",
                        "    umask - umask (decimal) applied while creating the socket file",
                        "Options for family=inet or family=inet6:",
                        "    host - address or name to bind (default 127.0.0.1 / ::1, or",
                        "           0.0.0.0 / :: when interface is given)",
                        "    port - if left out or 0, the system chooses one",
                        "    interface - bind to a single network interface only",
                        "    reuseport - 1: each process gets its own socket bound with SO_REUSEPORT",
                        "",
                        "Examples:",
                        "    make socket uwsgi port=8080",
                        "    make socket chaussette path=/tmp/chaussette.sock");
            case TAKE_SOCKETS:
                return lines("Receive duplicates of sockets (unix control socket only).",
                        "The reply is the list sockets lines; one message carries the descriptors",
                        "(SCM_RIGHTS), in the order of the lines. At most 253 in one take.",
                        "The other way round, \"make socket NAME adopt=1\" with one socket descriptor",
                        "attached to the request line makes papa keep that socket as NAME.",
                        "",
                        "Examples:",
                        "    take sockets web",
                        "    take sockets web* api");
            case MAKE_PROCESS:
                return lines("Create a process.",
                        "You need to specify a name, followed by name=value pairs for the process",
                        "options, followed by the command and args to execute. The name must not",
                        "contain spaces or \":\".",
                        "",
                        "    uid - the user name or id to run as",
                        "    gid - the group name or id to run as",
                        "    working_dir - the working directory (absolute)",
                        "    bufsize - size of the output buffer, with suffix k, m or g (default 1m);",
                        "              0 captures nothing",
                        "    stdout - 1 to capture (default), 0 to discard",
                        "    stderr - 1 to capture (default), 0 to discard, stdout to merge",
                        "    watch - 1 to start watching the process at once",
                        "    shell - 1 to run /bin/sh -c COMMAND ARG... (ARGs are $0, $1, ...)",
                        "    env.NAME - an environment variable (the environment is only these)",
                        "    rlimit.NAME - a resource limit: as core cpu data fsize locks memlock",
                        "                  msgqueue nice nofile nproc rss rtprio rttime sigpending stack",
                        "    sockets - socket activation: sockets=A,B passes those sockets at fds 3, 4, ...",
                        "              with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (systemd's way)",
                        "    stdin_socket - a socket as the process's stdin (inetd style)",
                        "    overflow - block: stop reading the process while its buffer is full (it",
                        "               waits, nothing is lost); drop: evict the oldest output (the",
                        "               default), counted as dropped=",
                        "",
                        "In arguments, $(socket.NAME.port) and $(socket.NAME.fileno) are replaced by",
                        "the port and file number of a socket, which the process inherits.",
                        "",
                        "Examples:",
                        "    make process web uid=www working_dir=/srv env.PORT=8080 /usr/bin/app --fd $(socket.web.fileno)",
                        "    make process nginx /usr/local/nginx/sbin/nginx",
                        "    make process api sockets=web /usr/bin/gunicorn app:app");
            case UPGRADE:
                return lines("Upgrade the daemon in place (administrators only; never abbreviated).",
                        "JAR (absolute; default: the running jar) must read the daemon's state. The",
                        "daemon then re-executes itself on JAR in the same pid: values, sockets,",
                        "processes and their queued output survive; sessions are closed.",
                        "    java=PATH - the java binary to run JAR with (default: the running one)",
                        "",
                        "Examples:", "    upgrade /opt/papa/papa-core.jar", "    upgrade");
            case VERSION:
                return lines("The daemon's version, build and state format.", "", "Example:", "    version");
            default:
                throw new AssertionError(command);
        }
    }

    private static String lines(String... lines) {
        return String.join("\n", lines) + "\n";
    }
}
