package dev.papa.daemon.fdpass;

import static org.junit.jupiter.api.Assertions.*;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;
import dev.papa.posix.Rlimit;
import dev.papa.posix.Sockets;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PROTOCOL.md "Descriptor passing", over a real unix control socket of an in-process daemon. */
class DescriptorPassingTest {
    static final String NEEDS_SOCKET = "Error: adopt=1 needs a socket descriptor attached to the request\n> ";
    static final int F_DUPFD_CLOEXEC = 1030;
    static final String NEEDS_UNIX = "Error: descriptor passing needs the unix control socket\n> ";

    @TempDir Path tmp;
    Path control;
    Daemon daemon;
    final List<AutoCloseable> closeLater = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        control = tmp.resolve("papa.sock");
        daemon = Daemon.start(new DaemonConfig().unixSocket(control).singleSession(false));
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closeLater) c.close();
        daemon.close();
    }

    FdClient client() throws Exception {
        FdClient c = FdClient.connect(control);
        closeLater.add(c);
        return c;
    }

    static int openFds() throws Exception {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count() - 1;
        }
    }

    /**
     * Polls until every write end of the pipe is closed (the reader sees EOF), which proves that
     * nobody holds a copy; false after 5 s. (The daemon closes a request's descriptors right
     * after replying, so the reply may arrive first.)
     */
    static boolean writeEndsClosed(Fd readEnd) throws Exception {
        Io.setNonBlocking(readEnd.get(), true);
        long deadline = System.currentTimeMillis() + 5000;
        while (Io.read(readEnd.get(), ByteBuffer.allocate(16)) != Io.EOF) {
            if (System.currentTimeMillis() > deadline) return false;
            Thread.sleep(10);
        }
        return true;
    }

    static Fd tcpListener(int backlog) throws Exception {
        return Sockets.bindInet(Sockets.Family.INET, Sockets.Type.STREAM, InetAddress.getByName("127.0.0.1"), 0,
                backlog, false, null);
    }

    @Test
    void takeSendsTheListedSocketsInOrder() throws Exception {
        FdClient c = client();
        String web = c.ok("make socket web");
        String api = c.ok("make socket api family=unix path=" + tmp.resolve("api.sock"));
        FdClient.Reply r = c.send("take sockets *");
        assertEquals(c.ok("list sockets") + "\n> ", r.text());
        assertEquals(api + "\n" + web + "\n> ", r.text(), "sorted, like list sockets");
        assertEquals(2, r.fds().size());
        try (Fd a = r.fds().get(0); Fd w = r.fds().get(1)) {
            assertTrue(Io.isCloseOnExec(a.get()) && Io.isCloseOnExec(w.get()));
            Sockets.Description d = Sockets.describe(w.get());
            assertTrue(d.listening());
            int port = Integer.parseInt(web.replaceAll(".* port=(\\d+).*", "$1"));
            assertEquals(port, d.inet().getPort(), "the same socket as web");
            assertEquals(tmp.resolve("api.sock").toString(), Sockets.describe(a.get()).path());
            // it serves: a connection to web's port is accepted on the taken descriptor
            try (Socket s = new Socket("127.0.0.1", port)) {
                Io.setNonBlocking(w.get(), false);
                try (Fd accepted = Sockets.accept(w.get())) {
                    assertNotNull(accepted);
                }
            }
        }
        // an exact name that does not exist is an error; a pattern that matches nothing is not
        FdClient.Reply none = c.send("take sockets nothing");
        assertEquals("Error: nothing not found\n> ", none.text());
        assertEquals(0, none.fds().size());
        FdClient.Reply empty = c.send("take sockets zz*");
        assertEquals("\n> ", empty.text());
        assertEquals(0, empty.fds().size());
        // abbreviations work as for every command
        FdClient.Reply abbreviated = c.send("t s web");
        assertEquals(web + "\n> ", abbreviated.text());
        assertEquals(1, abbreviated.fds().size());
        abbreviated.closeFds();
        assertTrue(c.ok("help take").startsWith("Receive duplicates of sockets (unix control socket only)."));
        assertEquals(c.ok("help take"), c.ok("h t s"));
    }

    @Test
    void aReusePortSocketIsTakenAsAFreshCopy() throws Exception {
        FdClient c = client();
        String line = c.ok("make socket rp reuseport=1");
        int port = Integer.parseInt(line.replaceAll(".* port=(\\d+).*", "$1"));
        FdClient.Reply r = c.send("take sockets rp");
        FdClient.Reply again = c.send("take sockets rp");
        assertEquals(1, r.fds().size());
        assertEquals(1, again.fds().size());
        try (Fd copy = r.fds().get(0); Fd second = again.fds().get(0)) {
            for (Fd f : List.of(copy, second)) {
                Sockets.Description d = Sockets.describe(f.get());
                assertEquals(port, d.inet().getPort());
                assertTrue(d.listening());
            }
            // a fresh socket each time (its own inode), not duplicates of one
            assertNotEquals(socketInode(copy.get()), socketInode(second.get()));
        }
        // a socket without reuseport is sent as a duplicate of papa's: the same inode
        String plain = c.ok("make socket plain");
        FdClient.Reply p = c.send("take sockets plain");
        try (Fd dup = p.fds().get(0)) {
            assertEquals(socketInode(Integer.parseInt(plain.replaceAll(".* fileno=(\\d+).*", "$1"))), socketInode(dup.get()));
        }
    }

    /** The kernel's name of the socket open at fd in this process ("socket:[INODE]"). */
    static String socketInode(int fd) throws Exception {
        String link = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        assertTrue(link.startsWith("socket:["), link);
        return link;
    }

    @Test
    void adoptKeepsASocketTheTestMadeAndAPapaProcessServesOnIt() throws Exception {
        FdClient c = client();
        String line;
        int port;
        try (Fd mine = tcpListener(17)) {
            port = Sockets.localPort(mine.get());
            FdClient.Reply r = c.send("make socket adopted adopt=1", mine.get());
            assertEquals(0, r.fds().size());
            line = r.text().substring(0, r.text().length() - 3);
        } // the test's own copy is closed: the daemon's keeps the socket
        assertTrue(line.matches("adopted family=inet type=stream backlog=17 host=127\\.0\\.0\\.1 port=" + port + " fileno=\\d+"), line);
        assertEquals(line, c.ok("list sockets adopted"));
        String python = python();
        String made = c.ok("make process srv " + python + " -c "
                + "import\\ socket,sys;s=socket.socket(fileno=int(sys.argv[1]));c,_=s.accept();c.sendall(b'served\\ by\\ papa\\n')"
                + " $(socket.adopted.fileno)");
        long pid = Long.parseLong(made.replaceAll(".* pid=(\\d+) .*", "$1"));
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            assertEquals("served by papa", new BufferedReader(new InputStreamReader(s.getInputStream())).readLine());
        } finally {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void anAdoptedUnixSocketIsListedAndItsPathIsNeverUnlinked() throws Exception {
        FdClient c = client();
        Path path = tmp.resolve("theirs.sock");
        try (Fd mine = Sockets.bindUnix(Sockets.Type.STREAM, path.toString(), 9, null)) {
            String line = c.send("make socket u adopt=1", mine.get()).text();
            assertEquals("u family=unix type=stream backlog=9 path=" + path + " fileno=", line.replaceAll("fileno=\\d+\\n> $", "fileno="));
            assertEquals("Error: Socket for " + path + " has already been created\n> ",
                    c.send("make socket other path=" + path).text(), "the path is in use");
            c.ok("remove sockets u");
            assertTrue(Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS), "remove sockets never unlinks an adopted socket's file");
        }
        try (Fd mine = Sockets.bindUnix(Sockets.Type.DGRAM, tmp.resolve("d.sock").toString(), 5, null)) {
            assertTrue(c.send("make socket d adopt=1", mine.get()).text().startsWith("d family=unix type=dgram backlog=0 path="));
        }
        daemon.close();
        assertTrue(Files.exists(tmp.resolve("d.sock")), "nor does daemon exit");
        daemon = Daemon.start(new DaemonConfig().unixSocket(control).singleSession(false));
    }

    /**
     * A socket bound in a mount namespace of its binder's reserves no path of the daemon's: its
     * address names a file that, here, is not there (issue 21, item 8). Bound and sent by a
     * helper in a private namespace where a tmpfs covers the directory.
     */
    @Test
    void aSocketBoundInAnotherMountNamespaceReservesNoPathHere() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.papa.daemon.hardening.MountNamespace.available(), "needs mount namespaces");
        Path dir = Files.createDirectory(tmp.resolve("covered"));
        Path path = dir.resolve("s.sock");
        String helper = String.join("\n",
                "import socket, sys",
                "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)",
                "c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[2])",
                "def prompt():",
                "    b = b''",
                "    while not b.endswith(b'> '): b += c.recv(4096)",
                "    return b",
                "prompt()",
                "socket.send_fds(c, [b'make socket theirs adopt=1\\n'], [s.fileno()])",
                "sys.stdout.write(prompt().decode())");
        Process p = new ProcessBuilder("unshare", "-m", "--propagation", "private", "--", "sh", "-c",
                "mount -t tmpfs papa-test \"$0\" && exec \"$@\"", dir.toString(), python(), "-c", helper, path.toString(),
                control.toString()).redirectErrorStream(true).start();
        String adopted = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS) && p.exitValue() == 0, adopted);
        assertTrue(adopted.startsWith("theirs family=unix type=stream backlog=4 path=" + path + " fileno="), adopted);
        assertFalse(Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS), "the file is in the helper's namespace only");
        FdClient c = client();
        String made = c.send("make socket ours path=" + path).text();
        assertTrue(made.startsWith("ours family=unix type=stream backlog=5 path=" + path + " fileno="), made);
        // while the same socket, adopted where its file is, holds the path
        try (Fd mine = Sockets.bindUnix(Sockets.Type.STREAM, tmp.resolve("here.sock").toString(), 4, null)) {
            assertTrue(c.send("make socket here adopt=1", mine.get()).text().startsWith("here family=unix"));
            assertEquals("Error: Socket for " + tmp.resolve("here.sock") + " has already been created\n> ",
                    c.send("make socket again path=" + tmp.resolve("here.sock")).text());
        }
    }

    @Test
    void aPipeAClosedDescriptorOrNoneIsNotASocket() throws Exception {
        FdClient c = client();
        Fd[] pipe = Io.pipe();
        try {
            assertEquals(NEEDS_SOCKET, c.send("make socket p adopt=1", pipe[1].get()).text());
            pipe[1].close();
            assertTrue(writeEndsClosed(pipe[0]), "the daemon closed the pipe it was sent");
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
        // a closed descriptor cannot even be sent: the sender's kernel refuses, nothing reaches papa.
        // Its number is far above every open one: any thread of this JVM (the daemon's, a class
        // loader reading a .class file) may open a file under the lowest free number between the
        // close and the send, and the send would then pass that file.
        int number;
        try (Fd sock = tcpListener(5)) {
            number = dev.papa.posix.internal.LibC.fcntl(sock.get(), F_DUPFD_CLOEXEC, (int) (Rlimit.NOFILE.get()[0] / 2));
        }
        assertTrue(number > openFds(), "a number above every open descriptor: " + number);
        assertEquals(0, dev.papa.posix.internal.LibC.close(number));
        PosixException e = assertThrows(PosixException.class, () -> Sockets.sendFds(c.fd(), "make socket g adopt=1\n".getBytes(), number));
        assertEquals(9, e.errno(), "EBADF");
        assertEquals(NEEDS_SOCKET, c.send("make socket g adopt=1").text(), "no descriptor attached");
        assertEquals("", c.ok("list sockets"), "nothing was made");
        assertEquals("Error: adopt=1 takes no other option (the kernel tells the rest): port\n> ",
                c.send("make socket g adopt=1 port=80").text());
    }

    @Test
    void moreDescriptorsThanTheControlBufferHoldsAreRefusedAndClosed() throws Exception {
        FdClient c = client();
        Fd[] pipe = Io.pipe();
        try (Fd sock = tcpListener(5)) {
            FdClient.Reply r = c.send("make socket x adopt=1", sock.get(), pipe[1].get(), pipe[1].get());
            assertTrue(r.text().startsWith("Error: more descriptors were attached to the request than papa takes (1)"), r.text());
            assertEquals("", c.ok("list sockets"), "refused: nothing made");
            pipe[1].close();
            assertTrue(writeEndsClosed(pipe[0]), "the kernel discarded what did not fit, papa closed the rest");
        } finally {
            pipe[0].close();
            pipe[1].close();
        }
    }

    @Test
    void aDescriptorSentWithAnyOtherRequestIsClosedAndLoggedAggregated() throws Exception {
        Logger log = Logger.getLogger("dev.papa.daemon.session.FdPassing");
        List<LogRecord> records = new java.util.concurrent.CopyOnWriteArrayList<>();
        Handler h = new Handler() {
            @Override public void publish(LogRecord r) { records.add(r); }
            @Override public void flush() { }
            @Override public void close() { }
        };
        log.addHandler(h);
        try {
            FdClient c = client();
            c.ok("set k v");
            Fd[] pipe = Io.pipe();
            try {
                for (int i = 0; i < 200; i++) {
                    assertEquals("v\n> ", c.send("get k", pipe[1].get()).text(), "the request itself works");
                }
                c.send("watch processes nothing", pipe[1].get());
                pipe[1].close();
                assertTrue(writeEndsClosed(pipe[0]), "papa kept none of the 201 copies");
            } finally {
                pipe[0].close();
                pipe[1].close();
            }
            assertEquals(1, records.size(), "one line, the rest aggregated: " + records.size());
            assertTrue(records.get(0).getMessage().contains("sent with \"get k\""), records.get(0).getMessage());
        } finally {
            log.removeHandler(h);
        }
    }

    @Test
    void descriptorsBelongToTheLineTheyWereSentWith() throws Exception {
        FdClient c = client();
        try (Fd sock = tcpListener(5)) {
            // three lines in one message: the descriptor belongs to the last one only
            Sockets.sendFds(c.fd(), "set a 1\nget a\nmake socket late adopt=1\n".getBytes(StandardCharsets.UTF_8), sock.get());
            StringBuilder all = new StringBuilder();
            while (all.toString().split("> ", -1).length < 4) all.append(c.read().text());
            String[] replies = all.toString().split("> ", -1);
            assertEquals("\n", replies[0]);
            assertEquals("1\n", replies[1]);
            assertTrue(replies[2].startsWith("late family=inet type=stream backlog=5"), replies[2]);
            // a line split over two messages, the descriptor on its first part
            Sockets.sendFds(c.fd(), "make socket spl".getBytes(StandardCharsets.UTF_8), sock.get());
            Sockets.sendFds(c.fd(), "it adopt=1\n".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.read().text().startsWith("split family=inet"));
        }
    }

    @Test
    void overTcpBothAreRefusedAndNothingElseChanges() throws Exception {
        try (Daemon tcp = Daemon.start(new DaemonConfig().port(0).singleSession(false));
             Socket s = new Socket("127.0.0.1", tcp.port())) {
            s.setSoTimeout(10_000);
            var in = s.getInputStream();
            var out = s.getOutputStream();
            assertEquals(FdClient.GREETING, readPrompt(in));
            out.write("make socket web\n".getBytes());
            String web = readPrompt(in);
            out.write("take sockets web\n".getBytes());
            assertEquals(NEEDS_UNIX, readPrompt(in));
            out.write("make socket x adopt=1\n".getBytes());
            assertEquals(NEEDS_UNIX, readPrompt(in));
            out.write("list sockets\n".getBytes());
            assertEquals(web, readPrompt(in), "nothing else changed");
        }
    }

    static String readPrompt(java.io.InputStream in) throws Exception {
        ByteArrayOutputStreamReader r = new ByteArrayOutputStreamReader();
        while (!r.text().endsWith("> ")) {
            int b = in.read();
            if (b < 0) throw new AssertionError("EOF after " + r.text());
            r.write(b);
        }
        return r.text();
    }

    static final class ByteArrayOutputStreamReader extends java.io.ByteArrayOutputStream {
        String text() { return toString(StandardCharsets.UTF_8); }
    }

    static String python() {
        for (String p : List.of("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")) {
            if (Files.isExecutable(Path.of(p))) return p;
        }
        throw new AssertionError("python3 not found");
    }

    static InetSocketAddress local(int port) {
        return new InetSocketAddress("127.0.0.1", port);
    }
}
