package dev.papa.daemon.hardening;

import dev.papa.peer.ProcNetTcp;
import dev.papa.peer.SockDiag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** sock_diag and /proc/net/tcp{,6} find the same owner for a connection, IPv4 and v4-mapped IPv6. */
@Timeout(60)
class PeerOwnerLookupTest {
    @Test
    void bothLookupsAgree() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"));
             SockDiag diag = new SockDiag()) {
            int port = server.getLocalPort();
            for (String how : new String[] {"%d", "v6:%d"}) {
                // a client as nobody that connects and waits for us to close
                String script = "import socket,sys\n"
                        + "a=sys.argv[1]\n"
                        + "s=socket.socket(socket.AF_INET6) if a.startswith('v6:') else socket.socket()\n"
                        + "s.connect(('::ffff:127.0.0.1' if a.startswith('v6:') else '127.0.0.1', int(a.split(':')[-1])))\n"
                        + "s.recv(1)\n";
                Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", "-c", script, String.format(how, port)).inheritIO().start();
                try (Socket accepted = server.accept()) {
                    InetSocketAddress remote = (InetSocketAddress) accepted.getRemoteSocketAddress();
                    InetSocketAddress local = (InetSocketAddress) accepted.getLocalSocketAddress();
                    OptionalInt fromProc = new ProcNetTcp().ownerOf(remote, local);
                    OptionalInt fromDiag = diag.ownerOf(remote, local);
                    assertEquals(OptionalInt.of(65534), fromProc, how);
                    assertNotNull(fromDiag, "sock_diag not available");
                    assertEquals(OptionalInt.of(65534), fromDiag, how);
                    // our own end is owned by us (root)
                    assertEquals(OptionalInt.of(0), diag.ownerOf(local, remote));
                    assertEquals(OptionalInt.of(0), new ProcNetTcp().ownerOf(local, remote));
                }
                p.waitFor(10, TimeUnit.SECONDS);
                // a connection that no longer exists has no owner
                assertEquals(OptionalInt.empty(), diag.ownerOf(new InetSocketAddress("127.0.0.1", 1), new InetSocketAddress("127.0.0.1", port)));
                assertEquals(OptionalInt.empty(), new ProcNetTcp().ownerOf(new InetSocketAddress("127.0.0.1", 1), new InetSocketAddress("127.0.0.1", port)));
            }
        }
    }

    /**
     * A connection in TIME_WAIT has no socket behind it (inode 0, and its uid column reads 0):
     * neither lookup may report an owner, or a client that closed at once would pass for root.
     */
    @Test
    void timeWaitHasNoOwner() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"));
             SockDiag diag = new SockDiag()) {
            InetSocketAddress clientEnd;
            InetSocketAddress serverEnd;
            try (Socket client = new Socket("127.0.0.1", server.getLocalPort()); Socket accepted = server.accept()) {
                clientEnd = (InetSocketAddress) client.getLocalSocketAddress();
                serverEnd = (InetSocketAddress) accepted.getLocalSocketAddress();
                assertEquals(OptionalInt.of(0), diag.ownerOf(clientEnd, serverEnd), "open: owned by us");
                client.close(); // the client closes first: its end goes to TIME_WAIT once the server closes too
            }
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!TcpQueues.state(clientEnd.getPort(), serverEnd.getPort()).equals("06")) { // TCP_TIME_WAIT
                assertTrue(System.nanoTime() < deadline, "no TIME_WAIT: " + TcpQueues.state(clientEnd.getPort(), serverEnd.getPort()));
                Thread.sleep(10); // poll interval
            }
            assertEquals(OptionalInt.empty(), diag.ownerOf(clientEnd, serverEnd));
            assertEquals(OptionalInt.empty(), new ProcNetTcp().ownerOf(clientEnd, serverEnd));
        }
    }

    /**
     * End to end: a client that connects, writes a command and closes before the daemon accepts
     * (the daemon is stopped with SIGSTOP meanwhile) is refused as "cannot identify", and its
     * command is not run.
     */
    @Test
    void aClientGoneBeforeTheAcceptIsRefusedAndRunsNothing() throws Exception {
        try (DaemonJvm d = DaemonJvm.start(List.of())) {
            signal("STOP", d.pid());
            int clientPort;
            try {
                try (Socket s = new Socket("127.0.0.1", d.port)) { // completes in the backlog
                    clientPort = s.getLocalPort();
                    s.getOutputStream().write("set sneaked in\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                }
            } finally {
                signal("CONT", d.pid());
            }
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!d.logText().contains("Refused a control connection")) {
                if (System.nanoTime() > deadline) fail("no refusal logged: " + d.logText() + "\n" + diagnosis(d.pid(), d.port));
                Thread.sleep(20); // poll interval
            }
            // the accepted connection still has its peer's address (CLOSE_WAIT), but no socket owns that end any more
            assertTrue(d.logText().contains("Refused a control connection from 127.0.0.1:" + clientPort + ": its owner was not found\n"),
                    d.logText());
            try (Conn c = Conn.open(d.port)) {
                assertEquals("", c.result("get sneaked"), "the refused client's command did not run");
            }
        }
    }

    /**
     * What the daemon's threads are doing and the state of the connections to its port, for a
     * failure that could not be reproduced (once in six builds beside a second one).
     */
    private static String diagnosis(long pid, int port) {
        StringBuilder b = new StringBuilder("daemon threads (name state wchan):\n");
        try (var tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/" + pid + "/task"))) {
            for (java.nio.file.Path t : (Iterable<java.nio.file.Path>) tasks::iterator) {
                String stat = java.nio.file.Files.readString(t.resolve("stat"));
                String wchan = java.nio.file.Files.readString(t.resolve("wchan"));
                b.append("  ").append(stat, stat.indexOf('(') + 1, stat.lastIndexOf(')')).append(' ')
                        .append(stat.charAt(stat.lastIndexOf(')') + 2)).append(' ').append(wchan).append('\n');
            }
        } catch (IOException | RuntimeException e) {
            b.append("  (").append(e).append(")\n");
        }
        try {
            Process ss = new ProcessBuilder("ss", "-tanpi", "( sport = :" + port + " or dport = :" + port + " )")
                    .redirectErrorStream(true).start();
            b.append("ss:\n").append(new String(ss.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
            ss.waitFor(10, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            b.append("ss: ").append(e);
        }
        return b.toString();
    }

    static void signal(String name, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue());
    }
}
