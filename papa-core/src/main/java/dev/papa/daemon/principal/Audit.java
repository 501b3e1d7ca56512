package dev.papa.daemon.principal;

import dev.papa.daemon.protocol.CommandError;

import java.util.logging.Logger;

/**
 * The log of what principals change and of what they are refused, in one place (docs/SECURITY.md):
 * every state-changing request at INFO with the principal's uid, never a value's contents.
 */
public final class Audit {
    private static final Logger LOG = Logger.getLogger(Audit.class.getName());

    private Audit() {}

    /** {@code what} was done for {@code by} (null: by the daemon itself, e.g. at exit). */
    public static void changed(Principal by, String what) {
        if (by == null) LOG.info(what);
        else LOG.info(() -> by + ": " + what);
    }

    /** Logs a refusal of {@code by} and returns the error to throw. */
    public static CommandError refused(Principal by, String message) {
        LOG.info(() -> "Refused " + by + ": " + message);
        return new CommandError(message);
    }
}
