package dev.papa.client;

import java.io.IOException;

/**
 * The one exception type of the papa client.
 *
 * <p>{@link #kind()} tells what went wrong: the daemon answered {@code Error: MESSAGE}
 * ({@link Kind#DAEMON_ERROR}; {@link #daemonMessage()} is MESSAGE exactly as the daemon sent it),
 * no daemon could be reached ({@link Kind#CONNECTION}), the daemon could not be started
 * ({@link Kind#START_FAILED}), the daemon sent something this client does not understand
 * ({@link Kind#PROTOCOL}), or the calling thread was interrupted ({@link Kind#INTERRUPTED}).
 */
public class PapaException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Kind { DAEMON_ERROR, CONNECTION, START_FAILED, PROTOCOL, INTERRUPTED }

    private final Kind kind;
    private final String daemonMessage;

    public PapaException(Kind kind, String message) {
        this(kind, message, null);
    }

    public PapaException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.daemonMessage = null;
    }

    private PapaException(String daemonMessage) {
        super(daemonMessage);
        this.kind = Kind.DAEMON_ERROR;
        this.daemonMessage = daemonMessage;
    }

    /** An {@code Error: MESSAGE} reply of the daemon. */
    public static PapaException daemonError(String message) {
        return new PapaException(message);
    }

    public Kind kind() {
        return kind;
    }

    /** The daemon's message (the text after {@code Error: }), or null when the daemon did not send one. */
    public String daemonMessage() {
        return daemonMessage;
    }

    /** True when the daemon answered with {@code Error:}. */
    public boolean isDaemonError() {
        return kind == Kind.DAEMON_ERROR;
    }
}
