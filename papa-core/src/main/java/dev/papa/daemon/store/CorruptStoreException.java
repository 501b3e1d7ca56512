package dev.papa.daemon.store;

/**
 * A memory file that is not a readable output store: wrong magic or layout version, a header or
 * published record out of range, items that do not add up to what was published. The caller
 * treats the process's queued output as lost (and says so), never the daemon as broken.
 */
public final class CorruptStoreException extends Exception {
    private static final long serialVersionUID = 1L;

    public CorruptStoreException(String message) {
        super("output store unreadable: " + message);
    }
}
