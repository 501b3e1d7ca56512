package dev.papa.client;

import java.util.List;

/**
 * Turns command words into one protocol line.
 *
 * <p>The daemon splits a line at single spaces and joins a word that ends in a backslash to the
 * next one with a space, so a space inside an argument is sent as {@code "\ "}. A newline cannot
 * be sent on a line-based protocol; like every papa client it is sent as {@code "\ "} too, so it
 * arrives as a space. An option value ({@code name=value}) that ends in a backslash, or that is
 * itself wrapped in double quotes, is wrapped in double quotes, which the daemon removes.
 */
final class Words {
    private Words() {
    }

    /** Escapes one plain word (a name, pattern, executable, argument or value). */
    static String word(String w) {
        if (w == null || w.isEmpty()) {
            throw new IllegalArgumentException("Empty words cannot be sent to papa");
        }
        return escapeSpaces(w);
    }

    /** Escapes an option word {@code key=value}; the key must not contain spaces or '='. */
    static String option(String key, String value) {
        if (key.isEmpty() || key.indexOf('=') >= 0 || key.indexOf(' ') >= 0 || key.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("Bad option name \"" + key + "\"");
        }
        String v = value == null ? "" : value;
        if (v.endsWith("\\") || (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\""))) {
            v = '"' + v + '"';
        }
        return key + "=" + escapeSpaces(v);
    }

    static String escapeSpaces(String w) {
        StringBuilder sb = new StringBuilder(w.length() + 8);
        for (int i = 0; i < w.length(); i++) {
            char c = w.charAt(i);
            if (c == ' ' || c == '\n') {
                sb.append("\\ ");
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** Joins already escaped words into one line (without the newline). */
    static String line(List<String> escapedWords) {
        return String.join(" ", escapedWords);
    }
}
