package dev.papa.daemon;

import dev.papa.daemon.state.StateFormat;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** What {@code version} answers: {@code papa VERSION build BUILD state MAJOR.MINOR}. */
public final class Version {
    private static final String LINE = load();

    private Version() {}

    public static String line() {
        return LINE;
    }

    private static String load() {
        Properties p = new Properties();
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            // an unnamed build
        }
        return "papa " + p.getProperty("version", "unknown") + " build " + p.getProperty("build", "unknown")
                + " state " + StateFormat.version();
    }
}
