package dev.papa.daemon.table;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ValueTableCostTest {
    /** The shape of ValueTable's record: a string and an owner uid. */
    private record Owned(String text, int owner) {}

    @Test
    void latin1AndWideStringsCostWhatCompactStringsTake() {
        assertEquals(24 + 24, ValueTable.stringCost("x"));        // array: 16 + 1, aligned to 24
        assertEquals(24 + 24, ValueTable.stringCost("é"));        // Latin-1: still one byte
        assertEquals(24 + 24, ValueTable.stringCost("€"));        // two bytes: 18, aligned to 24
        assertEquals(24 + 16 + 65536, ValueTable.stringCost("v".repeat(65536)));
        assertEquals(24 + 16 + 2 * 65536, ValueTable.stringCost("€".repeat(65536)));
        assertEquals(ValueTable.ENTRY_COST + 48 + 48, ValueTable.cost("k", "x"));
    }

    /** What the JVM allocates for an entry of fresh Latin-1 strings never exceeds its counted cost. */
    @Test
    void theCountMatchesWhatTheJvmAllocates() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        for (int length : new int[] {1, 30, 1000, 65536}) {
            char[] chars = "v".repeat(length).toCharArray();
            TreeMap<String, Object> map = new TreeMap<>();
            map.put("warm", "up");
            int n = 200;
            String[] names = new String[n];
            for (int i = 0; i < n; i++) names[i] = "name" + (1000 + i);
            long before = threads.getThreadAllocatedBytes(self);
            for (int i = 0; i < n; i++) map.put(new String(names[i].toCharArray()), new Owned(new String(chars), 1000));
            long allocated = (threads.getThreadAllocatedBytes(self) - before) / n;
            long counted = ValueTable.cost(names[0], "v".repeat(length));
            // allocation includes the name's toCharArray() copy (garbage): what stays is less still
            assertTrue(allocated <= counted + 16 + 2L * names[0].length(), length + ": allocated " + allocated + ", counted " + counted);
        }
    }
}
