package dev.papa.daemon.spawn;

import dev.papa.daemon.protocol.CommandError;

import java.util.ArrayList;
import java.util.List;

/**
 * The socket activation a process asked for (PROTOCOL.md Part 2, "Socket activation"): the held
 * sockets it receives at fds 3, 4, ... with systemd's {@code LISTEN_FDS} variables
 * ({@code sockets=A,B}), and the socket it receives as fd 0 ({@code stdin_socket=A}).
 *
 * @param sockets     socket names in the order of their child descriptors, from 3; empty for none
 * @param stdinSocket the socket name for fd 0, or null for /dev/null
 */
public record Activation(List<String> sockets, String stdinSocket) {
    /** No activation: Part 1's behaviour. */
    public static final Activation NONE = new Activation(List.of(), null);
    /**
     * The most sockets one process receives in {@code sockets=}: the bound of one SCM_RIGHTS
     * message, so a process can pass on all it received, and fds 3..255 stay within select()'s
     * reach for the old servers that use it.
     */
    public static final int MAX_SOCKETS = 253;
    /** The first descriptor of systemd's socket activation (SD_LISTEN_FDS_START). */
    public static final int FIRST_FD = 3;

    public Activation {
        sockets = List.copyOf(sockets);
    }

    /** Parses the {@code sockets=} and {@code stdin_socket=} values (null or empty: not given). */
    public static Activation parse(String socketsValue, String stdinValue) throws CommandError {
        List<String> names = new ArrayList<>();
        if (socketsValue != null && !socketsValue.isEmpty()) {
            for (String name : socketsValue.split(",", -1)) {
                if (name.isEmpty()) {
                    throw new CommandError("Invalid sockets \"" + socketsValue + "\" - must be socket names separated by commas");
                }
                if (names.contains(name)) throw new CommandError("Socket " + name + " is listed twice in sockets");
                names.add(name);
            }
            if (names.size() > MAX_SOCKETS) {
                throw new CommandError("Too many sockets in sockets (at most " + MAX_SOCKETS + ")");
            }
        }
        String stdin = stdinValue == null || stdinValue.isEmpty() ? null : stdinValue;
        return names.isEmpty() && stdin == null ? NONE : new Activation(names, stdin);
    }

    /** The child's descriptor for socket {@code name}: 3, 4, ... when listed, 0 for the stdin socket, else -1. */
    public int childFd(String name) {
        int i = sockets.indexOf(name);
        if (i >= 0) return FIRST_FD + i;
        return name.equals(stdinSocket) ? 0 : -1;
    }

    /** {@code " sockets=A,B stdin_socket=C"} as they apply, for the process line. */
    public void appendTo(StringBuilder line) {
        if (!sockets.isEmpty()) line.append(" sockets=").append(String.join(",", sockets));
        if (stdinSocket != null) line.append(" stdin_socket=").append(stdinSocket);
    }
}
