package dev.papa.client;

import java.util.Map;

/**
 * A socket held by the daemon, as {@code make socket} and {@code list sockets} describe it.
 *
 * @param name       the socket's name
 * @param family     {@code unix}, {@code inet} or {@code inet6}
 * @param type       {@code stream}, {@code dgram}, ...
 * @param backlog    the listen backlog
 * @param path       the Unix socket path, or null
 * @param umask      the umask the Unix socket file was bound under, or null
 * @param host       the bound address of an inet socket, or null
 * @param port       the bound port (the chosen one when 0 was asked), or null
 * @param iface      the network device it is bound to, or null
 * @param reusePort  whether every process gets its own SO_REUSEPORT copy
 * @param fileno     the daemon's descriptor number for the socket (null for reuseport sockets)
 * @param attributes every {@code key=value} of the daemon's line, as sent
 */
public record SocketInfo(String name, String family, String type, Integer backlog, String path, Integer umask,
                         String host, Integer port, String iface, boolean reusePort, Integer fileno,
                         Map<String, String> attributes) {

    /** Parses one line of {@code list sockets} / the reply of {@code make socket}. */
    public static SocketInfo parse(String line) throws PapaException {
        Attributes a = Attributes.parse(line, null);
        return new SocketInfo(a.name, a.get("family"), a.get("type"), a.integer("backlog"), a.get("path"),
                a.integer("umask"), a.get("host"), a.integer("port"), a.get("interface"),
                "True".equalsIgnoreCase(a.get("reuseport")) || "1".equals(a.get("reuseport")),
                a.integer("fileno"), a.map);
    }
}
