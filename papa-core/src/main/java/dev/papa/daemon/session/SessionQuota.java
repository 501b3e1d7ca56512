package dev.papa.daemon.session;

import dev.papa.daemon.principal.Principal;

import java.util.HashMap;
import java.util.Map;

/**
 * Who may open one more session (docs/SECURITY.md, "Sessions"): the limit counts everyone;
 * non-administrators together may use all but a reserved share of it, and each of their uids
 * at most its own quota. So one user's idle sessions can neither lock the administrators out
 * nor take every other user's place.
 */
final class SessionQuota {
    private final int limit;
    private final int reserved;
    private final int perUser;
    private int total;
    private int others; // sessions of non-administrators
    private final Map<Integer, Integer> byUid = new HashMap<>();

    /** {@code perUser} 0: a quarter of the limit. Administrators keep an eighth of it (at least one). */
    SessionQuota(int limit, int perUser) {
        this.limit = limit;
        this.reserved = limit > 1 ? Math.max(1, limit / 8) : 0;
        this.perUser = perUser > 0 ? Math.min(perUser, limit - reserved) : Math.max(1, limit / 4);
    }

    /** Counts a session of {@code p} and returns null, or returns the refusal (one line) and counts nothing. */
    String admit(Principal p) {
        if (total >= limit) return "too many sessions (limit " + limit + ")";
        if (!p.isAdmin()) {
            int mine = byUid.getOrDefault(p.uid(), 0);
            if (mine >= perUser) {
                return "too many sessions for uid " + Integer.toUnsignedString(p.uid()) + " (limit " + perUser + ")";
            }
            if (others >= limit - reserved) {
                return "too many sessions (limit " + limit + ", of which " + reserved + " are kept for administrators)";
            }
            byUid.put(p.uid(), mine + 1);
            others++;
        }
        total++;
        return null;
    }

    void release(Principal p) {
        total--;
        if (p.isAdmin()) return;
        others--;
        byUid.computeIfPresent(p.uid(), (uid, n) -> n == 1 ? null : n - 1);
    }

    int perUser() { return perUser; }
    int reserved() { return reserved; }
}
