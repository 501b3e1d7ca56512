package dev.papa.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * {@code --port-file PATH}: the port the daemon listens on (one line, {@code PORT\n}), for
 * whoever started it with {@code -p 0}. Written to a new file beside PATH and renamed over it,
 * so a reader never sees half a number and a symlink at PATH is replaced, not followed.
 */
final class PortFile {
    private PortFile() {}

    static void write(Path path, int port) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, ".papa-port-", ".tmp"); // O_EXCL, mode 0600
        try {
            Files.writeString(tmp, port + "\n", StandardCharsets.US_ASCII);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--")); // a port is no secret
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** Removes the file at exit, unless another daemon has written its own port there since. */
    static void remove(Path path, int port) {
        try {
            if (Files.readString(path, StandardCharsets.US_ASCII).equals(port + "\n")) Files.delete(path);
        } catch (IOException | RuntimeException e) {
            java.util.logging.Logger.getLogger(PortFile.class.getName()).fine(() -> "port file " + path + ": " + e);
        }
    }
}
