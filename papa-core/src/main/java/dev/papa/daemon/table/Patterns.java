package dev.papa.daemon.table;

import dev.papa.daemon.principal.Owned;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.CommandError;

import java.util.List;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.IntFunction;

/**
 * Name patterns of PROTOCOL.md: none or {@code *} is everything, {@code abc*} every name starting
 * with {@code abc}, anything else that exact name; a word of digits that names nothing may
 * name an item by number (a process by pid, a socket by file number).
 */
public final class Patterns {
    private Patterns() {}

    /**
     * @param required an exact name that matches nothing is an error ({@code NAME not found})
     * @param byNumber finds an item by number, or null when the table has no numbers
     */
    public static <T> NavigableMap<String, T> select(NavigableMap<String, T> table, List<String> patterns,
                                                     boolean required, IntFunction<T> byNumber,
                                                     java.util.function.Function<T, String> nameOf) throws CommandError {
        if (patterns.isEmpty()) return table;
        NavigableMap<String, T> matched = new TreeMap<>();
        boolean everything = false;
        for (String p : patterns) {
            if (p.endsWith("*")) {
                String prefix = p.substring(0, p.length() - 1);
                // "*" is everything, but the other patterns are still checked: "* nope" is
                // "nope not found", as in the reference, not everything
                if (prefix.isEmpty()) everything = true;
                else matched.putAll(table.subMap(prefix, true, prefix + Character.MAX_VALUE, true));
                continue;
            }
            T item = table.get(p);
            if (item != null) {
                matched.put(p, item);
                continue;
            }
            if (byNumber != null && isNumber(p)) item = byNumber.apply(Integer.parseInt(p));
            if (item != null) {
                matched.put(nameOf.apply(item), item);
            } else if (required) {
                throw new CommandError(p + " not found");
            }
        }
        return everything ? table : matched;
    }

    /** {@link #select} over what {@code by} sees: others' entries are as if absent, by name and by number. */
    public static <T extends Owned> NavigableMap<String, T> select(Principal by, NavigableMap<String, T> table, List<String> patterns,
                                                                   boolean required, IntFunction<T> byNumber,
                                                                   java.util.function.Function<T, String> nameOf) throws CommandError {
        return select(by.view(table), patterns, required, by.view(byNumber), nameOf);
    }

    /** Up to nine decimal digits: a pid, a file number or a uid/gid that fits an int. */
    public static boolean isNumber(String s) {
        if (s.isEmpty() || s.length() > 9) return false;
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
        }
        return true;
    }
}
