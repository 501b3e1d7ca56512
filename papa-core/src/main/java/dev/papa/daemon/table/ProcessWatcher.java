package dev.papa.daemon.table;

/** A session in watch mode, as the process table sees it. */
public interface ProcessWatcher {
    /** New items were queued for {@code p}. */
    void outputQueued(HostedProcess p);

    /** {@code p} left the process table (its exit was delivered, or it was removed). */
    void processGone(HostedProcess p);
}
