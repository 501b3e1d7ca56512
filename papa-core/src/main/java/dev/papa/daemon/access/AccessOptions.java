package dev.papa.daemon.access;

import dev.papa.daemon.DaemonConfig;
import dev.papa.posix.Users;

import java.util.OptionalInt;

/** The daemon's command-line options about who may connect (parsed for {@code Main}). */
public final class AccessOptions {
    private AccessOptions() {}

    /** Applies {@code --allow-user NAME}, {@code --allow-uid N} or {@code --socket-mode OCTAL}. */
    public static void apply(DaemonConfig c, String option, String value) {
        switch (option) {
            case "--allow-user": {
                OptionalInt uid = Users.uid(value);
                if (uid.isEmpty()) throw new IllegalArgumentException("unknown user \"" + value + "\"");
                c.allowUid(uid.getAsInt());
                break;
            }
            case "--allow-uid":
                try {
                    long uid = Long.parseLong(value);
                    if (uid < 0 || uid > 0xfffffffeL) throw new NumberFormatException();
                    c.allowUid((int) uid);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("invalid uid \"" + value + "\"");
                }
                break;
            case "--socket-mode":
                c.socketMode(SocketMode.parse(value));
                break;
            default:
                throw new IllegalArgumentException("unknown option \"" + option + "\"");
        }
    }
}
