package dev.papa.daemon.table;

import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Fd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Sockets;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.logging.Logger;

/** The sockets table: {@code make socket}, {@code list sockets}, {@code remove sockets}. */
public final class SocketTable {
    private static final Logger LOG = Logger.getLogger(SocketTable.class.getName());
    private static final List<String> OPTIONS = List.of("family", "type", "backlog", "path", "umask", "host", "port", "interface", "reuseport");

    private final NavigableMap<String, HostedSocket> byName = new TreeMap<>();
    private final Map<String, HostedSocket> byPath = new HashMap<>();

    private final Worker work;

    public SocketTable(Worker work) {
        this.work = work;
    }

    /**
     * {@code make socket NAME [OPTION=VALUE...]}: the new or identical existing socket, answered
     * on the loop. What is wrong with the request throws. A {@code host=} is resolved on the
     * worker (a resolver may take seconds); binding is quick and happens on the loop.
     */
    public void make(List<String> words, Worker.Answer<HostedSocket> answer) throws CommandError {
        if (words.isEmpty()) throw new CommandError("Socket requires a name");
        String name = words.remove(0);
        Map<String, String> options = dev.papa.daemon.protocol.Words.takeOptions(words);
        if (!words.isEmpty()) throw new CommandError("Unexpected argument \"" + words.get(0) + "\" - socket options are name=value");
        for (String key : options.keySet()) {
            if (!OPTIONS.contains(key)) throw new CommandError("Unknown socket option \"" + key + "\"");
        }
        Names.check("Socket", name);
        HostedSocket requested = parse(name, options);
        HostedSocket existing = existing(requested);
        if (existing != null) {
            answer.accept(existing, null);
        } else if (requested.family == Sockets.Family.UNIX) {
            answer.accept(add(requested), null);
        } else if (isAddressLiteral(requested.host)) {
            answer.accept(add(requested.at(resolve(requested.host, requested.family))), null); // parsed, not looked up
        } else {
            work.run(Worker.Lane.LOOKUP, () -> resolve(requested.host, requested.family), (address, error) -> {
                try {
                    if (error != null) throw error;
                    // Another session may have made the name while this one was resolving.
                    HostedSocket made = existing(requested);
                    answer.accept(made != null ? made : add(requested.at(address)), null);
                } catch (CommandError e) {
                    answer.accept(null, e);
                }
            });
        }
    }

    /** The socket of that name if it has the same options; null if there is none; else the error. */
    private HostedSocket existing(HostedSocket requested) throws CommandError {
        HostedSocket existing = byName.get(requested.name);
        if (existing != null) {
            if (existing.sameOptions(requested)) return existing;
            throw new CommandError("Socket for " + requested.name + " has already been created - " + existing.line());
        }
        if (requested.path != null && byPath.containsKey(requested.path)) {
            throw new CommandError("Socket for " + requested.path + " has already been created");
        }
        return null;
    }

    private HostedSocket add(HostedSocket requested) throws CommandError {
        open(requested);
        byName.put(requested.name, requested);
        if (requested.path != null) byPath.put(requested.path, requested);
        LOG.info(() -> "Created socket " + requested.line());
        return requested;
    }

    private static HostedSocket parse(String name, Map<String, String> o) throws CommandError {
        String path = o.get("path");
        Sockets.Family family = o.containsKey("family")
                ? enumOption("family", o.get("family"), Sockets.Family.class)
                : path != null ? Sockets.Family.UNIX : Sockets.Family.INET;
        Sockets.Type type = o.containsKey("type") ? enumOption("type", o.get("type"), Sockets.Type.class) : Sockets.Type.STREAM;
        int backlog = intOption("backlog", o.get("backlog"), 5, 0, 65535);
        if (family == Sockets.Family.UNIX) {
            if (path == null || !path.startsWith("/")) throw new CommandError("Absolute path required for Unix sockets");
            Integer umask = o.containsKey("umask") ? intOption("umask", o.get("umask"), 0, 0, 511) : null;
            return new HostedSocket(name, family, type, backlog, path, umask, null, null, 0, null, false);
        }
        int port = intOption("port", o.get("port"), 0, 0, 65535);
        String iface = emptyToNull(o.get("interface"));
        String host = emptyToNull(o.get("host"));
        if (host == null) {
            boolean v6 = family == Sockets.Family.INET6;
            host = iface != null ? (v6 ? "::" : "0.0.0.0") : (v6 ? "::1" : "127.0.0.1");
        }
        boolean reusePort = flag("reuseport", o.get("reuseport"));
        return new HostedSocket(name, family, type, backlog, null, null, host, null, port, iface, reusePort);
    }

    private void open(HostedSocket s) throws CommandError {
        try {
            if (s.family == Sockets.Family.UNIX) {
                removeStaleSocketFile(s.path);
                s.fd = Sockets.bindUnix(s.type, s.path, s.backlog, s.umask);
            } else {
                Fd fd = bindInet(s);
                s.port = Sockets.localPort(fd.get());
                if (s.reusePort) {
                    // Like the reference: the daemon keeps no copy (a listening one would take a share
                    // of the connections); each process gets its own, bound to this port.
                    fd.close();
                } else {
                    s.fd = fd;
                }
            }
        } catch (PosixException e) {
            throw bindFailed(s, e);
        }
    }

