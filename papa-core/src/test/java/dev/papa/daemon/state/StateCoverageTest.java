package dev.papa.daemon.state;

import dev.papa.daemon.spawn.ProcessSpec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.table.HostedProcess;
import dev.papa.daemon.table.HostedSocket;
import dev.papa.daemon.spawn.ProcessSpec;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What an upgrade carries: every field of the tables' classes is carried or says why not, and
 * every component of every state record survives the codec with a value that is not a default.
 * A field added to HostedProcess, HostedSocket or OutputBuffer fails here until it is carried.
 */
class StateCoverageTest {

    private static Set<String> fields(Class<?> c) {
        Set<String> names = new TreeSet<>();
        for (Field f : c.getDeclaredFields()) {
            if (!Modifier.isStatic(f.getModifiers()) && !f.isSynthetic()) names.add(f.getName());
        }
        return names;
    }

    private static Set<String> components(Class<?> record) {
        Set<String> names = new TreeSet<>();
        for (RecordComponent c : record.getRecordComponents()) names.add(c.getName());
        return names;
    }

    private static void assertCovered(Class<?> table, Class<?> record, Map<String, String> notCarried) {
        Set<String> missing = new TreeSet<>(fields(table));
        missing.removeAll(components(record));
        missing.removeAll(notCarried.keySet());
        assertEquals(Set.of(), missing, table.getSimpleName() + " fields that an upgrade would lose: carry them in "
                + record.getSimpleName() + " or say why not in its NOT_CARRIED");
        Set<String> stale = new TreeSet<>(notCarried.keySet());
        stale.removeAll(fields(table));
        assertEquals(Set.of(), stale, "NOT_CARRIED names fields " + table.getSimpleName() + " does not have");
    }

    @Test
    void everyFieldOfTheTablesIsCarriedOrExplained() {
        assertCovered(HostedProcess.class, Carried.ProcessEntry.class, Carried.ProcessEntry.NOT_CARRIED);
        assertCovered(HostedSocket.class, Carried.SocketEntry.class, Carried.SocketEntry.NOT_CARRIED);
        assertCovered(OutputBuffer.class, Carried.ItemEntry.class, Carried.ItemEntry.QUEUE_FIELDS);
    }

    @Test
    void everyComponentOfEveryRecordSurvivesTheCodec() throws Exception {
        for (Class<?> c : List.of(Carried.Header.class, Carried.ValueEntry.class, Carried.SocketEntry.class,
                Carried.ProcessEntry.class, Carried.ItemEntry.class, ProcessSpec.class)) {
            Record sample = (Record) sample(c, 1);
            Record back = RecordCodec.decode(c.asSubclass(Record.class), ByteBuffer.wrap(RecordCodec.encode(sample)));
            assertDeepEquals(sample, back, c.getSimpleName());
        }
    }

    /** Compares component by component, arrays by content (ProcessSpec.equals ignores its groups). */
    private static void assertDeepEquals(Object expected, Object actual, String where) throws Exception {
        if (expected instanceof Record) {
            for (RecordComponent rc : expected.getClass().getRecordComponents()) {
                assertDeepEquals(rc.getAccessor().invoke(expected), rc.getAccessor().invoke(actual), where + "." + rc.getName());
            }
        } else if (expected instanceof int[]) {
            assertArrayEquals((int[]) expected, (int[]) actual, where);
        } else if (expected instanceof byte[]) {
            assertArrayEquals((byte[]) expected, (byte[]) actual, where);
        } else {
            assertEquals(expected, actual, where);
        }
    }

    /** A value of {@code type} that is no default: a lost component cannot come back equal. */
    private static Object sample(Type type, int seed) throws Exception {
        Class<?> raw = type instanceof ParameterizedType ? (Class<?>) ((ParameterizedType) type).getRawType() : (Class<?>) type;
        if (raw == int.class || raw == Integer.class) return 1000 + seed;
        if (raw == long.class || raw == Long.class) return 1_000_000_000_000L + seed;
        if (raw == boolean.class || raw == Boolean.class) return true;
        if (raw == String.class) return "s" + seed + " \u00e9";
        if (raw == byte[].class) return new byte[] {1, 2, (byte) seed};
        if (raw == int[].class) return new int[] {seed, seed + 1};
        if (raw.isEnum()) {
            Object[] all = raw.getEnumConstants();
            return all[all.length - 1];
        }
        if (raw == List.class) {
            Type e = ((ParameterizedType) type).getActualTypeArguments()[0];
            return List.of(sample(e, seed), sample(e, seed + 1));
        }
        if (raw == Map.class) {
            Type[] kv = ((ParameterizedType) type).getActualTypeArguments();
            Map<Object, Object> m = new LinkedHashMap<>();
            m.put(sample(kv[0], seed), sample(kv[1], seed));
            return m;
        }
        if (raw.isRecord()) {
            RecordComponent[] cs = raw.getRecordComponents();
            Object[] args = new Object[cs.length];
            Class<?>[] types = new Class<?>[cs.length];
            for (int i = 0; i < cs.length; i++) {
                args[i] = sample(cs[i].getGenericType(), seed + i);
                types[i] = cs[i].getType();
            }
            var k = raw.getDeclaredConstructor(types);
            k.setAccessible(true);
            return k.newInstance(args);
        }
        throw new AssertionError("a state record holds a " + type + ": teach RecordCodec and this test to carry it");
    }

