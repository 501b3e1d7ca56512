package dev.papa.client;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WordsTest {
    @Test
    void escapesSpacesAndNewlines() {
        assertEquals("a\\ b", Words.word("a b"));
        assertEquals("a\\ \\ b", Words.word("a  b"));
        assertEquals("\\ a", Words.word(" a"));
        assertEquals("a\\ b", Words.word("a\nb"));
        assertEquals("x\\y", Words.word("x\\y"));
        assertEquals("h\u00e9llo\u2603", Words.word("h\u00e9llo\u2603"));
    }

    @Test
    void refusesWordsTheProtocolCannotCarry() {
        assertThrows(IllegalArgumentException.class, () -> Words.word(""));
        assertThrows(IllegalArgumentException.class, () -> Words.word("C:\\"));
        assertThrows(IllegalArgumentException.class, () -> Words.word("a "));
        assertThrows(IllegalArgumentException.class, () -> Words.word("a\n"));
        assertThrows(IllegalArgumentException.class, () -> Words.line(List.of("set", "x", "tab\t")));
    }

    @Test
    void quotesOptionValues() {
        assertEquals("env.X=plain", Words.option("env.X", "plain"));
        assertEquals("env.X=", Words.option("env.X", ""));
        assertEquals("env.X=\"C:\\\"", Words.option("env.X", "C:\\"));
        assertEquals("env.X=\"a\\ b\\ \"", Words.option("env.X", "a b "));
        assertEquals("env.X=\"\"q\"\"", Words.option("env.X", "\"q\""));
        assertEquals("env.X=a=b", Words.option("env.X", "a=b"));
        assertThrows(IllegalArgumentException.class, () -> Words.option("a=b", "c"));
    }

    @Test
    void parsesLines() throws Exception {
        SocketInfo s = SocketInfo.parse("web family=inet type=stream backlog=5 host=127.0.0.1 port=8080 fileno=7");
        assertEquals("web", s.name());
        assertEquals(8080, s.port());
        assertEquals(7, s.fileno());
        assertEquals("inet", s.family());
        SocketInfo u = SocketInfo.parse("u family=unix type=stream backlog=5 path=/tmp/a b.sock umask=7 fileno=9");
        assertEquals("/tmp/a b.sock", u.path());
        assertEquals(7, u.umask());
        ProcessInfo p = ProcessInfo.parse("w pid=42 running=True started=1700000000.25 uid=0 gid=0 args=sh -c echo a=b");
        assertEquals(42, p.pid());
        assertEquals(1_700_000_000_250_000L, p.startedMicros());
        assertEquals("sh -c echo a=b", p.args());
        assertEquals(0, p.uid());
        assertEquals(true, p.running());
    }
}
