package dev.papa.daemon.table;

/**
 * Told, by name, of every change to what a state carries of a table entry (its record in
 * dev.papa.daemon.state.Carried): added, removed, or a carried field changed. The keeper's
 * journal (dev.papa.daemon.state.ChangedEntries) writes only those entries again, instead of
 * the whole tables. Output-path fields (queued items, sequence numbers, dropped bytes) are not
 * reported: they change with every chunk read. Loop thread only.
 */
public interface TableChanges {
    /** Nobody listens (no keeper). */
    TableChanges NONE = new TableChanges() {
        @Override public void value(String name) {}
        @Override public void socket(String name) {}
        @Override public void process(String name) {}
    };

    void value(String name);

    void socket(String name);

    void process(String name);
}
