package dev.papa.client;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Where a papa daemon listens: a TCP port on 127.0.0.1, or a Unix socket path.
 *
 * @param port the TCP port (meaningless when {@code path} is set)
 * @param path the absolute Unix socket path, or null for TCP
 */
public record Endpoint(int port, Path path) {
    /** The port the daemon listens on by default. */
    public static final int DEFAULT_PORT = 20202;

    public Endpoint {
        if (path != null) {
            path = path.toAbsolutePath().normalize();
            port = 0;
        } else if (port <= 0 || port > 65535) {
            throw new IllegalArgumentException("Bad port " + port);
        }
    }

    public static Endpoint tcp(int port) {
        return new Endpoint(port, null);
    }

    public static Endpoint unix(Path path) {
        return new Endpoint(0, Objects.requireNonNull(path, "path"));
    }

    public boolean isUnix() {
        return path != null;
    }

    ProtocolFamily family() {
        return isUnix() ? StandardProtocolFamily.UNIX : StandardProtocolFamily.INET;
    }

    SocketAddress address() {
        return isUnix() ? UnixDomainSocketAddress.of(path)
                : new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    /** The daemon command line options that make it listen here. */
    public List<String> daemonArgs() {
        return isUnix() ? List.of("-u", path.toString()) : List.of("-p", Integer.toString(port));
    }

    @Override
    public String toString() {
        return isUnix() ? "unix:" + path : "127.0.0.1:" + port;
    }
}
