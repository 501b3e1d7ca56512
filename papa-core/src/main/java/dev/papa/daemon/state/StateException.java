package dev.papa.daemon.state;

/** A state that cannot be read (or written): the reason is shown to the person upgrading. */
public final class StateException extends Exception {
    private static final long serialVersionUID = 1L;

    public StateException(String message) {
        super(message);
    }

    public StateException(String message, Throwable cause) {
        super(message, cause);
    }
}
