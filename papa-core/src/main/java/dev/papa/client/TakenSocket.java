package dev.papa.client;

import dev.papa.posix.Fd;

/**
 * A socket received from the daemon by {@link Papa#takeSockets}: this process's own descriptor
 * for it (close-on-exec), owned by this object until {@link #close()} or {@link #release()},
 * and the daemon's description of it. The daemon keeps its copy: closing this one, or the
 * process exiting, leaves the socket open and listening.
 */
public final class TakenSocket implements AutoCloseable {
    private final SocketInfo info;
    private final Fd fd;

    TakenSocket(SocketInfo info, Fd fd) {
        this.info = info;
        this.fd = fd;
    }

    /** The socket's {@code list sockets} line, parsed ({@link SocketInfo#fileno()} is the daemon's number, not ours). */
    public SocketInfo info() {
        return info;
    }

    public String name() {
        return info.name();
    }

    /** The raw descriptor number in this process; IllegalStateException once closed or released. */
    public int fd() {
        return fd.get();
    }

    public boolean isOpen() {
        return fd.isOpen();
    }

    /**
     * Gives up ownership (for a framework that closes the descriptor itself, such as Netty's
     * {@code new EpollServerSocketChannel(fd)}) and returns the number.
     */
    public int release() {
        return fd.release();
    }

    /** Closes this process's descriptor (idempotent); the daemon's copy stays open. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "TakenSocket[" + info.name() + ", " + fd + "]";
    }
}
