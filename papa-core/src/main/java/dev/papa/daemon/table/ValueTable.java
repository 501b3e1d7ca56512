package dev.papa.daemon.table;

import dev.papa.daemon.principal.Audit;
import dev.papa.daemon.principal.Owned;
import dev.papa.daemon.principal.Principal;
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

    /** A value and the principal that first set it (an administrator overwriting it keeps that owner). */
    private record Value(String text, int owner) implements Owned {}

    private final NavigableMap<String, Value> values = new TreeMap<>();
    private long totalLength;

    /** {@code set NAME [VALUE...]}: the words joined by single spaces; no value deletes. */
    public void set(Principal by, List<String> words) throws CommandError {
        if (words.isEmpty() || (words.size() == 1 && words.get(0).equals("*"))) {
            throw new CommandError("Value requires a name");
        }
        String name = words.get(0);
        Value old = values.get(name);
        if (words.size() == 1) {
            if (by.sees(old)) forget(by, name);
            return;
        }
        Names.check("Value", name);
        by.claim(name, old);
        String value = String.join(" ", words.subList(1, words.size()));
        if (value.length() > MAX_VALUE_LENGTH) {
            throw new CommandError("Value is too long (over " + MAX_VALUE_LENGTH + " characters)");
        }
        long after = totalLength + value.length() - (old == null ? -name.length() : old.text.length());
        if (after > MAX_TOTAL_LENGTH) {
            throw new CommandError("Too much stored: values may hold " + MAX_TOTAL_LENGTH + " characters in all");
        }
        values.put(name, new Value(value, old == null ? by.uid() : old.owner));
        totalLength = after;
        Audit.changed(by, "set value " + name + " (" + value.length() + " characters)");
    }

    private void forget(Principal by, String name) {
        Value old = values.remove(name);
        if (old == null) return;
        totalLength -= name.length() + old.text.length();
        Audit.changed(by, "removed value " + name);
    }

    public String get(Principal by, List<String> words) throws CommandError {
        if (words.isEmpty()) throw new CommandError("Value requires a name");
        Value v = by.visible(values.get(words.get(0)));
        return v == null ? null : v.text;
    }

    public String list(Principal by, List<String> patterns) throws CommandError {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, Value> e : Patterns.select(by, values, patterns, false, null, null).entrySet()) {
            if (sb.length() > 0) sb.append('\n');
            sb.append(e.getKey()).append(' ').append(e.getValue().text);
        }
        return sb.toString();
    }

    public void remove(Principal by, List<String> patterns) throws CommandError {
        if (patterns.isEmpty() || (patterns.size() == 1 && patterns.get(0).equals("*"))) {
            throw new CommandError("You cannot remove all variables");
        }
        for (String name : new ArrayList<>(Patterns.select(by, values, patterns, true, null, null).keySet())) {
            forget(by, name);
        }
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }

    public int size() {
        return values.size();
    }
}
