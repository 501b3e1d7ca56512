package dev.papa.client;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A process started by the daemon, as {@code make process} and {@code list processes} describe it.
 *
 * @param name          the process's name
 * @param pid           its process id
 * @param running       false once it has exited
 * @param startedMicros when it was started, in microseconds since the epoch
 * @param uid           the user id it runs as, when one was asked for; else null
 * @param gid           the group id it runs as, when one was asked for; else null
 * @param args          the executable and arguments as given (before substitution), joined by spaces
 * @param attributes    every {@code key=value} of the daemon's line, as sent
 */
public record ProcessInfo(String name, int pid, boolean running, long startedMicros, Integer uid, Integer gid,
                          String args, Map<String, String> attributes) {

    /** When it was started. */
    public Instant started() {
        return Timestamps.instant(startedMicros);
    }

    /** The sockets it received by socket activation at fds 3, 4, ... ({@code sockets=}), in order; empty for none. */
    public List<String> sockets() {
        String s = attributes.get("sockets");
        return s == null || s.isEmpty() ? List.of() : List.of(s.split(","));
    }

    /** The socket it has as stdin ({@code stdin_socket=}), or null. */
    public String stdinSocket() {
        return attributes.get("stdin_socket");
    }

    /** The {@code overflow=} rule it was made with, or null when none was given (the daemon's default, drop). */
    public Overflow overflow() {
        String o = attributes.get("overflow");
        for (Overflow v : Overflow.values()) if (v.name().equalsIgnoreCase(o)) return v;
        return null;
    }

    /** Bytes of its output evicted before a watcher had them ({@code overflow=drop} processes), else null. */
    public Long dropped() {
        String d = attributes.get("dropped");
        return d == null ? null : Long.valueOf(d);
    }

    /** True for a process made with {@code shell=1} (run through {@code /bin/sh -c}). */
    public boolean shell() {
        return "True".equals(attributes.get("shell"));
    }

    /** True while an {@code overflow=block} process waits for a watcher to acknowledge output. */
    public boolean blocked() {
        return "True".equals(attributes.get("blocked"));
    }

    /** Parses one line of {@code list processes} / the reply of {@code make process}. */
    public static ProcessInfo parse(String line) throws PapaException {
        Attributes a = Attributes.parse(line, "args");
        Integer pid = a.integer("pid");
        String running = a.get("running");
        String started = a.get("started");
        if (pid == null || running == null || started == null) {
            throw new PapaException(PapaException.Kind.PROTOCOL, "Unexpected process line from papa: \"" + line + "\"");
        }
        return new ProcessInfo(a.name, pid, "True".equalsIgnoreCase(running), Timestamps.micros(started),
                a.integerOrNull("uid"), a.integerOrNull("gid"), a.get("args"), a.map);
    }
}
