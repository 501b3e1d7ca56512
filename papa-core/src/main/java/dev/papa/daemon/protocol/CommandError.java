package dev.papa.daemon.protocol;

/** A request that cannot be carried out: its message becomes the {@code Error: MESSAGE} reply. */
public final class CommandError extends Exception {
    private static final long serialVersionUID = 1L;

    public CommandError(String message) {
        super(message, null, false, false);
    }
}
