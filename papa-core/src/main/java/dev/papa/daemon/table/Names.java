package dev.papa.daemon.table;

import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Printable;

/** Rules for the names of new sockets, values and processes. */
public final class Names {
    /** Long enough for any real use, short enough that a table of them stays small; counted in code points. */
    public static final int MAX_LENGTH = 255;

    private Names() {}

    /**
     * A name may not contain a space (it separates words), {@code :} (it separates the fields
     * of watch headers), {@code *} (it is the wildcard), {@code =} (a forgotten name would
     * otherwise turn the first option into one) or a control character; Unicode format and
     * separator characters (U+202E, U+FEFF, U+2028, NBSP) count as control characters, since
     * they make one name look like another.
     */
    public static void check(String kind, String name) throws CommandError {
        check(kind, name, false);
    }

    /**
     * A value's name: as for the others, but spaces (escaped), {@code :}, {@code *} and
     * {@code =} are allowed, as in the reference: a value's name is never part of a watch
     * header nor followed by options (the name {@code *} alone is refused by {@code set}).
     */
    public static void checkValue(String name) throws CommandError {
        check("Value", name, true);
    }

    private static void check(String kind, String name, boolean value) throws CommandError {
        if (name.codePointCount(0, name.length()) > MAX_LENGTH) {
            throw new CommandError(kind + " name is too long (over " + MAX_LENGTH + " characters)");
        }
        for (int i = 0; i < name.length(); ) {
            int c = name.codePointAt(i);
            if (Printable.hidden(c) || (!value && (c == ' ' || c == ':' || c == '*' || c == '='))) {
                throw new CommandError(kind + " name \"" + Printable.of(name) + "\" is invalid: " + (value
                        ? "names may not contain control characters"
                        : "names may not contain spaces, \":\", \"*\", \"=\" or control characters"));
            }
            i += Character.charCount(c);
        }
    }
}
