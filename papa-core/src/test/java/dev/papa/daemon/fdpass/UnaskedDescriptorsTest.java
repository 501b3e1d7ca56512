package dev.papa.daemon.fdpass;

import static dev.papa.daemon.fdpass.DescriptorPassingTest.NEEDS_SOCKET;
import static dev.papa.daemon.fdpass.DescriptorPassingTest.writeEndsClosed;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.Sockets;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Descriptors attached where papa asked for none are closed, and the line is handled as usual
 * (docs/PROTOCOL.md, "Descriptors the daemon did not ask for"): on a watch acknowledgement, on a
 * line too long, and a file given to {@code adopt=1}.
 */
class UnaskedDescriptorsTest {
    @TempDir Path tmp;
    Path control;
    Daemon daemon;
    FdClient client;

    @BeforeEach
    void start() throws Exception {
        control = tmp.resolve("papa.sock");
        daemon = Daemon.start(new DaemonConfig().unixSocket(control).singleSession(false).maxLine(1024));
        client = FdClient.connect(control);
    }

    @AfterEach
    void stop() {
        if (client != null) client.close();
        daemon.close();
    }

    /** Reads until the text ends with {@code end}; fails on any descriptor coming back. */
    private String readUntil(String... ends) throws Exception {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        while (true) {
            Sockets.Received r = Sockets.receiveFds(client.fd(), 65536, 1);
            assertEquals(0, r.fds().length, "papa sends no descriptor here");
            if (r.data().length == 0) throw new AssertionError("EOF after [" + data + "]");
            data.write(r.data(), 0, r.data().length);
            String s = data.toString(StandardCharsets.UTF_8);
            for (String end : ends) if (s.endsWith(end)) return s;
        }
    }

    @Test
    void aDescriptorOnAWatchAcknowledgementIsClosedAndTheAcknowledgementCounts() throws Exception {
        assertTrue(client.ok("make process once /bin/echo once").startsWith("once pid="));
        Fd[] pipe = Io.pipe();
        try {
            Sockets.sendFds(client.fd(), "watch processes once\n".getBytes(StandardCharsets.UTF_8));
            String got = readUntil("] ");
            assertTrue(got.startsWith("Watching 1\nout:once:"), got);
            Sockets.sendFds(client.fd(), "\n".getBytes(StandardCharsets.UTF_8), pipe[1].get());
            pipe[1].close();
            // the acknowledgement removed the output: what follows is the exit alone, then the end
            String rest = readUntil("Nothing left to watch\n> ", "] ");
            if (rest.endsWith("] ")) {
                assertTrue(rest.startsWith("closed:once:") && !rest.contains("out:"), rest);
                Sockets.sendFds(client.fd(), "\n".getBytes(StandardCharsets.UTF_8));
                rest = readUntil("Nothing left to watch\n> ");
            }
            assertEquals("Nothing left to watch\n> ", rest);
            assertTrue(writeEndsClosed(pipe[0]), "the daemon closed the pipe sent with the acknowledgement");
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
        assertEquals("", client.ok("list processes"), "the acknowledged exit took the process out of the table");
    }

    @Test
    void aDescriptorOnALineTooLongIsClosed() throws Exception {
        Fd[] pipe = Io.pipe();
        try {
            String line = "set big " + "x".repeat(2000) + "\n";
            Sockets.sendFds(client.fd(), line.getBytes(StandardCharsets.UTF_8), pipe[1].get());
            pipe[1].close();
            assertEquals("Error: Request line is too long (over 1024 bytes)\n> ", readUntil("\n> "));
            assertTrue(writeEndsClosed(pipe[0]), "the daemon closed the pipe sent with the line");
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
        assertEquals("", client.ok("get big"), "the long line changed nothing");
    }

    /** The warning about a closed descriptor quotes the request escaped: it cannot forge a log line. */
    @Test
    void theWarningQuotesTheRequestEscaped() throws Exception {
        Logger log = Logger.getLogger("dev.papa.daemon.session.FdPassing");
        List<LogRecord> records = new CopyOnWriteArrayList<>();
        Handler h = new Handler() {
            @Override public void publish(LogRecord r) { records.add(r); }
            @Override public void flush() { }
            @Override public void close() { }
        };
        log.addHandler(h);
        Fd[] pipe = Io.pipe();
        try {
            assertEquals("\n> ", client.send("get a\rforged\u2028line\u001b[2K", pipe[1].get()).text());
            pipe[1].close();
            assertTrue(writeEndsClosed(pipe[0]), "the daemon closed the pipe sent with the request");
            long deadline = System.currentTimeMillis() + 5000;
            while (records.isEmpty()) { // the warning follows the close
                assertTrue(System.currentTimeMillis() < deadline, "no warning about the closed descriptor");
                Thread.sleep(10); // poll interval
            }
        } finally {
            log.removeHandler(h);
            pipe[0].close();
            pipe[1].close();
        }
        assertEquals(1, records.size(), records.toString());
        String message = records.get(0).getMessage();
        assertTrue(message.contains("sent with \"get a\\x0dforged\\u2028line\\x1b[2K\""), message);
    }

    @Test
    void aRegularFileIsNoSocketToAdopt() throws Exception {
        Path file = tmp.resolve("not-a-socket");
        Files.writeString(file, "");
        try (Fd f = Io.openLogFile(file.toString())) {
            assertEquals(NEEDS_SOCKET, client.send("make socket f adopt=1", f.get()).text());
        }
        assertEquals("", client.ok("list sockets"), "nothing was adopted");
        long deadline = System.currentTimeMillis() + 5000;
        while (openCopies(file) > 0) {
            assertTrue(System.currentTimeMillis() < deadline, "the daemon still holds the file it was sent");
            Thread.sleep(10); // poll interval
        }
    }

    /** Descriptors of this JVM (the in-process daemon's among them) open on {@code file}. */
    private static long openCopies(Path file) throws Exception {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(file);
                } catch (Exception gone) {
                    return false;
                }
            }).count();
        }
    }
}
