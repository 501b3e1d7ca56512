package dev.papa.daemon.state;

import dev.papa.daemon.table.TableChanges;

import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The names of the entries that changed since the keeper's state last recorded them: what the
 * next journal frame writes again. The first change after they were written calls
 * {@code onFirst} (the keeper link schedules a write for the end of the loop's round), so a
 * change no request reports (a pipe grace over, an exit queued) is kept too. Loop thread only.
 */
public final class ChangedEntries implements TableChanges {
    final Set<String> values = new LinkedHashSet<>();
    final Set<String> sockets = new LinkedHashSet<>();
    final Set<String> processes = new LinkedHashSet<>();
    private final Runnable onFirst;

    public ChangedEntries(Runnable onFirst) {
        this.onFirst = onFirst;
    }

    @Override
    public void value(String name) {
        if (values.add(name)) first();
    }

    @Override
    public void socket(String name) {
        if (sockets.add(name)) first();
    }

    @Override
    public void process(String name) {
        if (processes.add(name)) first();
    }

    private void first() {
        if (size() == 1) onFirst.run();
    }

    public boolean isEmpty() {
        return size() == 0;
    }

    int size() {
        return values.size() + sockets.size() + processes.size();
    }

    void clear() {
        values.clear();
        sockets.clear();
        processes.clear();
    }
}
