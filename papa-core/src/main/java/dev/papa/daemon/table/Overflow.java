package dev.papa.daemon.table;

import dev.papa.daemon.protocol.CommandError;

/** {@code overflow=}: what a full output queue does (PROTOCOL.md Part 2, "Back-pressure"). */
public enum Overflow {
    /** Not given: Part 1's rule (evict the oldest) and Part 1's process line. */
    DEFAULT,
    /** Part 1's rule, with the evicted bytes shown as {@code dropped=}. */
    DROP,
    /** Stop reading the process's pipes until acknowledgements free room: nothing is lost. */
    BLOCK;

    static Overflow parse(String value) throws CommandError {
        if (value == null || value.isEmpty()) return DEFAULT;
        switch (value) {
            case "block": return BLOCK;
            case "drop": return DROP;
            default: throw new CommandError("Invalid overflow \"" + value + "\" - must be block or drop");
        }
    }
}
