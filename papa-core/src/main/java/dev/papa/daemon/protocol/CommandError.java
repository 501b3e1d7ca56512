package dev.papa.daemon.protocol;

/** A request that cannot be carried out: its message becomes the {@code Error: MESSAGE} reply. */
public final class CommandError extends Exception {
    private static final long serialVersionUID = 1L;

    public CommandError(String message) {
        super(message, null, false, false);
    }

    /** A failure of the daemon's own code: the client is told so, the log has the exception (never its text in a reply). */
    public static CommandError internal() {
        return new CommandError("Internal error: the daemon could not carry out the request (its log says why)");
    }
}
