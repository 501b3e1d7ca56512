package dev.papa.client;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One batch of a watch: every item queued for the watched processes when the daemon sent it,
 * each process's items in the order they happened.
 */
public final class WatchBatch {
    private final List<WatchItem> items;

    WatchBatch(List<WatchItem> items) {
        this.items = Collections.unmodifiableList(new ArrayList<>(items));
    }

    /** Every item, in the order the daemon sent them. */
    public List<WatchItem> items() {
        return items;
    }

    /** The standard output chunks. */
    public List<OutputChunk> out() {
        return chunks(OutputChunk.Stream.OUT);
    }

    /** The standard error chunks. */
    public List<OutputChunk> err() {
        return chunks(OutputChunk.Stream.ERR);
    }

    /** The exits. */
    public List<ProcessExit> exits() {
        List<ProcessExit> r = new ArrayList<>();
        for (WatchItem i : items) {
            if (i instanceof ProcessExit e) {
                r.add(e);
            }
        }
        return r;
    }

    /** Exit status by process name, for the processes that exited in this batch. */
    public Map<String, Integer> exitCodes() {
        Map<String, Integer> r = new LinkedHashMap<>();
        for (ProcessExit e : exits()) {
            r.put(e.name(), e.status());
        }
        return r;
    }

    private List<OutputChunk> chunks(OutputChunk.Stream s) {
        List<OutputChunk> r = new ArrayList<>();
        for (WatchItem i : items) {
            if (i instanceof OutputChunk c && c.stream() == s) {
                r.add(c);
            }
        }
        return r;
    }

    @Override
    public String toString() {
        return "WatchBatch" + items;
    }
}
