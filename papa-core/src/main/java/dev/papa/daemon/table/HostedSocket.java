package dev.papa.daemon.table;

import dev.papa.daemon.protocol.Printable;
import dev.papa.posix.Fd;
import dev.papa.posix.Sockets;

import java.net.InetAddress;
import java.util.Objects;

/**
 * A socket the daemon holds for its clients. {@code fd} is null for a {@code reuseport}
 * socket: every process that takes it gets its own copy, bound to the same address.
 */
public final class HostedSocket implements dev.papa.daemon.principal.Owned {
    final String name;
    final int owner;
    final Sockets.Family family;
    final Sockets.Type type;
    final int backlog;
    final String path;        // unix
    final Integer umask;      // unix, as given (decimal)
    final String host;        // inet: as given, or the default
    final InetAddress address;
    int port;                 // the bound port (chosen by the system when 0 was asked)
    final String iface;
    final boolean reusePort;
    /** reuseport's value as the client sent it: the line shows it so (the reference does). */
    String reusePortText = "1";
    /** Handed to the daemon ({@code adopt=1}): what it is came from the kernel, and its path is not the daemon's to unlink. */
    final boolean adopted;
    Fd fd;
    // unix: the directory entry bound (PROTOCOL.md: same entry, same path), the file made there,
    // and the identity it was made with (null: the daemon's own)
    String pathKey;
    long fileDev;
    long fileIno;
    dev.papa.daemon.principal.ProcessIdentity fileOwner;

    HostedSocket(String name, int owner, Sockets.Family family, Sockets.Type type, int backlog, String path, Integer umask,
                 String host, InetAddress address, int port, String iface, boolean reusePort) {
        this(name, owner, family, type, backlog, path, umask, host, address, port, iface, reusePort, false);
    }

    HostedSocket(String name, int owner, Sockets.Family family, Sockets.Type type, int backlog, String path, Integer umask,
                 String host, InetAddress address, int port, String iface, boolean reusePort, boolean adopted) {
        this.name = name;
        this.owner = owner;
        this.family = family;
        this.type = type;
        this.backlog = backlog;
        this.path = path;
        this.umask = umask;
        this.host = host;
        this.address = address;
        this.port = port;
        this.iface = iface;
        this.reusePort = reusePort;
        this.adopted = adopted;
    }

    /** A socket carried over an upgrade, with the descriptor it had (null for reuseport). */
    public static HostedSocket restored(String name, int owner, Sockets.Family family, Sockets.Type type, int backlog,
                                        String path, Integer umask, String host, InetAddress address, int port,
                                        String iface, boolean reusePort, boolean adopted, Fd fd, String pathKey,
                                        long fileDev, long fileIno, dev.papa.daemon.principal.ProcessIdentity fileOwner) {
        HostedSocket s = new HostedSocket(name, owner, family, type, backlog, path, umask, host, address, port, iface, reusePort,
                adopted);
        s.fd = fd;
        s.pathKey = pathKey;
        s.fileDev = fileDev;
        s.fileIno = fileIno;
        s.fileOwner = fileOwner;
        return s;
    }

    /** This request with its host resolved to {@code resolved}. */
    HostedSocket at(InetAddress resolved) {
        HostedSocket s = new HostedSocket(name, owner, family, type, backlog, path, umask, host, resolved, port, iface, reusePort);
        s.reusePortText = reusePortText;
        return s;
    }

    public String name() { return name; }
    public Sockets.Family family() { return family; }
    public Sockets.Type type() { return type; }
    public int backlog() { return backlog; }
    public String path() { return path; }
    public Integer umask() { return umask; }
    public String host() { return host; }
    public InetAddress address() { return address; }
    public String iface() { return iface; }
    /** Unix: the directory entry bound, the file made there and the identity it was made with. */
    public String pathKey() { return pathKey; }
    public long fileDev() { return fileDev; }
    public long fileIno() { return fileIno; }
    public dev.papa.daemon.principal.ProcessIdentity fileOwner() { return fileOwner; }
    /** The uid of the principal that made it. */
    @Override public int owner() { return owner; }
    public int port() { return port; }
    public boolean reusePort() { return reusePort; }
    /** The daemon's descriptor, or -1 for a reuseport socket. */
    public int fileno() { return fd == null ? -1 : fd.get(); }

    public boolean adopted() { return adopted; }

    /** Same options as {@code other} (a requested port of 0 matches any port; reuseport is not compared, as in the reference). */
    boolean sameOptions(HostedSocket requested) {
        return family == requested.family && type == requested.type && backlog == requested.backlog
                && Objects.equals(path, requested.path) && Objects.equals(umask, requested.umask)
                && Objects.equals(host, requested.host) && (requested.port == 0 || requested.port == port)
                && Objects.equals(iface, requested.iface);
    }

    /** The reply and {@code list sockets} line. */
    public String line() {
        // client text (an adopted socket's path comes from getsockname: any bytes) is escaped
        StringBuilder sb = new StringBuilder(96);
        sb.append(name).append(" family=").append(family.name().toLowerCase(java.util.Locale.ROOT))
                .append(" type=").append(type.name().toLowerCase(java.util.Locale.ROOT))
                .append(" backlog=").append(backlog);
        if (path != null) sb.append(" path=").append(Printable.of(path));
        if (umask != null) sb.append(" umask=").append(umask);
        if (family != Sockets.Family.UNIX) {
            sb.append(" host=").append(Printable.of(host)).append(" port=").append(port);
            if (iface != null) sb.append(" interface=").append(Printable.of(iface));
            if (reusePort) sb.append(" reuseport=").append(reusePortText);
        }
        if (fd != null) sb.append(" fileno=").append(fd.get());
        return sb.toString();
    }
}
