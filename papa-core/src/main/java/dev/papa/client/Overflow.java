package dev.papa.client;

/** What a process's full output buffer does ({@code overflow=}, PROTOCOL.md Part 2 "Back-pressure"). */
public enum Overflow {
    /** The daemon stops reading the process until a watcher acknowledges: it waits in write(), nothing is lost. */
    BLOCK,
    /** The oldest output is evicted (the daemon's default rule), and counted as {@link ProcessInfo#dropped()}. */
    DROP
}
