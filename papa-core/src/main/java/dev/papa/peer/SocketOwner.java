package dev.papa.peer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.OptionalInt;

/**
 * The uid owning one end of a local TCP connection: the daemon asks it of its clients (who is
 * connecting), the Java client of the daemon (who is listening). sock_diag answers with one
 * exact lookup; /proc/net/tcp{,6} when the kernel offers no sock_diag.
 */
public final class SocketOwner implements AutoCloseable {
    private final SockDiag sockDiag = new SockDiag();
    private final ProcNetTcp procNet = new ProcNetTcp();

    /**
     * The owner of the socket whose local end is {@code localEnd} and remote end
     * {@code remoteEnd}; empty when no open socket is that end (gone, time-wait, orphaned).
     */
    public OptionalInt of(InetSocketAddress localEnd, InetSocketAddress remoteEnd) throws IOException {
        OptionalInt owner = sockDiag.ownerOf(localEnd, remoteEnd); // null: not offered here
        return owner != null ? owner : procNet.ownerOf(localEnd, remoteEnd);
    }

    @Override
    public void close() {
        sockDiag.close();
    }
}
