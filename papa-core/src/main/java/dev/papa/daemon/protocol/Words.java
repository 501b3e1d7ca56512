package dev.papa.daemon.protocol;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits a request line into words the way the reference does (PROTOCOL.md, "Requests"):
 * words are separated by spaces, runs of spaces are skipped, and a word ending in a backslash
 * is joined to the next with one space ({@code a\ b} is the word {@code a b}).
 */
public final class Words {
    private Words() {}

    public static List<String> split(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder acc = null;
        int n = line.length();
        int i = 0;
        while (i < n) {
            int j = line.indexOf(' ', i);
            if (j < 0) j = n;
            if (j > i) {
                boolean joins = line.charAt(j - 1) == '\\';
                if (acc == null) acc = new StringBuilder(j - i + 8);
                if (joins) {
                    acc.append(line, i, j - 1).append(' ');
                } else {
                    acc.append(line, i, j);
                    words.add(acc.toString());
                    acc = null;
                }
            }
            i = j + 1;
        }
        if (acc != null) words.add(acc.toString());
        return words;
    }

    /**
     * Removes the leading {@code name=value} words from {@code words} and returns them in order.
     * The value may contain further {@code =} and may be empty; a value wrapped in double quotes
     * loses them (clients quote values that end in a backslash).
     */
    public static Map<String, String> takeOptions(List<String> words) {
        Map<String, String> options = new LinkedHashMap<>();
        while (!words.isEmpty() && words.get(0).indexOf('=') >= 0) {
            String word = words.remove(0);
            int eq = word.indexOf('=');
            String value = word.substring(eq + 1);
            if (value.length() >= 2 && value.charAt(0) == '"' && value.charAt(value.length() - 1) == '"') {
                value = value.substring(1, value.length() - 1);
            }
            options.put(word.substring(0, eq), value);
        }
        return options;
    }
}
