package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** make / list / remove sockets, and children that use them. */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class SocketsTest extends DaemonTestBase {

    static final String ECHO_SERVER = """
            import socket, sys
            s = socket.socket(fileno=int(sys.argv[1]))
            while True:
                c, _ = s.accept()
                data = c.recv(1024)
                c.sendall(data)
                c.close()
            """;

    static final String ECHO_CLIENT = """
            import socket, sys
            c = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
            c.sendall(b'ping')
            print(c.recv(1024).decode(), flush=True)
            """;

    /** Matches an inet socket line; group 1 = port, group 2 = fileno (may be null). */
    static Matcher inetLine(String prefix, String suffix, String line) {
        Matcher m = Pattern.compile(Pattern.quote(prefix) + " port=(\\d+)" + Pattern.quote(suffix) + "(?: fileno=(\\d+))?")
                .matcher(line);
        if (!m.matches()) fail("expected [" + prefix + " port=N" + suffix + " fileno=F] but got [" + line + "]");
        return m;
    }

    static int portOf(String line) {
        Matcher m = Pattern.compile(" port=(\\d+)").matcher(line);
        assertTrue(m.find(), line);
        return Integer.parseInt(m.group(1));
    }

    static int filenoOf(String line) {
        Matcher m = Pattern.compile(" fileno=(\\d+)$").matcher(line);
        assertTrue(m.find(), "fileno at end of: " + line);
        return Integer.parseInt(m.group(1));
    }

    static String echo(InetSocketAddress addr, String msg) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(addr, 5000);
            s.setSoTimeout(5000);
            OutputStream o = s.getOutputStream();
            o.write(msg.getBytes(StandardCharsets.UTF_8));
            o.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** The inode ({@code socket:[N]}) of descriptor {@code fd} of {@code pid}. */
    static String socketInode(long pid, int fd) throws IOException {
        String target = Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + fd)).toString();
        assertTrue(target.startsWith("socket:["), target);
        return target;
    }

    /** Every socket {@code pid} holds, as {@code socket:[N]}. */
    static Set<String> socketInodes(long pid) throws IOException {
        Set<String> out = new java.util.HashSet<>();
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String t = Files.readSymbolicLink(fd).toString();
                    if (t.startsWith("socket:[")) out.add(t);
                } catch (IOException closedMeanwhile) {
                    // a descriptor closed while listing
                }
            }
        }
        return out;
    }

    /**
     * A port nobody else can take: a bound, not listening socket with SO_REUSEADDR. The daemon
     * (which sets SO_REUSEADDR too) may still bind and listen on it; a port that was merely free
     * a moment ago could be taken by another process before the daemon binds it.
     */
    static Socket reservedPort() throws IOException {
        Socket s = new Socket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return s;
    }

    @Test
    void inetDefaultsAndRemake() throws Exception {
        ProtocolClient c = connect();
        String line = c.ok("make socket web");
        Matcher m = inetLine("web family=inet type=stream backlog=5 host=127.0.0.1", "", line);
        int p = Integer.parseInt(m.group(1));
        assertTrue(p > 0);
        assertTrue(m.group(2) != null, "an inet socket shows its fileno: " + line);
        assertEquals(line + "\n> ", c.send("list sockets"));
        assertEquals(line + "\n> ", c.send("list sockets web"));
        // it is bound and listening
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", p), 5000);
        }
        // same options: the same socket; port 0 matches any port; explicit same port too
        assertEquals(line + "\n> ", c.send("make socket web"));
        assertEquals(line + "\n> ", c.send("make socket web port=0"));
        assertEquals(line + "\n> ", c.send("make socket web port=" + p));
        assertEquals(line + "\n> ", c.send("make socket web family=inet type=stream backlog=5 host=127.0.0.1"));
        // different options: an error naming the existing socket
        assertEquals("Error: Socket for web has already been created - " + line + "\n> ",
                c.send("make socket web family=inet6"));
        assertEquals("Error: Socket for web has already been created - " + line + "\n> ",
                c.send("make socket web backlog=10"));
        assertEquals("Error: Socket for web has already been created - " + line + "\n> ",
                c.send("make socket web type=dgram"));
        assertEquals(line + "\n> ", c.send("list sockets"));
        // remove: the daemon's copy is closed (gone from its descriptors)
        String inode = socketInode(ProcessHandle.current().pid(), filenoOf(line));
        assertTrue(socketInodes(ProcessHandle.current().pid()).contains(inode));
        assertEquals("\n> ", c.send("remove sockets web"));
        assertFalse(socketInodes(ProcessHandle.current().pid()).contains(inode), "the daemon still holds " + inode);
        // an exact name that is gone is an error
        assertEquals("\n> ", c.send("list sockets"));
        assertEquals("Error: web not found\n> ", c.send("remove sockets web"));
    }

    @Test
    void explicitPortBacklogAndDgram() throws Exception {
        ProtocolClient c = connect();
        String line;
        int p;
        try (Socket reserved = reservedPort()) {
            p = reserved.getLocalPort();
            line = c.ok("make socket fixed port=" + p + " backlog=10");
        }
        inetLine("fixed family=inet type=stream backlog=10 host=127.0.0.1", "", line);
        assertEquals(p, portOf(line));
        String d = c.ok("make socket d type=dgram");
        inetLine("d family=inet type=dgram backlog=5 host=127.0.0.1", "", d);
        assertEquals(d + "\n" + line + "\n> ", c.send("list sockets"));
    }

    @Test
    void bindFailures() throws Exception {
        ProtocolClient c = connect();
        try (ServerSocket held = new ServerSocket()) {
            held.setReuseAddress(false);
            held.bind(new InetSocketAddress("127.0.0.1", 0));
            int p = held.getLocalPort();
            String reply = c.send("make socket taken port=" + p);
            ProtocolClient.assertErrorLine("make socket taken", reply);
            assertTrue(reply.startsWith("Error: Bind failed on 127.0.0.1:" + p + ": "), reply);
        }
        String reply = c.send("make socket nodir path=" + tmp.resolve("no/such/dir/x.sock"));
        ProtocolClient.assertErrorLine("make socket nodir", reply);
        assertTrue(reply.startsWith("Error: Bind failed: "), reply);
        assertEquals("\n> ", c.send("list sockets"));
    }

    @Test
    void inet6() throws Exception {
        ProtocolClient c = connect();
        String line = c.ok("make socket s6 family=inet6");
        Matcher m = inetLine("s6 family=inet6 type=stream backlog=5 host=::1", "", line);
        assertTrue(m.group(2) != null, line);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("::1", Integer.parseInt(m.group(1))), 5000);
        }
        assertEquals(line + "\n> ", c.send("make socket s6 family=inet6"));
        assertEquals("Error: Socket for s6 has already been created - " + line + "\n> ",
                c.send("make socket s6 family=inet"));
    }

    /** Issue 9, item 12: an IPv4-mapped address is bound as given on an IPv6 socket. */
    @Test
    void inet6WithAnIpv4MappedAddress() throws Exception {
        ProtocolClient c = connect();
        String line = c.ok("make socket m6 family=inet6 host=::ffff:127.0.0.1");
        Matcher m = inetLine("m6 family=inet6 type=stream backlog=5 host=::ffff:127.0.0.1", "", line);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1))), 5000); // an IPv4 client reaches it
        }
    }

    @Test
    void unixSocketWithUmaskAndStaleFile() throws Exception {
        ProtocolClient c = connect();
        Path path = tmp.resolve("u.sock");
        try (java.nio.channels.ServerSocketChannel stale =
                     java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(path)); // closed below, its file left behind
        }
        String line = c.ok("make socket us path=" + path + " umask=63");
        Matcher m = Pattern.compile(Pattern.quote("us family=unix type=stream backlog=5 path=" + path + " umask=63")
                + " fileno=(\\d+)").matcher(line);
        assertTrue(m.matches(), line);
        assertTrue(Files.exists(path));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(path));
        }
        // family defaults to unix when path is given; explicit is the same socket
        assertEquals(line + "\n> ", c.send("make socket us path=" + path + " umask=63"));
        assertEquals(line + "\n> ", c.send("make socket us family=unix path=" + path + " umask=63"));
        // the path is held: another name cannot take it
        assertEquals("Error: Socket for " + path + " has already been created\n> ",
                c.send("make socket other path=" + path));
        // a different umask
        Path p2 = tmp.resolve("v.sock");
        String line2 = c.ok("make socket vs path=" + p2 + " umask=18");
        assertTrue(line2.matches(Pattern.quote("vs family=unix type=stream backlog=5 path=" + p2 + " umask=18")
                + " fileno=\\d+"), line2);
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(p2)));
        // no umask given: no umask shown
        Path p3 = tmp.resolve("w.sock");
        String line3 = c.ok("make socket ws path=" + p3);
        assertTrue(line3.matches(Pattern.quote("ws family=unix type=stream backlog=5 path=" + p3) + " fileno=\\d+"),
                line3);
        assertEquals(line + "\n" + line2 + "\n" + line3 + "\n> ", c.send("list sockets"));
        // removing closes it and unlinks the file
        assertEquals("\n> ", c.send("remove sockets us"));
        assertFalse(Files.exists(path), "socket file unlinked");
        assertEquals("\n> ", c.send("remove sockets *"));
        assertFalse(Files.exists(p2));
        assertFalse(Files.exists(p3));
        assertEquals("\n> ", c.send("list sockets"));
    }

    @Test
    void aRegularFileAtTheSocketPathIsKept() throws Exception {
        ProtocolClient c = connect();
        Path path = tmp.resolve("file.sock");
        Files.writeString(path, "not a socket"); // PROTOCOL.md Part 2: only a stale socket is replaced
        assertEquals("Error: " + path + " exists and is not a stale socket\n> ", c.send("make socket f path=" + path));
        assertEquals("not a socket", Files.readString(path));
        assertEquals("\n> ", c.send("list sockets"));
    }

    @Test
    void relativeUnixPathIsRefused() throws Exception {
        ProtocolClient c = connect();
        assertEquals("Error: Absolute path required for Unix sockets\n> ", c.send("make socket r path=rel.sock"));
        assertEquals("Error: Absolute path required for Unix sockets\n> ", c.send("make socket r family=unix"));
        assertEquals("Error: Absolute path required for Unix sockets\n> ",
                c.send("make socket r family=unix path=a/b.sock"));
        assertEquals("\n> ", c.send("list sockets"));
    }

    @Test
    void interfaceBinding() throws Exception {
        ProtocolClient c = connect();
        String line = c.ok("make socket i interface=lo");
        Matcher m = inetLine("i family=inet type=stream backlog=5 host=0.0.0.0", " interface=lo", line);
        assertTrue(m.group(2) != null, line);
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1))), 5000);
        }
        assertEquals(line + "\n> ", c.send("list sockets i"));
        String line6 = c.ok("make socket i6 family=inet6 interface=lo");
        inetLine("i6 family=inet6 type=stream backlog=5 host=::", " interface=lo", line6);
        // the daemon runs in this JVM: its fileno is a descriptor of this process, and the
        // kernel says which device each socket is bound to
        assertEquals("lo", dev.papa.posix.Sockets.boundDevice(fileno(line)), line);
        assertEquals("lo", dev.papa.posix.Sockets.boundDevice(fileno(line6)), line6);
        assertEquals("", dev.papa.posix.Sockets.boundDevice(fileno(c.ok("make socket plain"))), "without interface=");
    }

    private static int fileno(String line) {
        Matcher m = Pattern.compile(" fileno=(\\d+)$").matcher(line);
        assertTrue(m.find(), line);
        return Integer.parseInt(m.group(1));
    }

    @Test
    void wildcards() throws Exception {
        ProtocolClient c = connect();
        String a = c.ok("make socket inet.0");
        String b = c.ok("make socket inet.1");
        String o = c.ok("make socket other");
        assertEquals(a + "\n" + b + "\n> ", c.send("list sockets inet.*"));
        assertEquals(o + "\n> ", c.send("list sockets other"));
        assertEquals("\n> ", c.send("list sockets not_there"));
        assertEquals(b + "\n" + o + "\n> ", c.send("list sockets other inet.1"));
        assertEquals(a + "\n" + b + "\n" + o + "\n> ", c.send("list sockets other inet*"));
        assertEquals(a + "\n" + b + "\n" + o + "\n> ", c.send("list sockets *"));
        assertEquals(a + "\n" + b + "\n" + o + "\n> ", c.send("l s"));
        assertEquals("\n> ", c.send("remove sockets zz*"));
        assertEquals("\n> ", c.send("remove sockets inet*"));
        assertEquals(o + "\n> ", c.send("list sockets"));
        assertEquals("\n> ", c.send("remove sockets"));
        assertEquals("\n> ", c.send("list sockets"));
    }

    @Test
    void childEchoServerOnFilenoAndChildClientOnPort() throws Exception {
        ProtocolClient c = connect();
        Path server = script("echo_server.py", ECHO_SERVER);
        Path client = script("echo_client.py", ECHO_CLIENT);
        String line = c.ok("make socket echo");
        int p = portOf(line);
        Proc srv = make(c, "srv /usr/bin/python3 " + server + " $(socket.echo.fileno)");
        assertEquals("/usr/bin/python3 " + server + " $(socket.echo.fileno)", srv.args(), "args as given");
        assertEquals("hello", echo(new InetSocketAddress("127.0.0.1", p), "hello"));
        Proc cli = make(c, "cli /usr/bin/python3 " + client + " $(socket.echo.port)");
        c.writeLine("watch processes cli");
        assertEquals("Watching 1\n", c.readLine() + "\n");
        List<ProtocolClient.Item> items = c.watchToEnd();
        assertEquals("ping\n", ProtocolClient.out(items));
        assertEquals(0, ProtocolClient.closedItem(items, "cli").status());
        // removing the socket closes the daemon's copy; the server keeps its own
        assertEquals("\n> ", c.send("remove sockets echo"));
        assertEquals("again", echo(new InetSocketAddress("127.0.0.1", p), "again"));
        assertTrue(cli.pid() > 0);
        Proc listed = parseProcess(c.ok("list processes srv"));
        assertEquals(srv.pid(), listed.pid());
        assertTrue(listed.running());
    }

    @Test
    void childHoldsOnlyStdioAndItsReferencedSocket() throws Exception {
        ProtocolClient c = connect();
        String a = c.ok("make socket a");
        c.ok("make socket b");
        c.ok("make socket u path=" + tmp.resolve("u.sock"));
        make(c, "other /bin/sleep 30"); // its pipes must not leak into the next child either
        int fa = filenoOf(a);
        Proc p = make(c, "fds /bin/sleep 30 $(socket.a.fileno)");
        awaitExec(p.pid(), "sleep");
        Path fdDir = Path.of("/proc/" + p.pid() + "/fd");
        // right after exec the dynamic loader briefly holds the libraries open: poll until it is done
        Set<String> expected = new TreeSet<>(Set.of("0", "1", "2", String.valueOf(fa)));
        awaitFds(fdDir, expected);
        assertEquals("/dev/null", Files.readSymbolicLink(fdDir.resolve("0")).toString());
        assertTrue(Files.readSymbolicLink(fdDir.resolve("1")).toString().startsWith("pipe:"));
        assertTrue(Files.readSymbolicLink(fdDir.resolve("2")).toString().startsWith("pipe:"));
        assertTrue(Files.readSymbolicLink(fdDir.resolve(String.valueOf(fa))).toString().startsWith("socket:"));
        // the argument was substituted with the file number
        String cmdline = Files.readString(Path.of("/proc/" + p.pid() + "/cmdline"));
        assertEquals("/bin/sleep\0" + "30\0" + fa + "\0", cmdline);
        // a session leader
        assertEquals(String.valueOf(p.pid()), statField(p.pid(), 6), "session id");

        // a child that references no socket holds only 0-2
        Proc q = make(c, "plain stdout=0 /bin/sleep 30");
        awaitExec(q.pid(), "sleep");
        Path qd = Path.of("/proc/" + q.pid() + "/fd");
        awaitFds(qd, new TreeSet<>(Set.of("0", "1", "2")));
        assertEquals("/dev/null", Files.readSymbolicLink(qd.resolve("1")).toString());
    }

    @Test
    void portSubstitution() throws Exception {
        ProtocolClient c = connect();
        int p = portOf(c.ok("make socket a"));
        Proc e = make(c, "echo /bin/echo $(socket.a.port) x$(socket.a.port)y");
        assertEquals("/bin/echo $(socket.a.port) x$(socket.a.port)y", e.args());
        c.writeLine("watch processes echo");
        assertEquals("Watching 1", c.readLine());
        List<ProtocolClient.Item> items = c.watchToEnd();
        assertEquals(p + " x" + p + "y\n", ProtocolClient.out(items));
    }

    @Test
    void reuseportGivesEachProcessItsOwnSocket() throws Exception {
        ProtocolClient c = connect();
        Path server = script("echo_server.py", ECHO_SERVER);
        String line = c.ok("make socket rp reuseport=1");
        Matcher m = inetLine("rp family=inet type=stream backlog=5 host=127.0.0.1", " reuseport=1", line);
        assertEquals(null, m.group(2), "a reuseport socket shows no fileno: " + line);
        int p = Integer.parseInt(m.group(1));
        assertTrue(p > 0);
        assertEquals(line + "\n> ", c.send("list sockets"));
        Proc s1 = make(c, "srv1 /usr/bin/python3 " + server + " $(socket.rp.fileno)");
        Proc s2 = make(c, "srv2 /usr/bin/python3 " + server + " $(socket.rp.fileno)");
        List<String> inodes = new java.util.ArrayList<>();
        for (Proc s : List.of(s1, s2)) {
            awaitExec(s.pid(), "python3");
            String[] argv = Files.readString(Path.of("/proc/" + s.pid() + "/cmdline")).split("\0");
            inodes.add(socketInode(s.pid(), Integer.parseInt(argv[2])));
        }
        assertNotEquals(inodes.get(0), inodes.get(1), "each process has its own socket");
        for (int i = 0; i < 6; i++) {
            assertEquals("r" + i, echo(new InetSocketAddress("127.0.0.1", p), "r" + i));
        }
    }

    @Test
    void substitutionErrorsLeaveNothingBehind() throws Exception {
        ProtocolClient c = connect();
        c.ok("make socket a");
        assertEquals("Error: Socket nope not found\n> ", c.send("make process x /bin/echo $(socket.nope.port)"));
        assertEquals("Error: Socket nope not found\n> ", c.send("make process x /bin/echo $(socket.nope.fileno)"));
        assertEquals("Error: You forgot to specify either \".port\" or \".fileno\" after the name\n> ",
                c.send("make process x /bin/echo $(socket.a)"));
        ProtocolClient.assertErrorLine("unclosed", c.send("make process x /bin/echo $(socket.a.port"));
        assertEquals("\n> ", c.send("list processes"));
    }

    static Set<String> fds(Path fdDir) {
        try (Stream<Path> s = Files.list(fdDir)) {
            return s.map(x -> x.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        } catch (IOException e) {
            return Set.of();
        }
    }

    static void awaitFds(Path fdDir, Set<String> expected) {
        long deadline = System.currentTimeMillis() + 5_000;
        while (!fds(fdDir).equals(expected)) {
            if (System.currentTimeMillis() > deadline) {
                assertEquals(expected, fds(fdDir), describeFds(fdDir));
            }
            try { Thread.sleep(20); } catch (InterruptedException e) { throw new AssertionError(e); }
        }
    }

    /** "fd -> target" for every descriptor in a /proc/PID/fd directory, for failure messages. */
    static String describeFds(Path fdDir) {
        StringBuilder sb = new StringBuilder("descriptors of " + fdDir + ":");
        try (Stream<Path> s = Files.list(fdDir)) {
            for (Path fd : s.sorted().collect(Collectors.toList())) {
                String target;
                try { target = Files.readSymbolicLink(fd).toString(); } catch (IOException e) { target = "?"; }
                sb.append(' ').append(fd.getFileName()).append("->").append(target);
            }
        } catch (IOException e) {
            sb.append(" (unreadable: ").append(e).append(')');
        }
        return sb.toString();
    }
}
