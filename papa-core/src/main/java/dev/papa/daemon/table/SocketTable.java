package dev.papa.daemon.table;

import dev.papa.daemon.protocol.Errors;
import dev.papa.daemon.principal.Audit;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Printable;
import dev.papa.daemon.principal.ProcessIdentity;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Fd;
import dev.papa.posix.FsIdentity;
import dev.papa.posix.UnixPath;
import dev.papa.posix.UnixSocketFile;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.Sockets;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
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
    private static final List<String> UNIX_ONLY = List.of("path", "umask");
    private static final List<String> INET_ONLY = List.of("host", "port", "interface", "reuseport");

    private final NavigableMap<String, HostedSocket> byName = new TreeMap<>();
    private final PortOwnership ports = new PortOwnership(Processes.effectiveUid());
    private final Map<String, HostedSocket> byPath = new HashMap<>();

    private final Worker work;

    private TableChanges changes = TableChanges.NONE;

    /** Who is told of each socket added or closed (the keeper's journal). */
    public void changes(TableChanges changes) { this.changes = changes; }

    public SocketTable(Worker work) {
        this.work = work;
    }

    /**
     * {@code make socket NAME [OPTION=VALUE...]}: the new or identical existing socket, answered
     * on the loop (maybe before this returns). What is wrong with the request throws. A host
     * name is resolved on the worker (a resolver may take seconds); binding is quick and
     * happens on the loop.
     */
    public void make(Principal by, List<String> words, Worker.Answer<HostedSocket> answer) throws CommandError {
        make(by, words, null, answer);
    }

    /**
     * Like {@link #make(Principal, List, Worker.Answer)}, with the descriptors that came with the
     * request: null when the session cannot carry any (TCP). {@code adopt=1} keeps the one there
     * (answered at once) and nulls its slot; the caller closes whatever is left in the array.
     */
    public void make(Principal by, List<String> words, Fd[] attached, Worker.Answer<HostedSocket> answer) throws CommandError {
        if (words.isEmpty()) throw new CommandError("Socket requires a name");
        String name = words.remove(0);
        Map<String, String> options = dev.papa.daemon.protocol.Words.takeOptions(words);
        if (!words.isEmpty()) throw new CommandError("Unexpected argument \"" + words.get(0) + "\" - socket options are name=value");
        boolean adopt = flag("adopt", options.remove("adopt"));
        for (String key : options.keySet()) {
            if (!OPTIONS.contains(key)) throw new CommandError("Unknown socket option \"" + key + "\"");
        }
        Names.check("Socket", name);
        if (adopt) {
            answer.accept(adopt(by, name, options, attached), null); // nothing to look up
            return;
        }
        HostedSocket requested = parse(name, options, by.uid());
        HostedSocket existing = existing(by, requested);
        if (existing != null) {
            answer.accept(existing, null);
        } else if (requested.family == Sockets.Family.UNIX && !by.isAdmin()) {
            // the file is made with the user's identity, whose groups come from NSS: off the loop, like a host name
            work.lookup(by, "the groups of uid " + by.uid(), () -> ProcessIdentity.resolve(by, null, null), (id, error) -> {
                try {
                    if (error != null) throw error;
                    HostedSocket made = existing(by, requested);
                    if (made == null) requested.fileOwner = id;
                    answer.accept(made != null ? made : add(by, requested), null);
                } catch (CommandError e) {
                    answer.accept(null, e);
                }
            });
        } else if (requested.family == Sockets.Family.UNIX) {
            answer.accept(add(by, requested), null);
        } else if (isAddressLiteral(requested.host)) {
            answer.accept(add(by, requested.at(resolve(requested.host, requested.family))), null); // parsed, not looked up
        } else {
            work.lookup(by, "host " + requested.host, () -> resolve(requested.host, requested.family), (address, error) -> {
                try {
                    if (error != null) throw error;
                    // Another session may have made the name while this one was resolving.
                    HostedSocket made = existing(by, requested);
                    answer.accept(made != null ? made : add(by, requested.at(address)), null);
                } catch (CommandError e) {
                    answer.accept(null, e);
                }
            });
        }
    }

    /** The socket of that name if it has the same options; null if there is none; else the error. */
    private HostedSocket existing(Principal by, HostedSocket requested) throws CommandError {
        HostedSocket existing = byName.get(requested.name);
        by.claim(requested.name, existing);
        if (existing != null) {
            if (existing.sameOptions(requested)) return existing;
            throw new CommandError("Socket for " + requested.name + " has already been created - " + existing.line());
        }
        return null; // a unix path held by another socket is found when its directory is opened (bindUnix)
    }

    private HostedSocket add(Principal by, HostedSocket requested) throws CommandError {
        if (!by.isAdmin()) checkAllowed(by, requested);
        checkPort(by, requested);     // a port asked for: before the bind, which would already receive
        open(by, requested);
        try {
            checkPort(by, requested); // port 0: the one the kernel chose
        } catch (CommandError e) {
            if (requested.fd != null) requested.fd.close();
            requested.fd = null;
            throw e;
        }
        byName.put(requested.name, requested);
        changes.socket(requested.name);
        if (requested.pathKey != null) byPath.put(requested.pathKey, requested);
        Audit.changed(by, "created socket " + requested.line());
        return requested;
    }

    /** {@code make socket NAME adopt=1}: keeps the attached descriptor as NAME (PROTOCOL.md "Descriptor passing"). */
    private HostedSocket adopt(Principal by, String name, Map<String, String> options, Fd[] attached) throws CommandError {
        if (attached == null) throw new CommandError(Adoption.NEEDS_UNIX);
        if (!options.isEmpty()) {
            throw new CommandError("adopt=1 takes no other option (the kernel tells the rest): " + options.keySet().iterator().next());
        }
        HostedSocket existing = byName.get(name);
        by.claim(name, existing);
        if (existing != null) throw new CommandError("Socket for " + name + " has already been created - " + existing.line());
        if (attached.length != 1) throw new CommandError(Adoption.NEEDS_SOCKET);
        // no port or type rule for non-administrators: nothing is bound, the socket already exists
        HostedSocket s = Adoption.describe(name, by.uid(), attached[0]);
        try {
            checkPort(by, s);
        } catch (CommandError e) {
            s.fd = null; // still the caller's (attached[0]), which closes it
            throw e;
        }
        String key = entryKey(by, s);
        if (key != null && byPath.containsKey(key)) {
            by.claim(s.path, byPath.get(key));
            throw new CommandError("Socket for " + s.path + " has already been created");
        }
        Adoption.checkHeadroom(0); // the descriptor is already counted: keep the reserve free
        attached[0] = null;        // the table owns it now
        byName.put(name, s);
        changes.socket(name);
        s.pathKey = key;
        if (key != null) byPath.put(key, s);
        Audit.changed(by, "adopted socket " + s.line());
        return s;
    }

    /**
     * The directory entry an adopted unix socket's path names (so no socket is made there while
     * it is held), or null: no path, an abstract name, a path that cannot be resolved safely, or
     * one that here leads to anything but the very file the socket is bound to. The address is
     * only the path its binder used: bound in a mount namespace of its own, it would otherwise
     * reserve a path of ours that its adopter cannot even create.
     */
    private static String entryKey(Principal by, HostedSocket s) {
        if (s.path == null || s.path.startsWith("@")) return null;
        try (UnixPath where = UnixPath.open(s.path, by.isAdmin() ? Processes.effectiveUid() : by.uid())) {
            UnixPath.Entry e = where.entry();
            if (e == null || !e.socket() || !UnixSocketFile.isBoundTo(s.fd.get(), e.dev(), e.ino())) return null;
            return where.entryKey();
        } catch (PosixException e) {
            return null;
        }
    }

    /** What {@code take sockets} hands over: the reply lines and one descriptor per line, owned by the caller. */
    public record Taken(String reply, Fd[] fds) {}

    /**
     * {@code take sockets PATTERN...}: the matched sockets' lines, sorted, and a close-on-exec
     * duplicate of each (a fresh copy of a reuseport socket), in the order of the lines.
     */
    public Taken take(Principal by, List<String> patterns) throws CommandError {
        List<HostedSocket> matched = new ArrayList<>(select(by, patterns, true).values()); // what by sees
        if (matched.size() > Sockets.MAX_FDS_PER_MESSAGE) {
            throw new CommandError("at most " + Sockets.MAX_FDS_PER_MESSAGE + " sockets in one take");
        }
        if (matched.isEmpty()) return new Taken("", new Fd[0]);
        matched.sort(java.util.Comparator.comparing(HostedSocket::line));
        Adoption.checkHeadroom(matched.size());
        Fd[] fds = new Fd[matched.size()];
        List<String> lines = new ArrayList<>(matched.size());
        try {
            for (int i = 0; i < fds.length; i++) {
                HostedSocket s = matched.get(i);
                fds[i] = s.fd == null ? reusePortCopy(s) : dup(s.fd);
                lines.add(s.line());
            }
        } catch (CommandError | RuntimeException e) {
            for (Fd f : fds) if (f != null) f.close();
            throw e;
        }
        return new Taken(String.join("\n", lines), fds);
    }

    private static Fd dup(Fd fd) throws CommandError {
        try {
            return dev.papa.posix.Io.dupCloseOnExec(fd.get());
        } catch (PosixException e) {
            throw new CommandError("Cannot duplicate a socket: " + Errors.python(e));
        }
    }

    private static HostedSocket parse(String name, Map<String, String> o, int owner) throws CommandError {
        for (String key : List.of("path", "interface", "host")) {
            String v = o.get(key);
            if (v != null && v.indexOf('\0') >= 0) {
                throw new CommandError("Invalid " + key + " \"" + Printable.of(v) + "\" - contains a NUL character");
            }
        }
        String path = o.get("path");
        Sockets.Family family = o.containsKey("family")
                ? enumOption("family", o.get("family"), Sockets.Family.class)
                : path != null ? Sockets.Family.UNIX : Sockets.Family.INET;
        Sockets.Type type = o.containsKey("type") ? enumOption("type", o.get("type"), Sockets.Type.class) : Sockets.Type.STREAM;
        int backlog = intOption("backlog", o.get("backlog"), 5, 0, 65535);
        for (String key : family == Sockets.Family.UNIX ? INET_ONLY : UNIX_ONLY) {
            if (!emptyOrAbsent(o.get(key))) {
                throw new CommandError("Option \"" + key + "\" does not apply to family " + family.name().toLowerCase(Locale.ROOT));
            }
        }
        if (family == Sockets.Family.UNIX) {
            if (path == null || !path.startsWith("/")) throw new CommandError("Absolute path required for Unix sockets");
            Integer umask = o.containsKey("umask") ? umask(o.get("umask")) : null;
            return new HostedSocket(name, owner, family, type, backlog, path, umask, null, null, 0, null, false);
        }
        int port = intOption("port", o.get("port"), 0, 0, 65535);
        String iface = emptyToNull(o.get("interface"));
        String host = emptyToNull(o.get("host"));
        if (host == null) {
            boolean v6 = family == Sockets.Family.INET6;
            host = iface != null ? (v6 ? "::" : "0.0.0.0") : (v6 ? "::1" : "127.0.0.1");
        }
        boolean reusePort = flag("reuseport", o.get("reuseport"));
        HostedSocket s = new HostedSocket(name, owner, family, type, backlog, null, null, host, null, port, iface, reusePort);
        if (reusePort) s.reusePortText = o.get("reuseport");
        return s;
    }

    private static boolean emptyOrAbsent(String v) {
        return v == null || v.isEmpty();
    }

    /**
     * The reference reads umask as a decimal number ({@code umask=63} is octal 077). A leading
     * zero means the client thought in octal and would get a different, often world-connectable
     * mask ({@code 077} is octal 0115), so it is refused rather than guessed.
     */
    static int umask(String value) throws CommandError {
        String v = value.trim();
        if (v.length() > 1 && v.charAt(0) == '0') {
            String hint = v.matches("0[0-7]+") ? " (octal " + v + " is umask=" + Integer.parseInt(v, 8) + ")" : "";
            throw new CommandError("Invalid umask \"" + value + "\" - umask is a decimal number, so a leading zero is refused" + hint);
        }
        return intOption("umask", value, 0, 0, 511);
    }

    /** A port another principal holds (any overlapping address, same transport): refused. */
    private void checkPort(Principal by, HostedSocket s) throws CommandError {
        HostedSocket holder = ports.conflict(s, byName.values());
        if (holder != null) throw Audit.refused(by, "port " + s.port + " is in use by another user");
    }

    /**
     * What an administrator may do and others may not: a port below 1024 (a privileged port
     * needs root's help only because it is privileged) and a raw socket (CAP_NET_RAW).
     */
    private static void checkAllowed(Principal by, HostedSocket s) throws CommandError {
        if (s.family != Sockets.Family.UNIX && s.port > 0 && s.port < 1024) {
            throw Audit.refused(by, "permission denied: port " + s.port + " is below 1024");
        }
        if (s.type == Sockets.Type.RAW) throw Audit.refused(by, "permission denied: type=raw");
    }

    private void open(Principal by, HostedSocket s) throws CommandError {
        try {
            if (s.family == Sockets.Family.UNIX) {
                bindUnix(by, s);
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

    /**
     * PROTOCOL.md Part 2, "Unix socket paths": the directory is reached without symbolic links,
     * the path is the directory entry (two spellings of one entry are one path), only a stale
     * socket is replaced, and a principal's file is made with its own file-system identity.
     */
    private void bindUnix(Principal by, HostedSocket s) throws CommandError, PosixException {
        ProcessIdentity as = s.fileOwner; // a principal's, looked up before (make); null for an administrator
        if (as == null && !by.isAdmin()) throw new IllegalStateException("no file-system identity for " + by);
        try (FsIdentity fs = becomeOwner(as); UnixPath where = UnixPath.open(s.path, actingUid(as))) {
            HostedSocket holder = byPath.get(where.entryKey());
            if (holder != null) {
                by.claim(s.path, holder);
                throw new CommandError("Socket for " + s.path + " has already been created");
            }
            UnixPath.Bound bound = where.bind(s.type, s.backlog, s.umask);
            s.fd = bound.fd();
            s.pathKey = where.entryKey();
            s.fileDev = bound.dev();
            s.fileIno = bound.ino();
        }
    }

    private static int actingUid(ProcessIdentity owner) {
        return owner == null ? Processes.effectiveUid() : owner.uid();
    }

    /** Acting on the file system as the owner of a principal's socket file; null (nothing to change) for administrators. */
    private static FsIdentity becomeOwner(ProcessIdentity owner) throws PosixException {
        return owner == null ? null : FsIdentity.become(owner.uid(), owner.gid(), owner.groups());
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
        if (s.family == Sockets.Family.UNIX) {
            if (UnixPath.inUse(e)) return new CommandError(s.path + " exists and is not a stale socket");
            if (UnixPath.symlinkOnPath(e)) return new CommandError("Bind failed: a directory on " + s.path + " is a symbolic link");
            if (UnixPath.namesNoEntry(e)) return new CommandError("Bind failed: " + s.path + " names no file");
            return new CommandError("Bind failed: " + reason);
        }
        return new CommandError("Bind failed on " + s.host + ':' + s.port + ": " + reason);
    }

    /** Every socket, in name order (for the upgrade's snapshot). */
    public java.util.Collection<HostedSocket> all() {
        return java.util.Collections.unmodifiableCollection(byName.values());
    }

    /** Takes back a socket carried over an upgrade. */
    public void adopt(HostedSocket s) {
        byName.put(s.name, s);
        changes.socket(s.name);
        if (s.pathKey != null) byPath.put(s.pathKey, s);
    }

    public HostedSocket find(String name) {
        return byName.get(name);
    }

    public String list(Principal by, List<String> patterns) throws CommandError {
        List<String> lines = new ArrayList<>();
        for (HostedSocket s : select(by, patterns, false).values()) lines.add(s.line());
        lines.sort(null);
        return String.join("\n", lines);
    }

    public void remove(Principal by, List<String> patterns) throws CommandError {
        for (HostedSocket s : new ArrayList<>(select(by, patterns, true).values())) close(by, s);
    }

    /** The sockets {@code by} sees that match {@code patterns}. */
    public NavigableMap<String, HostedSocket> select(Principal by, List<String> patterns, boolean required) throws CommandError {
        return Patterns.select(by, byName, patterns, required, this::byFileno, HostedSocket::name);
    }

    private HostedSocket byFileno(int fileno) {
        for (HostedSocket s : byName.values()) if (s.fd != null && s.fd.get() == fileno) return s;
        return null;
    }

    private void close(Principal by, HostedSocket s) {
        close(s, true);
        Audit.changed(by, "closed socket " + s.name);
    }

    private void close(HostedSocket s, boolean unlink) {
        byName.remove(s.name);
        changes.socket(s.name);
        if (s.fd != null) s.fd.close();
        if (s.pathKey != null) {
            byPath.remove(s.pathKey);
            if (unlink && !s.adopted) unlink(s); // an adopted socket's file belongs to whoever bound it
        }
    }

    /** Unlinks a socket's file, as its owner, only while the path still leads to the file it bound. */
    private static void unlink(HostedSocket s) {
        try (FsIdentity fs = becomeOwner(s.fileOwner); UnixPath where = UnixPath.open(s.path, actingUid(s.fileOwner))) {
            if (!where.unlinkIf(s.fileDev, s.fileIno)) LOG.info(() -> "Left " + s.path + " alone: it is no longer the socket file bound there");
        } catch (PosixException e) {
            LOG.warning(() -> "Left " + s.path + " alone: " + e.getMessage());
        }
    }

    /**
     * Closes every socket (daemon exit). Their files stay: the processes that inherited the
     * sockets go on serving on them, and must stay reachable by path.
     */
    public void closeAll() {
        for (HostedSocket s : new ArrayList<>(byName.values())) close(s, false);
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
                // the JDK parses ::ffff:a.b.c.d as an IPv4 address: bound as the IPv4-mapped IPv6 address given
                if (family == Sockets.Family.INET6 && host.indexOf(':') >= 0) return a;
            }
            throw new CommandError("Host " + host + " has no " + (family == Sockets.Family.INET6 ? "IPv6" : "IPv4") + " address");
        } catch (UnknownHostException e) {
            throw new CommandError("Unknown host " + host);
        }
    }
}
