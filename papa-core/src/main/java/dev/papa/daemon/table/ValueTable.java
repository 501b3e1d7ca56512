package dev.papa.daemon.table;

import dev.papa.daemon.principal.Audit;
import dev.papa.daemon.principal.Owned;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Printable;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * The name/value store clients keep their state in. What it holds is bounded by its real heap
 * cost ({@link #cost}): many tiny values cost their objects, not just their characters. A value
 * is as long as a request line allows (the reference stores any length). Values are counted
 * against their owner: a non-administrator may hold a quarter of the bound, and all of them
 * together all but an eighth, which stays for administrators (docs/SECURITY.md, "Values").
 */
public final class ValueTable {
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
    private final int daemonUid;
    private long totalCost;
    /** What the values of each owner cost, and of all non-administrators together. */
    private final Map<Integer, Long> costByOwner = new java.util.HashMap<>();
    private long othersCost;
    private TableChanges changes = TableChanges.NONE;

    /** A table whose entries may cost {@code limit} heap bytes in all, in a daemon run by {@code daemonUid}. */
    public ValueTable(long limit, int daemonUid) {
        this.limit = limit;
        this.daemonUid = daemonUid;
    }

    /** Who is told of each value set or removed (the keeper's journal). */
    public void changes(TableChanges changes) { this.changes = changes; }

    /** What one non-administrator's values may cost: a quarter of the bound. */
    public long perUserLimit() { return limit / 4; }

    /** What all non-administrators' values may cost together: an eighth stays for administrators. */
    public long othersLimit() { return limit - limit / 8; }

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
        if (words.isEmpty() || words.get(0).equals("*")) {
            throw new CommandError("Value requires a name");
        }
        String name = words.get(0);
        Value old = values.get(name);
        if (words.size() == 1) {
            if (by.sees(old)) forget(by, name);
            return;
        }
        Names.checkValue(name);
        by.claim(name, old);
        String value = String.join(" ", words.subList(1, words.size()));
        int owner = old == null ? by.uid() : old.owner;
        long delta = cost(name, value) - (old == null ? 0 : cost(name, old.text));
        if (totalCost + delta > limit) {
            throw new CommandError("Too much stored: values may take " + limit + " bytes of memory in all");
        }
        if (!by.isAdmin() && delta > 0) {
            if (costByOwner.getOrDefault(owner, 0L) + delta > perUserLimit()) {
                throw new CommandError("Too much stored by uid " + Integer.toUnsignedString(owner) + ": the values of one user may take "
                        + perUserLimit() + " bytes of memory");
            }
            if (othersCost + delta > othersLimit()) {
                throw new CommandError("Too much stored: the values of users other than administrators may take "
                        + othersLimit() + " bytes of memory in all");
            }
        }
        values.put(name, new Value(value, owner));
        changes.value(name);
        count(owner, delta);
        Audit.changed(by, "set value " + Printable.of(name) + " (" + value.length() + " characters)");
    }

    private void forget(Principal by, String name) {
        Value old = values.remove(name);
        if (old == null) return;
        changes.value(name);
        count(old.owner, -cost(name, old.text));
        Audit.changed(by, "removed value " + Printable.of(name));
    }

    /** Adds {@code delta} bytes to the cost of the values and of their owner's share. */
    private void count(int owner, long delta) {
        totalCost += delta;
        costByOwner.merge(owner, delta, (a, b) -> a + b == 0 ? null : a + b);
        if (owner != 0 && owner != daemonUid) othersCost += delta;
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
        changes.value(name);
        if (old != null) count(old.owner, -cost(name, old.text));
        count(owner, cost(name, text));
    }

    /** Takes back a value's removal carried over an upgrade. */
    public void restoreGone(String name) {
        Value old = values.remove(name);
        changes.value(name);
        if (old != null) count(old.owner, -cost(name, old.text));
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
