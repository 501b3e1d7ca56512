package dev.papa.daemon.principal;

import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Printable;
import dev.papa.posix.Users;

import java.util.OptionalInt;

/**
 * The user, group and supplementary groups a process runs as: the {@code uid=}/{@code gid=}
 * options resolved through NSS, and checked against the principal. Every user-database lookup
 * of {@code make process} happens in {@link #resolve}, so the whole step can move off the loop
 * thread at once.
 *
 * @param uid    null: the daemon's own
 * @param gid    null: the daemon's own
 * @param groups supplementary groups, or null to inherit the daemon's
 */
public record ProcessIdentity(Integer uid, Integer gid, int[] groups) {
    /** Linux ids are unsigned 32-bit, but the daemon keeps them in an int: larger ones are refused. */
    static final long MAX_ID = Integer.MAX_VALUE;

    /**
     * An administrator's process runs as asked (the daemon's identity by default); anyone
     * else's runs as itself: another uid is refused, and the group and supplementary groups
     * are among its own.
     */
    public static ProcessIdentity resolve(Principal by, String uidText, String gidText) throws CommandError {
        if (!by.isAdmin() && uidText == null) uidText = Integer.toString(by.uid());
        Integer uid = null;
        String userName = null;
        if (uidText != null) {
            Long n = id("uid", uidText);
            if (n != null) {
                uid = n.intValue();
                String given = uidText;
                if (!by.isAdmin() && uid != by.uid()) throw Audit.refused(by, "permission denied: uid " + uid);
                userName = Users.userName(uid).orElseThrow(() -> new CommandError("'" + given + "' is not a valid user id"));
            } else {
                OptionalInt u = Users.uid(uidText);
                if (u.isEmpty()) throw new CommandError("'" + Printable.of(uidText) + "' is not a valid user name");
                uid = u.getAsInt();
                if (!by.isAdmin() && uid != by.uid()) throw Audit.refused(by, "permission denied: uid " + Integer.toUnsignedString(uid));
                userName = uidText;
            }
        }
        Integer gid = null;
        if (gidText != null) {
            Long n = id("gid", gidText);
            if (n != null) {
                gid = n.intValue();
                if (!Users.groupExists(gid)) throw new CommandError("No such group: '" + gidText + "'");
            } else {
                OptionalInt g = Users.gid(gidText);
                if (g.isEmpty()) throw new CommandError("No such group: '" + Printable.of(gidText) + "'");
                gid = g.getAsInt();
            }
        } else if (uid != null) {
            String given = uidText;
            gid = Users.primaryGid(uid).orElseThrow(() -> new CommandError("'" + given + "' has no primary group"));
        }
        if (!by.isAdmin()) requireOwnGroup(by, userName, uid, gid);
        int[] groups = null;
        if (userName != null) groups = Users.groupsOf(userName, gid);
        else if (gid != null) groups = new int[] {gid};
        return new ProcessIdentity(uid, gid, groups);
    }

    /** A non-administrator's gid must be one of the groups the user database gives that user. */
    private static void requireOwnGroup(Principal by, String userName, int uid, int gid) throws CommandError {
        int primary = Users.primaryGid(uid).orElseThrow(() -> Audit.refused(by, "permission denied: uid " + uid + " has no user entry"));
        for (int g : Users.groupsOf(userName, primary)) if (g == gid) return;
        throw Audit.refused(by, "permission denied: gid " + Integer.toUnsignedString(gid));
    }

    /**
     * A uid/gid option of digits is a number (a name of only digits cannot be used, as with
     * chown); null when it is a name. NUL and numbers past {@link #MAX_ID} are errors.
     */
    static Long id(String option, String text) throws CommandError {
        if (text.indexOf('\0') >= 0) throw new CommandError("Invalid " + option + " \"" + Printable.of(text) + "\" - contains a NUL character");
        for (int i = 0; i < text.length(); i++) if (text.charAt(i) < '0' || text.charAt(i) > '9') return null;
        if (text.isEmpty()) return null;
        if (text.length() > 10 || Long.parseLong(text) > MAX_ID) {
            throw new CommandError("Invalid " + option + " " + text + " - must be from 0 to " + MAX_ID);
        }
        return Long.parseLong(text);
    }
}
