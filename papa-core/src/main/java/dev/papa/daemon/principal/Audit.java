package dev.papa.daemon.principal;

import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Printable;

import java.util.logging.Logger;

/**
 * The log of what principals change and of what they are refused, in one place (docs/SECURITY.md):
 * every state-changing request at INFO with the principal's uid, never a value's contents;
 * refusals as WARNINGs counted per uid by the daemon's {@link dev.papa.daemon.log.LogLimiter}
 * (the first in a minute logged, the rest summed up), since a client may repeat them at will.
 */
public final class Audit {
    private static final Logger LOG = Logger.getLogger(Audit.class.getName());

    private Audit() {}

    /** {@code what} was done for {@code by} (null: by the daemon itself, e.g. at exit). */
    public static void changed(Principal by, String what) {
        // what quotes client text (arguments, paths): escaped, so it cannot forge a log line
        if (by == null) LOG.info(() -> Printable.of(what));
        else LOG.info(() -> by + ": " + Printable.of(what));
    }

    /** Logs a refusal of {@code by} and returns the error to throw. */
    public static CommandError refused(Principal by, String message) {
        String line = "Refused " + by + ": " + Printable.of(message);
        if (by.refusals() != null) by.refusals().warn(LOG, "refused requests of uid " + Integer.toUnsignedString(by.uid()), line, null);
        else LOG.warning(line);
        return new CommandError(message);
    }
}
