package dev.papa.daemon.table;

import dev.papa.daemon.protocol.CommandError;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/** The name/value store clients keep their state in. */
public final class ValueTable {
    /** A value is client state, not a data store: 64 KiB bounds what one name can hold. */
    public static final int MAX_VALUE_LENGTH = 65536;
    /** All names and values together: a bound on what clients can make the daemon hold. */
    public static final long MAX_TOTAL_LENGTH = 64L << 20;

    private final NavigableMap<String, String> values = new TreeMap<>();
    private long totalLength;

    /** {@code set NAME [VALUE...]}: the words joined by single spaces; no value deletes. */
    public void set(List<String> words) throws CommandError {
        if (words.isEmpty() || (words.size() == 1 && words.get(0).equals("*"))) {
            throw new CommandError("Value requires a name");
        }
        String name = words.get(0);
        if (words.size() == 1) {
            forget(name);
            return;
        }
        Names.check("Value", name);
        String value = String.join(" ", words.subList(1, words.size()));
        if (value.length() > MAX_VALUE_LENGTH) {
            throw new CommandError("Value is too long (over " + MAX_VALUE_LENGTH + " characters)");
        }
        String old = values.get(name);
        long after = totalLength + value.length() - (old == null ? -name.length() : old.length());
        if (after > MAX_TOTAL_LENGTH) {
            throw new CommandError("Too much stored: values may hold " + MAX_TOTAL_LENGTH + " characters in all");
        }
        values.put(name, value);
        totalLength = after;
    }

    private void forget(String name) {
        String old = values.remove(name);
        if (old != null) totalLength -= name.length() + old.length();
    }

    public String get(List<String> words) throws CommandError {
        if (words.isEmpty()) throw new CommandError("Value requires a name");
        return values.get(words.get(0));
    }

    public String list(List<String> patterns) throws CommandError {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : Patterns.select(values, patterns, false, null, null).entrySet()) {
            if (sb.length() > 0) sb.append('\n');
            sb.append(e.getKey()).append(' ').append(e.getValue());
        }
        return sb.toString();
    }

    public void remove(List<String> patterns) throws CommandError {
        if (patterns.isEmpty() || (patterns.size() == 1 && patterns.get(0).equals("*"))) {
            throw new CommandError("You cannot remove all variables");
        }
        for (String name : new ArrayList<>(Patterns.select(values, patterns, true, null, null).keySet())) {
            forget(name);
        }
    }

    /** Every value, in name order (for the upgrade's snapshot). */
    public Map<String, String> all() {
        return java.util.Collections.unmodifiableMap(values);
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }

    public int size() {
        return values.size();
    }
}
