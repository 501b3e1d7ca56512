package dev.papa.daemon.protocol;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WordsAndCommandTest {

    private static List<String> words(String line) {
        return new ArrayList<>(Words.split(line));
    }

    @Test
    void splitsOnSpacesSkippingRunsAndJoiningEscapedSpaces() {
        assertEquals(List.of("set", "a", "b"), Words.split("set  a   b"));
        assertEquals(List.of("make", "process", "x", "/bin/echo", "a b", "c"), Words.split("make process x /bin/echo a\\ b c"));
        assertEquals(List.of("a  b"), Words.split("a\\ \\ b"));
        assertEquals(List.of("x", "tail "), Words.split("x tail\\"));
        assertEquals(List.of(), Words.split(""));
    }

    @Test
    void optionsSplitAtTheFirstEqualsAndLoseWrappingQuotes() {
        List<String> w = words("env.A=1=2 env.B= env.C=\"ends\\\" uid=nobody /bin/true x=y");
        Map<String, String> o = Words.takeOptions(w);
        assertEquals(Map.of("env.A", "1=2", "env.B", "", "env.C", "ends\\", "uid", "nobody"), o);
        assertEquals(List.of("/bin/true", "x=y"), w);
    }

    @Test
    void commandWordsAreCaseInsensitivePrefixesResolvedInSortedOrder() throws CommandError {
        assertEquals(Command.LIST_PROCESSES, Command.take(words("l p"), false));
        assertEquals(Command.LIST_PROCESSES, Command.take(words("LIST Processes"), false));
        assertEquals(Command.REMOVE_VALUES, Command.take(words("r v"), false));
        assertEquals(Command.SET, Command.take(words("s"), false));
        assertEquals(Command.MAKE_PROCESS, Command.take(words("m p"), false));
        assertEquals(Command.MAKE_SOCKET, Command.take(words("make s"), false));
        assertEquals(Command.EXIT_IF_IDLE, Command.take(words("exit-if-idle"), false));
        assertNull(Command.take(words("list"), true));
    }

    @Test
    void commandErrorsUseTheReferenceWording() {
        assertEquals("You cannot abbreviate \"exit-if-idle\"",
                assertThrows(CommandError.class, () -> Command.take(words("exit"), false)).getMessage());
        assertEquals("Unknown command \"frob\"",
                assertThrows(CommandError.class, () -> Command.take(words("FROB"), false)).getMessage());
        assertEquals("Bad \"list\" command. The following word must be one of: processes, sockets, values",
                assertThrows(CommandError.class, () -> Command.take(words("list x"), false)).getMessage());
        assertEquals("\"make\" must be followed by one of: process, socket",
                assertThrows(CommandError.class, () -> Command.take(words("make"), false)).getMessage());
    }

    @Test
    void timestampsHaveSixDecimals() {
        assertEquals("1732780425.000001", WallClock.format(1732780425_000001L));
        assertEquals("1732780425.678900", WallClock.format(1732780425_678900L));
        WallClock clock = new WallClock();
        // the system clock read around it (milliseconds, so one either side for rounding; the
        // clock counts from a wall-clock base with nanoTime)
        long before = (System.currentTimeMillis() - 1) * 1000;
        long now = clock.nowMicros();
        long after = (System.currentTimeMillis() + 1) * 1000;
        assertTrue(before <= now && now <= after, before + " <= " + now + " <= " + after);
    }
}
