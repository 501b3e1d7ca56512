package dev.papa.daemon.table;

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
    /** A TreeMap entry: header, key, value, left, right, parent, colour. */
    static final int ENTRY_COST = 40;
    /** A String without its array: header, hash, coder, flag, array reference. */
    static final int STRING_COST = 24;

    private final NavigableMap<String, String> values = new TreeMap<>();
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

    /** Heap bytes that an entry {@code name = value} takes: entry, two strings and their arrays. */
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
        long after = totalCost + cost(name, value) - (old == null ? 0 : cost(name, old));
        if (after > limit) {
            throw new CommandError("Too much stored: values may take " + limit + " bytes of memory in all");
        }
        values.put(name, value);
        totalCost = after;
    }

    private void forget(String name) {
        String old = values.remove(name);
        if (old != null) totalCost -= cost(name, old);
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
