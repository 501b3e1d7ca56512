package dev.papa.daemon.fdpass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.papa.posix.Fd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Sockets;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A raw protocol client over a real unix socket that sends and receives descriptors (SCM_RIGHTS). */
final class FdClient implements AutoCloseable {
    static final String GREETING = "Papa is home. Type \"help\" for commands.\n> ";

    /** A reply with the prompt, and what descriptors came with it (owned by the test). */
    record Reply(String text, List<Fd> fds) {
        void closeFds() {
            for (Fd f : fds) f.close();
        }
    }

    private final Fd conn;

    private FdClient(Fd conn) {
        this.conn = conn;
    }

    static FdClient connect(Path control) throws Exception {
        FdClient c = new FdClient(Sockets.connectUnix(control.toString()));
        Sockets.setReceiveTimeout(c.conn.get(), 10_000);
        Reply g = c.read();
        assertEquals(GREETING, g.text());
        assertEquals(0, g.fds().size());
        return c;
    }

    int fd() {
        return conn.get();
    }

    /** Sends one line with the descriptors attached to its first byte; returns the whole reply. */
    Reply send(String line, int... fds) throws Exception {
        Sockets.sendFds(conn.get(), (line + "\n").getBytes(StandardCharsets.UTF_8), fds);
        return read();
    }

    /** Sends a line that must succeed and carry no descriptor; returns the text without the prompt. */
    String ok(String line) throws Exception {
        Reply r = send(line);
        r.closeFds();
        assertFalse(r.text().startsWith("Error:"), line + " -> " + r.text());
        assertEquals(0, r.fds().size(), "descriptors with " + line);
        return r.text().substring(0, r.text().length() - 3);
    }

    /** Reads up to and including the prompt. */
    Reply read() throws PosixException {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        List<Fd> fds = new ArrayList<>();
        while (true) {
            Sockets.Received r = Sockets.receiveFds(conn.get(), 65536, Sockets.MAX_FDS_PER_MESSAGE);
            fds.addAll(List.of(r.fds()));
            if (r.truncated()) throw new AssertionError("control data cut");
            if (r.data().length == 0) throw new AssertionError("EOF after [" + data + "]");
            data.write(r.data(), 0, r.data().length);
            String s = data.toString(StandardCharsets.UTF_8);
            if (s.endsWith("\n> ") || s.equals("> ")) return new Reply(s, fds);
        }
    }

    @Override
    public void close() {
        conn.close();
    }
}
