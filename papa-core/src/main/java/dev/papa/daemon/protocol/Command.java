package dev.papa.daemon.protocol;

import java.util.List;

/**
 * The commands of PROTOCOL.md Part 1 and how their words are resolved: case-insensitive, any
 * prefix, the first name in sorted order that starts with it wins ({@code l p} is
 * {@code list processes}); {@code exit-if-idle} and {@code upgrade} may not be abbreviated.
 */
public enum Command {
    EXIT_IF_IDLE, GET, HELP, LIST_DAEMON, LIST_PROCESSES, LIST_SOCKETS, LIST_VALUES, MAKE_PROCESS, MAKE_SOCKET,
    QUIT, REMOVE_PROCESSES, REMOVE_SOCKETS, REMOVE_VALUES, SET, TAKE_SOCKETS, UPGRADE, VERSION, WATCH_PROCESSES;

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
        if (first.equals("list") && !word.isEmpty() && "daemon".startsWith(word.toLowerCase(java.util.Locale.ROOT))) return LIST_DAEMON;
        return of(first, resolve(word, second, first));
    }

    /** The group word of a partial help request ({@code help l} → {@code list}). */
    public static String group(String word) throws CommandError {
        return resolve(word, TOP, null);
    }

    private static String resolve(String word, List<String> names, String primary) throws CommandError {
        String w = word.toLowerCase(java.util.Locale.ROOT);
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

    private static Command of(String first, String second) {
        String name = second == null ? first : first + '_' + second;
        switch (name) {
            case "exit-if-idle": return EXIT_IF_IDLE;
            case "make_process": return MAKE_PROCESS;
            case "make_socket": return MAKE_SOCKET;
            default: return valueOf(name.toUpperCase(java.util.Locale.ROOT));
        }
    }
}
