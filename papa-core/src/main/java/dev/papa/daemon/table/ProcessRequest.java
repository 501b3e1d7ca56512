package dev.papa.daemon.table;

import dev.papa.daemon.protocol.CommandError;
import dev.papa.posix.Rlimit;
import dev.papa.posix.Users;

import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A {@code make process} request as parsed on the loop, with {@code uid=}/{@code gid=} still
 * as the client wrote them (null: not given). Immutable; {@link #prepare()} turns it into the
 * {@link ProcessSpec} off the loop.
 */
record ProcessRequest(String name, List<String> args, Map<String, String> env, Map<Rlimit, Long> rlimits,
                      String workingDir, String uidText, String gidText, int stdout, String stderr, long bufsize) {

    /** Whether {@link #prepare()} consults the user database (else it is quick, and runs on the loop). */
    boolean needsLookup() {
        return uidText != null || gidText != null;
    }

    /**
     * Every user and group database lookup a process needs, in one place: they go through NSS
     * (LDAP, SSSD on real hosts) and may take seconds, so this runs on the worker, never on the loop.
     */
    ProcessSpec prepare() throws CommandError {
        Integer uid = null;
        String userName = null;
        if (uidText != null) {
            if (Patterns.isNumber(uidText)) {
                uid = Integer.parseInt(uidText);
                userName = Users.userName(uid).orElseThrow(() -> new CommandError("'" + uidText + "' is not a valid user id"));
            } else {
                OptionalInt u = Users.uid(uidText);
                if (u.isEmpty()) throw new CommandError("'" + uidText + "' is not a valid user name");
                uid = u.getAsInt();
                userName = uidText;
            }
        }
        Integer gid = null;
        if (gidText != null) {
            if (Patterns.isNumber(gidText)) {
                gid = Integer.parseInt(gidText);
                if (!Users.groupExists(gid)) throw new CommandError("No such group: '" + gidText + "'");
            } else {
                OptionalInt g = Users.gid(gidText);
                if (g.isEmpty()) throw new CommandError("No such group: '" + gidText + "'");
                gid = g.getAsInt();
            }
        } else if (uid != null) {
            int u = uid;
            gid = Users.primaryGid(u).orElseThrow(() -> new CommandError("'" + uidText + "' has no primary group"));
        }
        int[] groups = null;
        if (userName != null) groups = Users.groupsOf(userName, gid);
        else if (gid != null) groups = new int[] {gid};
        return new ProcessSpec(name, args, env, rlimits, workingDir, uid, gid, groups, stdout, stderr, bufsize);
    }
}
