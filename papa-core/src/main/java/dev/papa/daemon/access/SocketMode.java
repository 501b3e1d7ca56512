package dev.papa.daemon.access;

/** Permission bits of the unix control socket file (applied by {@code Daemon} through {@code UnixPath.chmod}). */
public final class SocketMode {
    private SocketMode() {}

    /** {@code 600}, {@code 0660}: an octal number of permission bits. */
    public static int parse(String text) {
        if (!text.matches("0?[0-7]{1,3}")) throw new IllegalArgumentException("invalid socket mode \"" + text + "\" (octal, like 0600)");
        return Integer.parseInt(text, 8);
    }
}
