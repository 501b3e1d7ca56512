package dev.papa.daemon.principal;

import dev.papa.daemon.log.LogLimiter;
import dev.papa.daemon.protocol.CommandError;

import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.IntFunction;

/**
 * Who a session acts for: the uid found at connect (PROTOCOL.md Part 2, "Principals").
 * Administrators (root and the daemon's own uid) see and change everything; any other uid sees
 * only what it owns. Every visibility and ownership decision of the tables is made here.
 */
public final class Principal {
    private final int uid;
    private final boolean admin;
    private final int pid;
    /** Where its refusals are counted (a client may repeat them at will); null: logged one by one. */
    private final LogLimiter refusals;

    private Principal(int uid, boolean admin, int pid, LogLimiter refusals) {
        this.uid = uid;
        this.admin = admin;
        this.pid = pid;
        this.refusals = refusals;
    }

    /** The principal of a connection from {@code uid} ({@code pid} -1 when unknown, over TCP). */
    public static Principal of(int uid, int daemonUid, int pid, LogLimiter refusals) {
        return new Principal(uid, uid == 0 || uid == daemonUid, pid, refusals);
    }

    /** The daemon acting for itself (and sessions of a daemon without access control). */
    public static Principal administrator(int uid) {
        return new Principal(uid, true, -1, null);
    }

    LogLimiter refusals() {
        return refusals;
    }

    public int uid() { return uid; }
    public boolean isAdmin() { return admin; }
    /** The peer's pid at connect, or -1 when the transport does not tell (TCP). */
    public int pid() { return pid; }

    /** True when this principal may see and change {@code item}. */
    public boolean sees(Owned item) {
        return item != null && (admin || item.owner() == uid);
    }

    /** {@code item} when this principal sees it, else null (others' entries are as if absent). */
    public <T extends Owned> T visible(T item) {
        return sees(item) ? item : null;
    }

    /** The part of {@code table} this principal sees: the table itself for an administrator. */
    public <T extends Owned> NavigableMap<String, T> view(NavigableMap<String, T> table) {
        if (admin) return table;
        NavigableMap<String, T> mine = new TreeMap<>();
        for (Map.Entry<String, T> e : table.entrySet()) if (e.getValue().owner() == uid) mine.put(e.getKey(), e.getValue());
        return mine;
    }

    /** A lookup by number that finds only what this principal sees. */
    public <T extends Owned> IntFunction<T> view(IntFunction<T> byNumber) {
        return admin || byNumber == null ? byNumber : n -> visible(byNumber.apply(n));
    }

    /** Making {@code name}: refused when another principal holds it ({@code existing} may be null). */
    public void claim(String name, Owned existing) throws CommandError {
        if (existing != null && !sees(existing)) throw Audit.refused(this, name + " is in use by another user");
    }

    /** A refusal for what only administrators may do. */
    public void requireAdmin(String what) throws CommandError {
        if (!admin) throw Audit.refused(this, "permission denied: " + what);
    }

    @Override
    public String toString() {
        return pid >= 0 ? "uid " + Integer.toUnsignedString(uid) + " (pid " + pid + ")" : "uid " + Integer.toUnsignedString(uid);
    }
}