    record Wider(String name, String value, int owner, String addedLater) {}

    record Narrower(String name) {}

    @Test
    void unknownFieldsAreSkippedAndMissingOnesGetDefaults() throws Exception {
        byte[] wide = RecordCodec.encode(new Wider("n", "v", 7, "new"));
        assertEquals(new Carried.ValueEntry("n", "v", 7), RecordCodec.decode(Carried.ValueEntry.class, ByteBuffer.wrap(wide)));
        byte[] narrow = RecordCodec.encode(new Narrower("n"));
        assertEquals(new Carried.ValueEntry("n", null, 0), RecordCodec.decode(Carried.ValueEntry.class, ByteBuffer.wrap(narrow)));
        StateException e = assertThrows(StateException.class,
                () -> RecordCodec.decode(Carried.ValueEntry.class, ByteBuffer.wrap(RecordCodec.encode(new Wider("n", "v", 7, null)))
                        .limit(10)));
        assertTrue(e.getMessage().contains("ValueEntry"), e.getMessage());
    }

    private static Carried.Header header(List<Integer> fds) {
        return new Carried.Header("papa test", List.of("java", "-jar", "x.jar"), fds, new Carried.Daemonwide(5, 0, 0, -1, 0), 1, 0);
    }

    @Test
    void aWholeStateReadsBackInOrderAndUnknownEntriesAreSkipped() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProcessSpec spec = (ProcessSpec) sample(ProcessSpec.class, 3);
        try (StateFormat.Writer w = new StateFormat.Writer(bytes)) {
            w.entry("header", header(List.of(5, 6, 7)));
            w.entry("value", new Carried.ValueEntry("a", "b c", 0));
            w.entry("from-a-newer-minor", new Narrower("skipped"));
            w.entry("process", new Carried.ProcessEntry(spec, 0, 42, 5, 6, 7, -1, true, 0, false, -1, false, 10, 10, 0, 2));
            w.entry("item", new Carried.ItemEntry(OutputBuffer.OUT, 111, new byte[] {'x'}));
            w.entry("item", new Carried.ItemEntry(OutputBuffer.CLOSED, 222, null));
        }
        Restore.Image image = Restore.read(new ByteArrayInputStream(bytes.toByteArray()));
        assertEquals(List.of(new Carried.ValueEntry("a", "b c", 0)), image.values());
        assertEquals(1, image.processes().size());
        Restore.Image.Process p = image.processes().get(0);
        assertEquals(42, p.entry().pid());
        assertEquals(spec, p.entry().spec());
        assertEquals(2, p.items().size());
        assertArrayEquals(new byte[] {'x'}, p.items().get(0).chunk());
        assertEquals(111, p.items().get(0).timeMicros());
        assertNull(p.items().get(1).chunk());
        assertEquals(OutputBuffer.CLOSED, p.items().get(1).kind());
    }

    @Test
    void brokenStatesAreRefusedWithAReason() throws Exception {
        assertEquals("not a papa state", refusal(new byte[] {'n', 'o', 'p', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
        // A descriptor that the header does not list would not survive the exec.
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (StateFormat.Writer w = new StateFormat.Writer(bytes)) {
            w.entry("header", header(List.of(5)));
            w.entry("process", new Carried.ProcessEntry((ProcessSpec) sample(ProcessSpec.class, 1), 0, 42, 5, 9, -1, -1, true, 0,
                    false, -1, false, 0, 0, 0, 0));
        }
        assertEquals("descriptor 9 is not in the state's list", refusal(bytes.toByteArray()));
        byte[] truncated = java.util.Arrays.copyOf(bytes.toByteArray(), bytes.size() - 8);
        assertEquals("truncated state", refusal(truncated));
    }

    @Test
    void anUnknownMajorVersionIsRefused() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setProperty(StateFormat.WRITE_MAJOR_PROPERTY, "2");
        try (StateFormat.Writer w = new StateFormat.Writer(bytes)) {
            w.entry("header", header(List.of(5)));
        } finally {
            System.clearProperty(StateFormat.WRITE_MAJOR_PROPERTY);
        }
        assertEquals("unknown state format 2." + StateFormat.MINOR + " (this papa reads 1.x)", refusal(bytes.toByteArray()));
    }

    private static String refusal(byte[] state) {
        return assertThrows(StateException.class, () -> Restore.read(new ByteArrayInputStream(state))).getMessage();
    }

}
