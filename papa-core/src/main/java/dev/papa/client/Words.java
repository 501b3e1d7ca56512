package dev.papa.client;

import java.util.List;

/**
 * Turns command words into one protocol line.
 *
 * <p>The daemon splits a line at single spaces and joins a word that ends in a backslash to the
 * next one with a space, so a space inside an argument is sent as {@code "\ "}. A newline cannot
 * be sent on a line-based protocol; like every papa client it is sent as {@code "\ "} too, so it
 * arrives as a space. An option value ({@code name=value}) that ends in a backslash or in white
 * space, or that is itself wrapped in double quotes, is wrapped in double quotes, which the daemon
 * removes.
 *
 * <p>The protocol has no way to send a plain word (a name, pattern, executable, argument or
 * {@code set} value) that is empty or ends in a backslash, a space or a newline: the daemon always
 * consumes a trailing backslash as the join marker. Such words are refused with an
 * {@link IllegalArgumentException} rather than sent mangled.
 */
final class Words {
    private Words() {
    }

    /** Escapes one plain word (a name, pattern, executable, argument or value). */
    static String word(String w) {
        if (w == null || w.isEmpty()) {
            throw new IllegalArgumentException("Empty words cannot be sent to papa");
        }
        char last = w.charAt(w.length() - 1);
        if (last == '\\' || last == ' ' || last == '\n') {
            throw new IllegalArgumentException("The papa protocol cannot send a word that ends in "
                    + (last == '\\' ? "a backslash" : last == ' ' ? "a space" : "a newline") + ": \"" + w + "\"");
        }
        return escapeSpaces(w);
    }

    /** Escapes an option word {@code key=value}; the key must not contain spaces or '='. */
    static String option(String key, String value) {
        if (key.isEmpty() || key.indexOf('=') >= 0 || key.indexOf(' ') >= 0 || key.indexOf('\n') >= 0
                || key.endsWith("\\")) {
            throw new IllegalArgumentException("Bad option name \"" + key + "\"");
        }
        String v = value == null ? "" : value;
        if (!v.isEmpty()) {
            char last = v.charAt(v.length() - 1);
            if (last == '\\' || Character.isWhitespace(last) || (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\""))) {
                v = '"' + v + '"';
            }
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
        String line = String.join(" ", escapedWords);
        if (!line.isEmpty() && Character.isWhitespace(line.charAt(line.length() - 1))) {
            // The daemon strips white space (a tab, a carriage return...) from the end of the line.
            throw new IllegalArgumentException("The papa protocol cannot send a last word that ends in white space");
        }
        return line;
    }
}
