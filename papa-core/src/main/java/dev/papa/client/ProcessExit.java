package dev.papa.client;

/**
 * The end of a process.
 *
 * @param name            the process's name
 * @param timestampMicros when the daemon saw it exit, in microseconds since the epoch
 * @param status          the exit code, or minus the signal number when a signal ended it
 */
public record ProcessExit(String name, long timestampMicros, int status) implements WatchItem {
    /** True when a signal ended the process. */
    public boolean signaled() {
        return status < 0;
    }
}
