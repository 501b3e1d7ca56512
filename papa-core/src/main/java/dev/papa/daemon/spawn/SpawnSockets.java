package dev.papa.daemon.spawn;

import dev.papa.daemon.table.SocketTable;
import dev.papa.daemon.table.HostedSocket;

import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;
import dev.papa.posix.SpawnSpec;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which held sockets one spawn hands to its child, and at which descriptor numbers: the
 * activation sockets ({@code sockets=} at 3, 4, ..., {@code stdin_socket=} at 0) and every socket
 * an argument names in {@code $(socket.NAME.fileno)}. Each socket is looked up once per spawn, so
 * a {@code reuseport} socket contributes one fresh copy however often it is named. Every other
 * socket is passed as a close-on-exec duplicate: the spawn runs on the worker, and a socket
 * removed meanwhile must not close (or reuse the number of) what the child is handed. Copies and
 * duplicates are the caller's to close after the spawn ({@link #close}), whether it succeeded or
 * not. A principal passes only the sockets it can see.
 *
 * <p>Without {@code sockets=}, a referenced socket is open in the child at the daemon's own number
 * (Part 1). With it, 3... belong to the listed sockets, so a referenced socket that is not listed
 * goes to the next number after them.
 */
public final class SpawnSockets implements AutoCloseable {
    private static final String LISTEN_PREFIX = "LISTEN_";

    private final Principal by;
    private final SocketTable table;
    private final Activation activation;
    /** Socket name -> the daemon-side descriptor this spawn passes (a reuseport copy, or a duplicate). */
    private final Map<String, Integer> daemonFds = new HashMap<>();
    private final List<Fd> copies = new ArrayList<>();
    /** Child descriptor -> daemon descriptor, for every socket passed. */
    private final Map<Integer, Integer> moved = new LinkedHashMap<>();
    /** Referenced sockets that {@code sockets=} does not list -> their child descriptor after the listed ones. */
    private final Map<String, Integer> unlisted = new HashMap<>();
    private int nextUnlisted;

    public SpawnSockets(Principal by, SocketTable table, Activation activation) {
        this.by = by;
        this.table = table;
        this.activation = activation;
        this.nextUnlisted = Activation.FIRST_FD + activation.sockets().size();
    }

    /** Looks up the activation sockets; {@code Socket A not found} when one is not held. */
    public void resolveActivation() throws CommandError {
        List<String> listed = activation.sockets();
        for (int i = 0; i < listed.size(); i++) moved.put(Activation.FIRST_FD + i, daemonFd(listed.get(i)));
        if (activation.stdinSocket() != null) daemonFd(activation.stdinSocket());
    }

    /** Replaces {@code $(socket.NAME.port)} and {@code $(socket.NAME.fileno)} in every argument. */
    public List<String> substitute(String processName, List<String> args) throws CommandError {
        List<String> out = new ArrayList<>(args.size());
        for (String arg : args) {
            int from = 0;
            StringBuilder sb = null;
            int start;
            while ((start = arg.indexOf("$(socket.", from)) >= 0) {
                int nameStart = start + 9;
                int end = arg.indexOf(')', nameStart);
                if (end < 0) {
                    throw new CommandError("Process for " + processName + " argument starts with \"$(socket.\" but has no closing parenthesis");
                }
                String ref = arg.substring(nameStart, end);
                int dot = ref.lastIndexOf('.');
                String part = dot < 0 ? "" : ref.substring(dot + 1);
                if (!part.equals("port") && !part.equals("fileno")) {
                    throw new CommandError("You forgot to specify either \".port\" or \".fileno\" after the name");
                }
                String socketName = ref.substring(0, dot);
                String replacement = part.equals("port")
                        ? Integer.toString(socket(socketName).port())
                        : Integer.toString(childFd(socketName));
                if (sb == null) sb = new StringBuilder(arg.length());
                sb.append(arg, from, start).append(replacement);
                from = end + 1;
            }
            if (sb == null) {
                out.add(arg);
            } else {
                sb.append(arg, from, arg.length());
                out.add(sb.toString());
            }
        }
        return out;
    }

    /**
     * Puts the sockets into the spawn, and the environment: {@code env} as given, and with
     * {@code sockets=} systemd's variables ({@code LISTEN_PID} is written by the child itself);
     * any {@code LISTEN_*} among {@code env} is replaced, since it would describe other descriptors.
     */
    public void applyTo(SpawnSpec spawn, Map<String, String> env) {
        for (Map.Entry<Integer, Integer> m : moved.entrySet()) spawn.passFd(m.getValue(), m.getKey());
        if (activation.stdinSocket() != null) spawn.stdin(daemonFds.get(activation.stdinSocket()));
        List<String> listed = activation.sockets();
        if (listed.isEmpty()) {
            spawn.env(env);
            return;
        }
        Map<String, String> withListen = new LinkedHashMap<>(env);
        withListen.keySet().removeIf(k -> k.startsWith(LISTEN_PREFIX));
        withListen.put("LISTEN_FDS", Integer.toString(listed.size()));
        withListen.put("LISTEN_FDNAMES", String.join(":", listed));
        spawn.env(withListen).listenPid(true);
    }

    /** The number {@code $(socket.NAME.fileno)} names in the child; arranges for it to be open there. */
    private int childFd(String name) throws CommandError {
        int fd = activation.childFd(name);
        if (fd >= 0) return fd;
        int own = daemonFd(name);
        if (activation.sockets().isEmpty()) {
            // Part 1: at the number the daemon holds it under (a reuseport copy's own number)
            HostedSocket s = socket(name);
            int number = s.reusePort() ? own : s.fileno();
            moved.putIfAbsent(number, own);
            return number;
        }
        Integer placed = unlisted.get(name);
        if (placed == null) {
            placed = nextUnlisted++;
            unlisted.put(name, placed);
            moved.put(placed, own);
        }
        return placed;
    }

    private int daemonFd(String name) throws CommandError {
        Integer fd = daemonFds.get(name);
        if (fd != null) return fd;
        HostedSocket s = socket(name);
        int own;
        if (s.reusePort()) {
            Fd copy = table.reusePortCopy(s);
            copies.add(copy);
            own = copy.get();
        } else {
            try {
                Fd dup = Io.dupCloseOnExec(s.fileno());
                copies.add(dup);
                own = dup.get();
            } catch (PosixException e) {
                throw new CommandError("Could not pass socket " + name + " - " + e.getMessage());
            }
        }
        daemonFds.put(name, own);
        return own;
    }

    private HostedSocket socket(String name) throws CommandError {
        HostedSocket s = by.visible(table.find(name));
        if (s == null) throw new CommandError("Socket " + name + " not found");
        return s;
    }

    /** Closes the copies and duplicates: the child has its own by now, or there is no child. */
    @Override
    public void close() {
        for (Fd fd : copies) fd.close();
        copies.clear();
    }
}
