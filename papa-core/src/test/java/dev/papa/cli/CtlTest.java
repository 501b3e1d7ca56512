package dev.papa.cli;

import dev.papa.client.TestDaemon;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class CtlTest {
    TestDaemon daemon;

    @BeforeEach
    void start() throws Exception {
        daemon = TestDaemon.start();
    }

    @AfterEach
    void stop() {
        daemon.close();
    }

    record Out(int code, String out, String err) {
    }

    Out ctl(String... args) {
        List<String> a = new ArrayList<>(List.of("-p", Integer.toString(daemon.port())));
        a.addAll(List.of(args));
        return raw(a.toArray(new String[0]));
    }

    static Out raw(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Ctl.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Out(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void commandsAndExitCodes() throws Exception {
        assertEquals(new Out(0, "", ""), ctl("set", "greeting", "hello world"));
        assertEquals(new Out(0, "hello world\n", ""), ctl("get", "greeting"));
        assertEquals(new Out(0, "greeting hello world\n", ""), ctl("l", "v"));
        assertEquals(new Out(1, "", "Error: You cannot remove all variables\n"), ctl("remove", "values", "*"));
        Out bad = ctl("bogus");
        assertEquals(1, bad.code);
        assertTrue(bad.err.startsWith("Error: Unknown command"), bad.err);
        assertTrue(ctl("help").out.contains("list"));
        assertEquals(2, raw().code);
        assertEquals(2, raw("-p").code);
        assertEquals(2, raw("-p", "notaport", "l", "v").code);
        try (Socket bound = new Socket()) { // bound, never listening: the port refuses, and nobody else gets it
            bound.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Out none = raw("-p", Integer.toString(bound.getLocalPort()), "l", "v");
            assertEquals(3, none.code);
            assertTrue(none.err.contains("No papa daemon"), none.err);
        }
        assertEquals(new Out(0, "ok\n", ""), ctl("quit"));
    }

    @Test
    void unixSocket() throws Exception {
        var sock = daemon.dir.resolve("ctl.sock");
        try (var d = dev.papa.daemon.Daemon.start(new dev.papa.daemon.DaemonConfig().port(0).unixSocket(sock))) {
            assertEquals(0, raw("-u", sock.toString(), "set", "a", "b").code);
            assertEquals(new Out(0, "a b\n", ""), raw("-u", sock.toString(), "list", "values"));
        }
    }

    @Test
    void watchStreamsLinesAndExits() throws Exception {
        Out made = ctl("make", "process", "w", "env.PATH=/usr/bin:/bin", "sh", "-c",
                "echo a; echo b >&2; printf 'c\\nd'; exit 2");
        assertEquals(0, made.code, made.err);
        assertTrue(made.out.startsWith("w pid="), made.out);
        Out w = ctl("watch", "w");
        assertEquals(0, w.code, w.err);
        String ts = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z ";
        String[] lines = w.out.split("\n");
        List<String> stripped = new ArrayList<>();
        for (String line : lines) {
            assertTrue(line.matches(ts + ".*"), line);
            stripped.add(line.substring(28));
        }
        assertEquals(List.of("w out: a", "w err: b", "w out: c", "w out: d", "w exit: 2"), sortedByStream(stripped));
        // acknowledged as printed: the process is gone
        assertEquals(new Out(0, "", ""), ctl("list", "processes"));
    }

    /** Output and error are separate pipes; compare each stream's order only. */
    private static List<String> sortedByStream(List<String> lines) {
        List<String> out = new ArrayList<>();
        List<String> err = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (String l : lines) {
            (l.startsWith("w out") ? out : l.startsWith("w err") ? err : rest).add(l);
        }
        List<String> r = new ArrayList<>();
        r.add(out.get(0));
        r.addAll(err);
        r.addAll(out.subList(1, out.size()));
        r.addAll(rest);
        return r;
    }

    @Test
    void makeProcessWithWatchStreams() throws Exception {
        Out w = ctl("make", "process", "mw", "env.PATH=/usr/bin:/bin", "watch=1", "sh", "-c", "echo hi there");
        assertEquals(0, w.code, w.err);
        assertTrue(w.out.startsWith("mw pid="), w.out);
        assertTrue(w.out.contains(" mw out: hi there\n"), w.out);
        assertTrue(w.out.contains(" mw exit: 0\n"), w.out);
    }
}
