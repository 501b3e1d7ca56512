package dev.papa.daemon.protocol;

/**
 * Client text shown back in a reply or written to the log: control, format and separator
 * characters (a newline, an escape sequence, U+202E) become {@code \xNN} or {@code \\uNNNN}, so
 * a request can neither forge a reply line nor a log line.
 */
public final class Printable {
    private Printable() {}

    public static String of(String s) {
        int i = 0;
        while (i < s.length() && !hidden(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
        if (i == s.length()) return s;
        StringBuilder sb = new StringBuilder(s.length() + 16).append(s, 0, i);
        while (i < s.length()) {
            int c = s.codePointAt(i);
            if (!hidden(c)) sb.appendCodePoint(c);
            else if (c <= 0xff) sb.append(String.format("\\x%02x", c));
            else sb.append(String.format("\\u%04x", c));
            i += Character.charCount(c);
        }
        return sb.toString();
    }

    /** Unicode control (Cc), format (Cf), separators (Zs other than a plain space, Zl, Zp), and lone surrogates. */
    public static boolean hidden(int c) {
        switch (Character.getType(c)) {
            case Character.CONTROL:
            case Character.FORMAT:
            case Character.LINE_SEPARATOR:
            case Character.PARAGRAPH_SEPARATOR:
            case Character.SURROGATE:
                return true;
            case Character.SPACE_SEPARATOR:
                return c != ' ';
            default:
                return false;
        }
    }
}
