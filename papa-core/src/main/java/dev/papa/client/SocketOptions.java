package dev.papa.client;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Options of {@code make socket}. Anything not set is left to the daemon's default
 * (an inet stream socket on 127.0.0.1, a port chosen by the system, backlog 5).
 *
 * <pre>{@code
 * papa.makeSocket("web", new SocketOptions().port(8080).backlog(128));
 * papa.makeSocket("uds", new SocketOptions().path(Path.of("/run/app.sock")).umask(0007));
 * }</pre>
 */
public final class SocketOptions {
    /** Address families. */
    public enum Family { UNIX, INET, INET6 }

    /** Socket types. */
    public enum Type { STREAM, DGRAM, RAW, RDM, SEQPACKET }

    private final Map<String, String> options = new LinkedHashMap<>();

    public SocketOptions family(Family family) {
        return put("family", family.name().toLowerCase(Locale.ROOT));
    }

    public SocketOptions type(Type type) {
        return put("type", type.name().toLowerCase(Locale.ROOT));
    }

    public SocketOptions backlog(int backlog) {
        return put("backlog", Integer.toString(backlog));
    }

    /** A Unix socket at this absolute path (the family becomes {@code unix}). */
    public SocketOptions path(String path) {
        return put("path", path);
    }

    public SocketOptions path(Path path) {
        return path(path.toString());
    }

    /** The umask applied while binding the Unix socket file (e.g. {@code 0007}). */
    public SocketOptions umask(int umask) {
        return put("umask", Integer.toString(umask));
    }

    public SocketOptions host(String host) {
        return put("host", host);
    }

    /** The port to bind; 0 lets the system choose. */
    public SocketOptions port(int port) {
        return put("port", Integer.toString(port));
    }

    /** Binds to this network device only (SO_BINDTODEVICE). */
    public SocketOptions iface(String device) {
        return put("interface", device);
    }

    /** Every process that takes the socket's file number gets its own SO_REUSEPORT copy. */
    public SocketOptions reusePort(boolean on) {
        if (on) {
            return put("reuseport", "1");
        }
        options.remove("reuseport");
        return this;
    }

    /** Any other option, sent as {@code key=value}. */
    public SocketOptions option(String key, String value) {
        return put(key, value);
    }

    private SocketOptions put(String key, String value) {
        if (value == null) {
            options.remove(key);
        } else {
            options.put(key, value);
        }
        return this;
    }

    List<String> words() {
        List<String> w = new ArrayList<>();
        options.forEach((k, v) -> w.add(Words.option(k, v)));
        return w;
    }
}
