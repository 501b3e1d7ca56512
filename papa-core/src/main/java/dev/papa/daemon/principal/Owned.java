package dev.papa.daemon.principal;

/** An entry of a table (value, socket, process) that belongs to the principal who made it. */
public interface Owned {
    /** The uid of the principal who created the entry. */
    int owner();
}
