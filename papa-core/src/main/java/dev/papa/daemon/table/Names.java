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
        if (name.codePointCount(0, name.length()) > MAX_LENGTH) {
            throw new CommandError(kind + " name is too long (over " + MAX_LENGTH + " characters)");
        }
        for (int i = 0; i < name.length(); ) {
            int c = name.codePointAt(i);
            if (c == ' ' || c == ':' || c == '*' || c == '=' || Printable.hidden(c)) {
                throw new CommandError(kind + " name \"" + Printable.of(name)
                        + "\" is invalid: names may not contain spaces, \":\", \"*\", \"=\" or control characters");
            }
            i += Character.charCount(c);
        }
    }
}