    private static Fd bindInet(HostedSocket s) throws PosixException {
        return Sockets.bindInet(s.family, s.type, s.address, s.port, s.backlog, s.reusePort, s.iface);
    }

    /** A fresh SO_REUSEPORT copy of a reuseport socket for one process; the caller closes it after the spawn. */
    public Fd reusePortCopy(HostedSocket s) throws CommandError {
        try {
            return bindInet(s);
        } catch (PosixException e) {
            throw bindFailed(s, e);
        }
    }

    private static CommandError bindFailed(HostedSocket s, PosixException e) {
        String reason = Errors.python(e);
        if (s.family == Sockets.Family.UNIX) return new CommandError("Bind failed: " + reason);
        return new CommandError("Bind failed on " + s.host + ':' + s.port + ": " + reason);
    }

    /** True when {@code p} exists and is a socket (or other special file), not a file, directory or link. */
    public static boolean isSocketFile(Path p) {
        try {
            return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther();
        } catch (IOException e) {
            return false;
        }
    }

    /** PROTOCOL.md: a stale file at the path is unlinked first (as the reference does); a directory is not. */
    private static void removeStaleSocketFile(String path) throws CommandError {
        Path p = Path.of(path);
        try {
            if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new CommandError("Bind failed: cannot remove stale socket file " + path + ": " + e.getMessage());
        }
    }

    public HostedSocket find(String name) {
        return byName.get(name);
    }

    public String list(List<String> patterns) throws CommandError {
        List<String> lines = new ArrayList<>();
        for (HostedSocket s : select(patterns, false).values()) lines.add(s.line());
        lines.sort(null);
        return String.join("\n", lines);
    }

    public void remove(List<String> patterns) throws CommandError {
        for (HostedSocket s : new ArrayList<>(select(patterns, true).values())) close(s);
    }

    private NavigableMap<String, HostedSocket> select(List<String> patterns, boolean required) throws CommandError {
        return Patterns.select(byName, patterns, required, this::byFileno, HostedSocket::name);
    }

    private HostedSocket byFileno(int fileno) {
        for (HostedSocket s : byName.values()) if (s.fd != null && s.fd.get() == fileno) return s;
        return null;
    }

    private void close(HostedSocket s) {
        byName.remove(s.name);
        if (s.fd != null) s.fd.close();
        if (s.path != null) {
            byPath.remove(s.path);
            try {
                Files.deleteIfExists(Path.of(s.path));
            } catch (IOException e) {
                LOG.warning("cannot unlink " + s.path + ": " + e);
            }
        }
        LOG.info(() -> "Closed socket " + s.name);
    }

    /** Closes every socket (daemon exit). */
    public void closeAll() {
        for (HostedSocket s : new ArrayList<>(byName.values())) close(s);
    }

    public boolean isEmpty() {
        return byName.isEmpty();
    }

    public int size() {
        return byName.size();
    }

    // ---- option parsing shared with the process table ----

    static <E extends Enum<E>> E enumOption(String option, String value, Class<E> type) throws CommandError {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(value)) return e;
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) names.add(e.name().toLowerCase(Locale.ROOT));
        throw new CommandError("Invalid " + option + " \"" + value + "\" - must be one of: " + String.join(", ", names));
    }

    static int intOption(String option, String value, int dflt, int min, int max) throws CommandError {
        if (value == null) return dflt;
        try {
            int v = Integer.parseInt(value.trim());
            if (v < min || v > max) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new CommandError("Invalid " + option + " \"" + value + "\" - must be a whole number from " + min + " to " + max);
        }
    }

    static boolean flag(String option, String value) throws CommandError {
        if (value == null || value.isEmpty()) return false;
        switch (value.toLowerCase(Locale.ROOT)) {
            case "1": case "true": case "yes": case "on": return true;
            case "0": case "false": case "no": case "off": return false;
            default: throw new CommandError("Invalid " + option + " \"" + value + "\" - must be 1 or 0");
        }
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    private static final java.util.regex.Pattern IPV4 =
            java.util.regex.Pattern.compile("(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}");

    /** A dotted quad, or (with a colon, which no host name has) an IPv6 literal: InetAddress parses these without a lookup. */
    static boolean isAddressLiteral(String host) {
        return host.indexOf(':') >= 0 || IPV4.matcher(host).matches();
    }

    /** On the worker unless {@link #isAddressLiteral}: InetAddress lookups go through NSS and DNS. */
    private static InetAddress resolve(String host, Sockets.Family family) throws CommandError {
        try {
            for (InetAddress a : InetAddress.getAllByName(host)) {
                if (family == Sockets.Family.INET6 ? a instanceof Inet6Address : a instanceof Inet4Address) return a;
            }
            throw new CommandError("Host " + host + " has no " + (family == Sockets.Family.INET6 ? "IPv6" : "IPv4") + " address");
        } catch (UnknownHostException e) {
            throw new CommandError("Unknown host " + host);
        }
    }
}
