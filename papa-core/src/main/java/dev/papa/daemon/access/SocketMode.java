package dev.papa.daemon.access;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/** Permission bits of the unix control socket file. */
public final class SocketMode {
    private SocketMode() {}

    /** chmod {@code path} to {@code mode} (the nine permission bits). */
    public static void apply(Path path, int mode) throws IOException {
        Files.setPosixFilePermissions(path, permissions(mode));
    }

    static Set<PosixFilePermission> permissions(int mode) {
        PosixFilePermission[] bits = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ,
        };
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        for (int i = 0; i < bits.length; i++) if ((mode & (1 << i)) != 0) set.add(bits[i]);
        return set;
    }

    /** {@code 600}, {@code 0660}: an octal number of permission bits. */
    public static int parse(String text) {
        if (!text.matches("0?[0-7]{1,3}")) throw new IllegalArgumentException("invalid socket mode \"" + text + "\" (octal, like 0600)");
        return Integer.parseInt(text, 8);
    }
}
