package dev.papa.daemon.hardening;

import dev.papa.peer.ProcNetTcp;
import dev.papa.peer.SockDiag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

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
}
