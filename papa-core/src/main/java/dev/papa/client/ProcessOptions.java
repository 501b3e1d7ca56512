package dev.papa.client;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Options of {@code make process}. Anything not set is left to the daemon's default. Note that
 * the environment of the process is exactly what {@link #env} gives (empty when nothing is given).
 *
 * <pre>{@code
 * papa.makeProcess("web", new ProcessOptions().workingDir("/srv/app").env("PATH", "/usr/bin:/bin")
 *         .bufsize("64k").stderr(ProcessOptions.Stderr.STDOUT), "app", "--fd", "$(socket.web.fileno)");
 * }</pre>
 */
public final class ProcessOptions {
    /** What happens to standard error. */
    public enum Stderr { CAPTURE, DISCARD, STDOUT }

    private final Map<String, String> options = new LinkedHashMap<>();
    private final Map<String, String> env = new LinkedHashMap<>();
    private final Map<String, String> rlimits = new LinkedHashMap<>();

    public ProcessOptions workingDir(String dir) {
        return put("working_dir", dir);
    }

    public ProcessOptions workingDir(Path dir) {
        return workingDir(dir.toString());
    }

    /** Runs as this user name. */
    public ProcessOptions user(String userName) {
        return put("uid", userName);
    }

    /** Runs as this user id. */
    public ProcessOptions uid(int uid) {
        return put("uid", Integer.toString(uid));
    }

    /** Runs with this group name. */
    public ProcessOptions group(String groupName) {
        return put("gid", groupName);
    }

    /** Runs with this group id. */
    public ProcessOptions gid(int gid) {
        return put("gid", Integer.toString(gid));
    }

    /** Output buffer size in bytes; 0 captures nothing. */
    public ProcessOptions bufsize(long bytes) {
        return put("bufsize", Long.toString(bytes));
    }

    /** Output buffer size as the daemon reads it, e.g. {@code "64k"}, {@code "1m"}. */
    public ProcessOptions bufsize(String size) {
        return put("bufsize", size);
    }

    /**
     * {@code shell=1}: the daemon runs {@code /bin/sh -c COMMAND ARG...}: the executable word is a
     * shell script and the arguments are its {@code $0}, {@code $1}, ... (the reference's
     * {@code shell=True}). A shell line built from untrusted text is a command injection.
     */
    public ProcessOptions shell(boolean viaShell) {
        return put("shell", viaShell ? "1" : "0");
    }

    /** Capture standard output ({@code true}, the default) or discard it. */
    public ProcessOptions stdout(boolean capture) {
        return put("stdout", capture ? "1" : "0");
    }

    public ProcessOptions stderr(Stderr mode) {
        switch (mode) {
            case CAPTURE:
                return put("stderr", "1");
            case DISCARD:
                return put("stderr", "0");
            default:
                return put("stderr", "stdout");
        }
    }

    /**
     * Socket activation, systemd's way: the daemon's sockets of these names are the process's
     * fds 3, 4, ... in this order, announced by {@code LISTEN_FDS}, {@code LISTEN_FDNAMES} and
     * {@code LISTEN_PID} (gunicorn without {@code --bind}, go-systemd, sd_listen_fds). None clears it.
     */
    public ProcessOptions sockets(String... socketNames) {
        for (String n : socketNames) {
            if (n.isEmpty() || n.indexOf(',') >= 0) throw new IllegalArgumentException("Bad socket name \"" + n + "\"");
        }
        return put("sockets", socketNames.length == 0 ? null : String.join(",", socketNames));
    }

    /** The daemon's socket of this name as the process's stdin, inetd style ({@code System.inheritedChannel()}). */
    public ProcessOptions stdinSocket(String socketName) {
        return put("stdin_socket", socketName);
    }

    /** What a full buffer does: {@link Overflow#BLOCK} makes the process wait instead of losing output. */
    public ProcessOptions overflow(Overflow mode) {
        return put("overflow", mode == null ? null : mode.name().toLowerCase(Locale.ROOT));
    }

    /** Adds one environment variable (an empty value is kept as empty). */
    public ProcessOptions env(String name, String value) {
        if (name.isEmpty() || name.indexOf('=') >= 0) {
            throw new IllegalArgumentException("Bad environment variable name \"" + name + "\"");
        }
        env.put(name, value == null ? "" : value);
        return this;
    }

    /** Adds these environment variables. */
    public ProcessOptions env(Map<String, String> variables) {
        variables.forEach(this::env);
        return this;
    }

    /** Sets a resource limit (soft and hard), e.g. {@code rlimit("nofile", 4096)}. */
    public ProcessOptions rlimit(String name, long value) {
        rlimits.put(name.toLowerCase(Locale.ROOT), Long.toString(value));
        return this;
    }

    /** Any other option, sent as {@code key=value}. */
    public ProcessOptions option(String key, String value) {
        return put(key, value);
    }

    private ProcessOptions put(String key, String value) {
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
        env.forEach((k, v) -> w.add(Words.option("env." + k, v)));
        rlimits.forEach((k, v) -> w.add(Words.option("rlimit." + k, v)));
        return w;
    }
}
