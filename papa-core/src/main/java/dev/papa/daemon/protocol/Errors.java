package dev.papa.daemon.protocol;

import dev.papa.posix.PosixException;

/** Error texts in the reference's words, so clients that show them see what they always saw. */
public final class Errors {
    private Errors() {}

    /** {@code [Errno 98] Address already in use}, as Python prints an OSError. */
    public static String python(PosixException e) {
        return "[Errno " + e.errno() + "] " + e.reason();
    }

    public static String python(PosixException e, String file) {
        return python(e) + ": '" + file + "'";
    }
}
