package dev.papa.daemon;

import static dev.papa.daemon.SocketsTest.awaitFds;
import static dev.papa.daemon.SocketsTest.filenoOf;
import static dev.papa.daemon.SocketsTest.portOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
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

/** Socket activation (PROTOCOL.md Part 2): {@code sockets=} with systemd's LISTEN_* rules, and {@code stdin_socket=}. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ActivationTest extends DaemonTestBase {
    private static final String PYTHON = "/usr/bin/python3";

    static Path resource(String name) {
        try {
            return Path.of(ActivationTest.class.getResource("/activation/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void listedSocketsAreFdsThreeOnInOrderWithListenVariables() throws Exception {
        ProtocolClient c = connect();
        int pa = portOf(c.ok("make socket a"));
        int pb = portOf(c.ok("make socket b"));
        // the order given, not the sorted one
        Proc p = make(c, "act sockets=b,a " + PYTHON + " " + resource("listen_fds.py"));
        assertTrue(p.line().contains(" sockets=b,a args=" + PYTHON + " "), p.line());
        List<ProtocolClient.Item> items = watchAll(c, "act", 1);
        assertEquals(0, ProtocolClient.closedItem(items, "act").status(), items.toString());
        assertEquals("pid=" + p.pid() + " listen_pid=" + p.pid() + "\n"
                + "fd=3 name=b port=" + pb + " listening=1 blocking=1\n"
                + "fd=4 name=a port=" + pa + " listening=1 blocking=1\n"
                + "stdin not a socket\n", ProtocolClient.out(items));
    }

    @Test
    void environmentIsTheGivenOnePlusListenVariables() throws Exception {
        ProtocolClient c = connect();
        c.ok("make socket a");
        c.ok("make socket b");
        // a LISTEN_* given by the client would describe other descriptors: it is replaced
        Proc p = make(c, "env sockets=a,b env.X=1 env.LISTEN_FDS=9 env.LISTEN_PID=1 env.LISTEN_FDNAMES=zz /usr/bin/env");
        List<ProtocolClient.Item> items = watchAll(c, "env", 1);
        assertEquals("X=1\nLISTEN_FDS=2\nLISTEN_FDNAMES=a:b\nLISTEN_PID=" + p.pid() + "\n", ProtocolClient.out(items));
        // no sockets=: exactly the env.* given, LISTEN_FDS=0 never exported
        make(c, "plain env.X=1 /usr/bin/env");
        assertEquals("X=1\n", ProtocolClient.out(watchAll(c, "plain", 1)));
        make(c, "stdin stdin_socket=a env.X=1 /usr/bin/env");
        assertEquals("X=1\n", ProtocolClient.out(watchAll(c, "stdin", 1)));
        // without sockets= the client's own variables are its business (Part 1: env is exactly env.*)
        make(c, "own env.LISTEN_FDS=1 /usr/bin/env");
        assertEquals("LISTEN_FDS=1\n", ProtocolClient.out(watchAll(c, "own", 1)));
    }

    @Test
    void grandchildThroughShellSeesListenPidNotMatching() throws Exception {
        ProtocolClient c = connect();
        c.ok("make socket a");
        c.ok("make socket b");
        // "; true": the shell forks the fixture instead of exec'ing it
        Proc p = make(c, "sh sockets=a,b /bin/sh -c " + esc(PYTHON + " " + resource("listen_fds.py") + "; true"));
        String out = ProtocolClient.out(watchAll(c, "sh", 1));
        Matcher m = Pattern.compile("pid=(\\d+) listen_pid=(\\d+)\nignored\nstdin not a socket\n").matcher(out);
        assertTrue(m.matches(), out);
        assertEquals(String.valueOf(p.pid()), m.group(2), "LISTEN_PID is the shell's pid");
        assertNotEquals(m.group(1), m.group(2), "the grandchild has another pid");
    }

    @Test
    void childHoldsExactlyStdioAndTheListedSockets() throws Exception {
        ProtocolClient c = connect();
        String a = c.ok("make socket a");
        c.ok("make socket b");
        c.ok("make socket rp reuseport=1");
        make(c, "other /bin/sleep 30");
        Proc p = make(c, "fds sockets=a,rp /bin/sleep 30 $(socket.a.fileno) $(socket.rp.fileno)");
        awaitExec(p.pid(), "sleep");
        Path fdDir = Path.of("/proc/" + p.pid() + "/fd");
        awaitFds(fdDir, new TreeSet<>(Set.of("0", "1", "2", "3", "4")));
        assertEquals("/dev/null", Files.readSymbolicLink(fdDir.resolve("0")).toString());
        // fd 3 is the daemon's socket a itself (one open socket, shared), fd 4 a reuseport copy
        assertEquals(Files.readSymbolicLink(Path.of("/proc/self/fd/" + filenoOf(a))), Files.readSymbolicLink(fdDir.resolve("3")));
        assertTrue(Files.readSymbolicLink(fdDir.resolve("4")).toString().startsWith("socket:"));
        assertEquals("/bin/sleep\0" + "30\0" + "3\0" + "4\0", Files.readString(Path.of("/proc/" + p.pid() + "/cmdline")),
                "$(socket.NAME.fileno) is the child's number of a listed socket");
        assertEquals(p.line() + "\n> ", c.send("list processes fds"));
        assertTrue(p.line().endsWith(" sockets=a,rp args=/bin/sleep 30 $(socket.a.fileno) $(socket.rp.fileno)"), p.line());

        // a referenced socket that is not listed goes after the listed ones, and is not announced
        Proc q = make(c, "extra sockets=a /bin/sleep 30 $(socket.b.fileno) $(socket.b.fileno)");
        awaitExec(q.pid(), "sleep");
        awaitFds(Path.of("/proc/" + q.pid() + "/fd"), new TreeSet<>(Set.of("0", "1", "2", "3", "4")));
        assertEquals("/bin/sleep\0" + "30\0" + "4\0" + "4\0", Files.readString(Path.of("/proc/" + q.pid() + "/cmdline")));
    }

    @Test
    void reuseportGivesEachChildItsOwnSocketOnOnePort() throws Exception {
        ProtocolClient c = connect();
        int port = portOf(c.ok("make socket rp reuseport=1"));
        List<Proc> servers = List.of(
                make(c, "r1 sockets=rp " + PYTHON + " " + resource("listen_fds.py") + " serve"),
                make(c, "r2 sockets=rp " + PYTHON + " " + resource("listen_fds.py") + " serve"));
        Set<String> inodes = new HashSet<>();
        for (Proc s : servers) {
            String report = outputUntil(c, s.name(), "stdin ");
            assertTrue(report.contains("fd=3 name=rp port=" + port + " listening=1 blocking=1\n"), report);
            inodes.add(Files.readSymbolicLink(Path.of("/proc/" + s.pid() + "/fd/3")).toString());
        }
        assertEquals(2, inodes.size(), "two distinct sockets: " + inodes);
        // both accept on the one port (the kernel spreads connections between them)
        Set<String> answered = new HashSet<>();
        for (int i = 0; i < 200 && answered.size() < 2; i++) answered.add(request(port, ""));
        assertEquals(Set.of("rp " + servers.get(0).pid(), "rp " + servers.get(1).pid()), answered);
    }

    @Test
    void stdinSocketServesAJavaInheritedChannel() throws Exception {
        ProtocolClient c = connect();
        int port = portOf(c.ok("make socket j"));
        String java = ProcessHandle.current().info().command().orElse("/usr/bin/java");
        Proc p = make(c, "jsrv stdin_socket=j " + java + " -XX:TieredStopAtLevel=1 " + resource("InheritedServer.java"));
        assertTrue(p.line().contains(" stdin_socket=j args="), p.line());
        // the listen backlog holds the connection until the JVM is up and accepts
        String reply = request(port, "hello\n", 60_000);
        assertEquals("java " + p.pid() + ": hello", reply);
        Path fdDir = Path.of("/proc/" + p.pid() + "/fd");
        String target = Files.readSymbolicLink(fdDir.resolve("0")).toString();
        assertTrue(target.startsWith("socket:"), target);
    }

    @Test
    void stdinSocketWithSockets() throws Exception {
        ProtocolClient c = connect();
        int pa = portOf(c.ok("make socket a"));
        int pb = portOf(c.ok("make socket b"));
        Proc p = make(c, "both stdin_socket=a sockets=b " + PYTHON + " " + resource("listen_fds.py"));
        assertTrue(p.line().contains(" sockets=b stdin_socket=a args="), p.line());
        assertEquals("pid=" + p.pid() + " listen_pid=" + p.pid() + "\n"
                + "fd=3 name=b port=" + pb + " listening=1 blocking=1\n"
                + "stdin port=" + pa + " listening=1 blocking=1\n", ProtocolClient.out(watchAll(c, "both", 1)));
    }

    @Test
    void gunicornServesOnTheActivatedSocketWithoutBind() throws Exception {
        Path gunicorn = Path.of("/usr/bin/gunicorn");
        assertTrue(Files.isExecutable(gunicorn), "gunicorn is needed: apt-get install -y gunicorn (.ci/run does)");
        ProtocolClient c = connect();
        int port = portOf(c.ok("make socket web"));
        Proc g = make(c, "gun sockets=web " + gunicorn + " --workers 2 --chdir " + resource("hello_wsgi.py").getParent()
                + " hello_wsgi:app");
        for (int i = 0; i < 200; i++) {
            // the first waits in the listen backlog while gunicorn starts; a server that ignored the
            // socket would leave it unanswered
            String response = request(port, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", i == 0 ? 30_000 : 5_000);
            assertTrue(response.startsWith("HTTP/1.0 200 OK") && response.contains("hello from gunicorn worker"),
                    "request " + (i + 1) + " of 200: " + response);
        }
        // gunicorn holds papa's socket and listens on nothing else (not on its default 127.0.0.1:8000)
        Set<String> inodes = socketInodes(g.pid());
        Set<Integer> listening = listeningPorts(inodes);
        assertEquals(Set.of(port), listening, "ports gunicorn's processes listen on");
    }

    @Test
    void errorsLeaveNothingBehind() throws Exception {
        ProtocolClient c = connect();
        c.ok("make socket a");
        c.ok("make socket rp reuseport=1");
        Set<String> before = ownSockets();
        assertEquals("Error: Socket nope not found\n> ", c.send("make process x sockets=rp,nope /bin/sleep 30"));
        assertEquals("Error: Socket nope not found\n> ", c.send("make process x stdin_socket=nope /bin/sleep 30"));
        assertEquals("Error: Socket a is listed twice in sockets\n> ", c.send("make process x sockets=a,rp,a /bin/sleep 30"));
        assertEquals("Error: Invalid sockets \"a,,rp\" - must be socket names separated by commas\n> ",
                c.send("make process x sockets=a,,rp /bin/sleep 30"));
        StringBuilder many = new StringBuilder("a");
        for (int i = 1; i <= 253; i++) many.append(",s").append(i);
        assertEquals("Error: Too many sockets in sockets (at most 253)\n> ", c.send("make process x sockets=" + many + " /bin/sleep 30"));
        assertEquals("\n> ", c.send("list processes"));
        assertEquals(before, ownSockets(), "no reuseport copy left open");
        assertTrue(zombieChildren().isEmpty(), "no zombie");
        // an empty value is no activation at all: the Part 1 line
        Proc p = make(c, "none sockets= stdin_socket= /bin/sleep 30");
        assertEquals("none pid=" + p.pid() + " running=True started=" + p.started() + " args=/bin/sleep 30", p.line());
    }

    @Test
    void reconnectingFindsTheSameProcessAndLine() throws Exception {
        ProtocolClient c = connect();
        c.ok("make socket web");
        Proc p = make(c, "srv sockets=web stdin_socket=web /bin/sleep 30");
        c.close();
        ProtocolClient again = connect();
        assertEquals(p.line() + "\n> ", again.send("list processes"));
        assertEquals(p.line() + "\n> ", again.send("make process srv sockets=web stdin_socket=web /bin/sleep 30"));
        assertEquals("Error: Process for srv has already been created - " + p.line() + "\n> ",
                again.send("make process srv sockets=web /bin/sleep 30"));
    }

    // ---------------------------------------------------------------- helpers

    /** Watches one running process until its output contains {@code marker}; stops watching; returns the output. */
    private static String outputUntil(ProtocolClient c, String name, String marker) throws IOException {
        c.writeLine("watch processes " + name);
        assertEquals("Watching 1", c.readLine());
        StringBuilder out = new StringBuilder();
        while (true) {
            out.append(ProtocolClient.out(c.readBatch()));
            if (out.indexOf(marker) >= 0) {
                c.writeLine("q");
                assertEquals("Stopped watching\n> ", c.readReply());
                return out.toString();
            }
            c.writeLine("");
        }
    }

    private static String request(int port, String text) throws IOException {
        return request(port, text, 10_000).strip();
    }

    /** Connects to 127.0.0.1:port, sends text, returns all the server sent until it closed. */
    private static String request(int port, String text, int timeoutMs) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), timeoutMs);
            s.setSoTimeout(timeoutMs);
            OutputStream o = s.getOutputStream();
            o.write(text.getBytes(StandardCharsets.UTF_8));
            o.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
        }
    }

    /** The socket inodes held by pid and all its descendants. */
    private static Set<String> socketInodes(long pid) {
        Set<String> inodes = socketInodesOf(pid);
        ProcessHandle.of(pid).ifPresent(h -> h.descendants().forEach(d -> inodes.addAll(socketInodesOf(d.pid()))));
        return inodes;
    }

    private static Set<String> socketInodesOf(long pid) {
        Set<String> inodes = new TreeSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : fds.collect(Collectors.toList())) {
                String t;
                try { t = Files.readSymbolicLink(fd).toString(); } catch (IOException e) { continue; }
                if (t.startsWith("socket:[")) inodes.add(t.substring(8, t.length() - 1));
            }
        } catch (IOException e) {
            // the process went away meanwhile
        }
        return inodes;
    }

    /** Ports of the TCP sockets in LISTEN state among {@code inodes} (/proc/net/tcp and tcp6). */
    private static Set<Integer> listeningPorts(Set<String> inodes) throws IOException {
        Set<Integer> ports = new TreeSet<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            for (String line : Files.readAllLines(Path.of(table))) {
                String[] f = line.trim().split("\\s+");
                if (f.length < 10 || !f[3].equals("0A") || !inodes.contains(f[9])) continue;
                String local = f[1];
                ports.add(Integer.parseInt(local.substring(local.lastIndexOf(':') + 1), 16));
            }
        }
        return ports;
    }

    /** This JVM's (the in-process daemon's) open sockets. */
    private static Set<String> ownSockets() {
        return socketInodesOf(ProcessHandle.current().pid());
    }
}
