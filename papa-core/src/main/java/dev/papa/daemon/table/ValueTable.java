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

/**
 * The name/value store clients keep their state in. What it holds is bounded by its real heap
 * cost ({@link #cost}): many tiny values cost their objects, not just their characters.
 */
public final class ValueTable {
    /** A value is client state, not a data store: 64 KiB bounds what one name can hold. */
    public static final int MAX_VALUE_LENGTH = 65536;
    /** The largest default bound of all values together, whatever the heap. */
    public static final long MAX_DEFAULT_LIMIT = 64L << 20;
    /** A TreeMap entry (header, key, value, left, right, parent, colour) and its Value record. */
    static final int ENTRY_COST = 40 + 24;
    /** A String without its array: header, hash, coder, flag, array reference. */
    static final int STRING_COST = 24;

    /** A value and the principal that first set it (an administrator overwriting it keeps that owner). */
    public record Value(String text, int owner) implements Owned {}

    private final NavigableMap<String, Value> values = new TreeMap<>();
    private final long limit;
    private long totalCost;

    /** A table whose entries may cost {@code limit} heap bytes in all. */
    public ValueTable(long limit) {
        this.limit = limit;
    }

    /** The default bound: an eighth of the JVM's maximum heap, at most 64 MiB. */
    public static long defaultLimit() {
        return Math.min(MAX_DEFAULT_LIMIT, Runtime.getRuntime().maxMemory() / 8);
    }

    /** Heap bytes that an entry {@code name = value} takes: entry, record, two strings and their arrays. */
    public static long cost(String name, String value) {
        return ENTRY_COST + stringCost(name) + stringCost(value);
    }

    /** Compact strings: one byte a character when all are Latin-1, otherwise two. */
    static long stringCost(String s) {
        int perChar = 1;
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) > 0xFF) {
                perChar = 2;
                break;
            }
        }
        return STRING_COST + ((16L + (long) perChar * s.length() + 7) & ~7L);
    }

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
        long after = totalCost + cost(name, value) - (old == null ? 0 : cost(name, old.text));
        if (after > limit) {
            throw new CommandError("Too much stored: values may take " + limit + " bytes of memory in all");
        }
        values.put(name, new Value(value, old == null ? by.uid() : old.owner));
        totalCost = after;
        Audit.changed(by, "set value " + name + " (" + value.length() + " characters)");
    }

    private void forget(Principal by, String name) {
        Value old = values.remove(name);
        if (old == null) return;
        totalCost -= cost(name, old.text);
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
        // A name that does not exist is not an error: the reference client's remove_values('x') relies on it.
        for (String name : new ArrayList<>(Patterns.select(by, values, patterns, false, null, null).keySet())) {
            forget(by, name);
        }
    }

    /** Every value, in name order (for the upgrade's snapshot). */
    public Map<String, Value> all() {
        return java.util.Collections.unmodifiableMap(values);
    }

    /** Takes back a value carried over an upgrade (it was within the bounds when it was set). */
    public void restore(String name, String text, int owner) {
        Value old = values.put(name, new Value(text, owner));
        totalCost += cost(name, text) - (old == null ? 0 : cost(name, old.text));
    }

    public boolean isEmpty() {
        return values.isEmpty();
    }

    public int size() {
        return values.size();
    }

    /** Heap bytes the stored values take, and their bound. */
    public long cost() { return totalCost; }
    public long limit() { return limit; }
}
