package dev.papa.daemon.access;

import dev.papa.posix.Fd;

import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Options of an accepted control connection. TCP_NODELAY: a session writes a reply or a watch
 * batch as several buffers (header, chunk, newline, {@code "] "}); with Nagle's algorithm the
 * later pieces wait for the client's delayed ACK, about 40 ms per exchange, which made every
 * watch round trip cost ~40-80 ms.
 */
public final class ControlSocketOptions {
    private static final Logger LOG = Logger.getLogger(ControlSocketOptions.class.getName());

    private ControlSocketOptions() {}

    public static void apply(Fd fd) {
        try {
            if (!SocketAddresses.isUnix(fd.get())) SocketAddresses.noDelay(fd.get());
        } catch (IOException e) {
            LOG.log(Level.FINE, "TCP_NODELAY", e);
        }
    }
}
