package dev.papa.daemon.state;

import dev.papa.daemon.state.Carried.ProcessEntry;
import dev.papa.posix.Memfd;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * A self-check for tests ({@code -Dpapa.keeper.checkJournal=true}): after each write, the
 * state the keeper holds, base and journal replayed, must equal a whole state written from the
 * tables. Output-path fields are left out (a process's record has them as of its last write,
 * docs/KEEPER.md), and of the pipe grace only whether there is one. A difference is logged as
 * SEVERE, which the keeper's integration tests look for. It reads and writes the whole
 * tables: never on in production.
 */
public final class JournalCheck {
    public static final String PROPERTY = "papa.keeper.checkJournal";
    /** The start of the SEVERE line a difference logs. */
    public static final String DIFFERS = "The keeper's journaled state differs from the tables";
    /** The warning each JVM logs when the check is on (a test counts them: the option reached every JVM). */
    public static final String ON = "Checking the keeper's journaled state after every write";
    private static final Logger LOG = Logger.getLogger(JournalCheck.class.getName());

    private JournalCheck() {}

    /** Whether the check is on; says so in the log when it is. */
    public static boolean enabled() {
        boolean on = Boolean.getBoolean(PROPERTY);
        if (on) LOG.warning(ON + " (" + PROPERTY + "): slow, for tests");
        return on;
    }

    /** Compares what {@code journal} holds with {@code snapshot}'s tables; logs a difference. */
    public static void run(Journal journal, Snapshot snapshot) {
        List<String> differences;
        try {
            Restore.Image held;
            try (InputStream in = Memfd.input(journal.state().get())) {
                held = Restore.read(in);
            }
            ByteArrayOutputStream whole = new ByteArrayOutputStream();
            snapshot.writeRecords(whole, "check", snapshot.descriptors(), 0);
            differences = differences(held, Restore.read(new ByteArrayInputStream(whole.toByteArray())));
        } catch (IOException | StateException | RuntimeException e) {
            differences = List.of("cannot compare: " + e);
        }
        if (!differences.isEmpty()) LOG.severe(DIFFERS + ": " + String.join("; ", differences));
    }

    /** What differs between two states' entries, by name (a journal adds new names after the base's), output-path fields aside. */
    static List<String> differences(Restore.Image a, Restore.Image b) {
        List<String> d = new ArrayList<>();
        compare(d, "value", byName(a.values(), Carried.ValueEntry::name), byName(b.values(), Carried.ValueEntry::name));
        compare(d, "socket", byName(a.sockets(), Carried.SocketEntry::name), byName(b.sockets(), Carried.SocketEntry::name));
        compare(d, "process", processes(a), processes(b));
        return d;
    }

    private static <T> Map<String, T> byName(List<T> entries, Function<T, String> name) {
        Map<String, T> m = new TreeMap<>();
        for (T e : entries) m.put(name.apply(e), e);
        return m;
    }

    /** Records compare by their encoding: a record's equals compares arrays (groups) by identity. */
    private static void compare(List<String> d, String kind, Map<String, ? extends Record> held, Map<String, ? extends Record> tables) {
        Set<String> names = new TreeSet<>(held.keySet());
        names.addAll(tables.keySet());
        for (String n : names) {
            Record h = held.get(n);
            Record t = tables.get(n);
            if (!encoded(h).equals(encoded(t))) d.add(kind + " " + n + ": held " + h + ", tables " + t);
        }
    }

    private static String encoded(Record r) {
        if (r == null) return "none";
        try {
            return java.util.Base64.getEncoder().encodeToString(RecordCodec.encode(r));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A process as the check compares it: output-path fields zeroed, the pipe grace only there
     * or not, with its closed item (chunks are output: an upgrade's hand-over adds them to the
     * state, and the tables' records without output do not carry them).
     */
    private record Compared(ProcessEntry entry, List<Carried.ItemEntry> items) {}

    private static Map<String, Compared> processes(Restore.Image image) {
        Map<String, Compared> out = new TreeMap<>();
        for (Restore.Image.Process ip : image.processes()) {
            ProcessEntry p = ip.entry();
            ProcessEntry kept = new ProcessEntry(p.spec(), p.owner(), p.pid(), p.startedMicros(), p.pidfd(), p.stdout(), p.stderr(),
                    p.running(), p.exitStatus(), p.removed(), p.pipeGraceMillis() < 0 ? -1 : 0, p.graceDue(), 0, 0, 0, 0);
            List<Carried.ItemEntry> closed = new java.util.ArrayList<>();
            for (Carried.ItemEntry item : ip.items()) if (item.kind() == dev.papa.daemon.buffer.OutputBuffer.CLOSED) closed.add(item);
            out.put(p.spec().name(), new Compared(kept, closed));
        }
        return out;
    }
}
