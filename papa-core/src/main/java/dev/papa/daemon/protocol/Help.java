package dev.papa.daemon.protocol;

import java.util.List;

/**
 * The texts of the {@code help} command: the reference's block, byte for byte, then this
 * project's block; {@code help WORDS} answers the help that lives beside each {@link Command}.
 *
 * <p>No client parses {@code help}: the reference Python client ({@code papa} 1.0.x,
 * {@code papa/__init__.py}) sends only {@code l s}, {@code l p}, {@code l v}, {@code get},
 * {@code set}, {@code r s}, {@code r p}, {@code r v}, {@code make ...}, {@code watch ...},
 * {@code exit-if-idle} and {@code quit}, and Circus (until 0.19.0 removed its papa support) talks to
 * papa only through that client ({@code circus/papa_process_proxy.py}, {@code circus/sockets.py}).
 * Neither sends {@code help} nor reads its text; only the greeting names it. The second block is
 * therefore free to grow; the first one stays the reference's.
 */
public final class Help {
    private Help() {}

    /**
     * What the reference daemon ({@code papa/server/__init__.py}, {@code help_command}, unchanged
     * from 1.0.0 to 1.0.6) answers to {@code help}, byte for byte, its slips included (the second
     * {@code remove processes} line is {@code remove values}; any line acknowledges a batch, so
     * its {@code '-'} works here too).
     */
    public static final String REFERENCE = """
            Possible commands are:
                make socket - Create a socket to be used by processes
                remove sockets - Close and remove sockets by name or file number
                list sockets - List sockets by name or file number
                -----------------------------------------------------
                make process - Launch a process
                remove processes - Stop recording the output of processes by name or PID
                list processes - List processes by name or PID
                watch processes - Start receiving the output of a processes by name or PID
                -----------------------------------------------------
                set - Set a named value
                get - Get a named value
                list values - List values by name
                remove processes - Remove values by name
                -----------------------------------------------------
                quit - Close the client session
                exit-if-idle Exit papa if there are no processes, sockets or values
                help - Type "help <cmd>" for more information

            NOTE: All of these commands may be abbreviated. Type at least one character of
                  each word. The rest are optional.

            After a 'watch' command, just enter '-' and a return to receive more output.
            """;

    /** What {@code help} answers: the reference's block, then what this project adds (PROTOCOL.md Part 2). */
    public static final String OVERVIEW = REFERENCE + "\n" + additions();

    private static String additions() {
        StringBuilder sb = new StringBuilder("Added by papa for the JVM:\n");
        for (Command c : Command.values()) {
            if (c.summary() != null) sb.append("    ").append(c.words()).append(" - ").append(c.summary()).append('\n');
        }
        return sb.append("""
                    -----------------------------------------------------
                    make socket NAME adopt=1 - Keep a socket sent with the request (unix control socket)
                    make process options sockets=, stdin_socket=, overflow=, shell= - see "help make process"

                The second "remove processes" above is "remove values".
                Patterns: no pattern or "*" is everything, "name*" every name starting with
                "name", anything else that exact name (or a PID / file number).
                """).toString();
    }

    /** Help for {@code help WORDS...}; unknown words get the lookup error as plain text, like the reference. */
    public static String forWords(List<String> words) {
        try {
            String first = words.get(0);
            Command command = Command.take(words, true);
            return command != null ? command.help() : group(Command.group(first));
        } catch (CommandError e) {
            return e.getMessage() + "\n";
        }
    }

    /** {@code help list}, {@code help make}, ...: a group word alone. */
    private static String group(String word) {
        switch (word) {
            case "list":
                return """
                        List sockets, processes or values, or show facts about the daemon.

                        Examples:
                            list processes nginx*
                            list sockets 10
                            list values circus.*
                            list daemon

                        Abbreviated: l p nginx*, l s, l v, l d
                        """;
            case "make":
                return """
                        Make a new socket or process.

                        Do 'help make process' or 'help make socket' for details.
                        """;
            case "remove":
                return """
                        Remove sockets, values, or the output channel of processes.

                        Examples:
                            remove processes nginx
                            remove sockets uwsgi
                            remove values circus.*

                        Abbreviated: r p nginx, r s uwsgi, r v circus.*
                        """;
            case "watch":
                return Command.WATCH_PROCESSES.help();
            case "take":
                return Command.TAKE_SOCKETS.help();
            default:
                throw new AssertionError("a group without help: " + word);
        }
    }
}
