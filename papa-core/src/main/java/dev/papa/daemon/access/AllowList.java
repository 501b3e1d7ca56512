package dev.papa.daemon.access;

import java.util.Collection;
import java.util.Set;
import java.util.TreeSet;

/** The uids that may use the daemon: root, the daemon's own uid, and those added by options. */
public final class AllowList {
    private final Set<Integer> uids = new TreeSet<>();

    public AllowList(int daemonUid, Collection<Integer> extra) {
        uids.add(0);
        uids.add(daemonUid);
        uids.addAll(extra);
    }

    public boolean allows(int uid) {
        return uids.contains(uid);
    }

    public Set<Integer> uids() {
        return java.util.Collections.unmodifiableSet(uids);
    }

    @Override
    public String toString() {
        return uids.toString();
    }
}
