package dev.papa.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads where a daemon run with {@code -p 0} listens from its {@code papa: listening on ...}
 * line (the daemon's stderr, captured in a file), so that no test picks a "free" port that
 * another process can take before the daemon binds it.
 */
public final class ListeningLine {
    private static final Pattern TCP = Pattern.compile("(?m)^papa: listening on 127\\.0\\.0\\.1:(\\d+)$");
    private static final Pattern ANY = Pattern.compile("(?m)^papa: listening on (\\S+)$");

    private ListeningLine() {}

    /** The TCP port the daemon reported; fails if it exits or says nothing within the timeout. */
    public static int port(Process daemon, Path stderr, Duration timeout) throws IOException, InterruptedException {
        return Integer.parseInt(await(daemon, stderr, timeout, TCP));
    }

    /** Where the daemon listens ({@code 127.0.0.1:PORT} or a unix socket path). */
    public static String where(Process daemon, Path stderr, Duration timeout) throws IOException, InterruptedException {
        return await(daemon, stderr, timeout, ANY);
    }

    private static String await(Process daemon, Path stderr, Duration timeout, Pattern line)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String text = Files.exists(stderr) ? Files.readString(stderr) : "";
            Matcher m = line.matcher(text);
            if (m.find()) return m.group(1);
            if (!daemon.isAlive()) {
                throw new IllegalStateException("daemon exited with " + daemon.exitValue() + " before listening: " + text);
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no \"papa: listening on\" line within " + timeout + ": " + text);
            }
            Thread.sleep(20); // polling the file the daemon writes; the condition is the line itself
        }
    }
}
