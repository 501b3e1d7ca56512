package dev.papa.daemon.state;

import dev.papa.daemon.state.Carried.Gone;
import dev.papa.daemon.state.Carried.ItemEntry;
import dev.papa.daemon.state.Carried.ProcessEntry;
import dev.papa.daemon.state.Carried.SocketEntry;
import dev.papa.daemon.state.Carried.ValueEntry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The entries of a state, by name: a base state's, then each journal frame's in order, an
 * entry replacing the one of its name (an upsert) and a tombstone removing it. What is left is
 * the state as of the last whole frame.
 */
final class Replay {
    private final Map<String, ValueEntry> values = new LinkedHashMap<>();
    private final Map<String, SocketEntry> sockets = new LinkedHashMap<>();
    private final Map<String, Restore.Image.Process> processes = new LinkedHashMap<>();
    /** The daemon-wide record a frame wrote in place of the header's, or null. */
    Carried.Daemonwide daemon;
    /** Names whose tombstone is the last word of what was applied (what a state's later frames removed). */
    final java.util.Set<String> valuesGone = new java.util.HashSet<>(), socketsGone = new java.util.HashSet<>(),
            processesGone = new java.util.HashSet<>();

    /** Applies every entry {@code r} has left; a process's queued items follow it in the same run of entries. */
    void apply(StateFormat.Reader r) throws StateException {
        List<ItemEntry> items = null;
        int itemsLeft = 0;
        while (r.next()) {
            switch (r.kind()) {
                case "value": {
                    ValueEntry v = r.read(ValueEntry.class);
                    values.put(v.name(), v);
                    valuesGone.remove(v.name());
                    break;
                }
                case "socket": {
                    SocketEntry s = r.read(SocketEntry.class);
                    sockets.put(s.name(), s);
                    socketsGone.remove(s.name());
                    break;
                }
                case "process": {
                    if (itemsLeft != 0) throw new StateException("the state lacks " + itemsLeft + " queued items");
                    ProcessEntry p = r.read(ProcessEntry.class);
                    if (p.spec() == null) throw new StateException("a process without its spec");
                    items = new ArrayList<>(p.items());
                    itemsLeft = p.items();
                    processes.put(p.spec().name(), new Restore.Image.Process(p, items));
                    processesGone.remove(p.spec().name());
                    break;
                }
                case "item":
                    if (itemsLeft-- <= 0) throw new StateException("a queued item without its process");
                    items.add(r.read(ItemEntry.class));
                    break;
                case "daemon": daemon = r.read(Carried.Daemonwide.class); break;
                case "value-gone": gone(values, valuesGone, r.read(Gone.class).name()); break;
                case "socket-gone": gone(sockets, socketsGone, r.read(Gone.class).name()); break;
                case "process-gone": gone(processes, processesGone, r.read(Gone.class).name()); break;
                default:
                    break; // a newer minor version's entry
            }
        }
        if (itemsLeft != 0) throw new StateException("the state lacks " + itemsLeft + " queued items");
    }

    private static void gone(Map<String, ?> entries, java.util.Set<String> gone, String name) {
        entries.remove(name);
        gone.add(name);
    }

    List<ValueEntry> values() { return new ArrayList<>(values.values()); }

    List<SocketEntry> sockets() { return new ArrayList<>(sockets.values()); }

    List<Restore.Image.Process> processes() { return new ArrayList<>(processes.values()); }

    /** Every descriptor the entries name, the listener first: a replayed state's list. */
    List<Integer> descriptors(int listenerFd) {
        List<Integer> fds = new ArrayList<>();
        fds.add(listenerFd);
        for (SocketEntry s : sockets.values()) if (s.fd() >= 0) fds.add(s.fd());
        for (Restore.Image.Process ip : processes.values()) {
            ProcessEntry p = ip.entry();
            for (int fd : new int[] {p.pidfd(), p.stdout(), p.stderr()}) if (fd >= 0) fds.add(fd);
        }
        return fds;
    }
}
