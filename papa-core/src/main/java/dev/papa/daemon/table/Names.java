package dev.papa.daemon.table;

import dev.papa.daemon.protocol.CommandError;

/** Rules for the names of new sockets, values and processes. */
public final class Names {
    /** Long enough for any real use, short enough that a table of them stays small. */
    public static final int MAX_LENGTH = 255;

    private Names() {}

    /**
     * A name may not contain a space (it separates words), {@code :} (it separates the fields
     * of watch headers), {@code *} (it is the wildcard), {@code =} (a forgotten name would
     * otherwise turn the first option into one) or a control character.
     */
    public static void check(String kind, String name) throws CommandError {
        if (name.length() > MAX_LENGTH) {
            throw new CommandError(kind + " name is too long (over " + MAX_LENGTH + " characters)");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == ' ' || c == ':' || c == '*' || c == '=' || c < 0x20 || c == 0x7f) {
                throw new CommandError(kind + " name \"" + printable(name)
                        + "\" is invalid: names may not contain spaces, \":\", \"*\", \"=\" or control characters");
            }
        }
    }

    static String printable(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", (int) c));
            else sb.append(c);
        }
        return sb.toString();
    }
}
