package dev.papa.daemon;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Loads every class of the daemon and of papa-native at start. A class first needed on an
 * error path (an exception type, an error formatter) is otherwise loaded exactly when things
 * go wrong; when they go wrong because the daemon is out of descriptors, the class file cannot
 * be opened, the JVM throws NoClassDefFoundError, and it caches that failure for good. Loaded
 * up front, those paths keep working when descriptors run out and after they come back.
 */
public final class Preload {
    private static final Logger LOG = Logger.getLogger(Preload.class.getName());

    private Preload() {}

    private static int loaded = -1;

    /** Loads the classes of packages {@code dev.papa.daemon} and {@code dev.papa.posix} (and below); once. */
    public static synchronized int daemonClasses() {
        if (loaded >= 0) return loaded;
        loaded = loadAll();
        return loaded;
    }

    private static int loadAll() {
        dev.papa.daemon.upgrade.Relaunch.current(); // reads the JVM's options through a library loaded now, not at the upgrade
        int n = 0;
        n += classesNear(dev.papa.daemon.Daemon.class, "dev/papa/daemon/", false);
        n += classesNear(dev.papa.posix.Fd.class, "dev/papa/posix/", false);
        return n;
    }

    /**
     * Initializes the daemon's classes under these package paths (relative to dev/papa/):
     * an upgrade's standby does it before it serves, so that the first connections after the
     * take-over do not wait for class initialization and verification. Returns how many.
     */
    public static int initialize(String... packages) {
        int n = 0;
        for (String p : packages) n += classesNear(dev.papa.daemon.Daemon.class, "dev/papa/" + p, true);
        return n;
    }

    private static int classesNear(Class<?> anchor, String prefix, boolean initialize) {
        List<String> names = new ArrayList<>();
        try {
            CodeSource cs = anchor.getProtectionDomain().getCodeSource();
            if (cs == null) return 0;
            Path where = Path.of(cs.getLocation().toURI());
            if (Files.isDirectory(where)) {
                Path dir = where.resolve(prefix);
                try (Stream<Path> s = Files.walk(dir)) {
                    s.filter(p -> p.toString().endsWith(".class"))
                            .forEach(p -> names.add(where.relativize(p).toString()));
                }
            } else {
                try (JarFile jar = new JarFile(where.toFile())) {
                    for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
                        String name = e.nextElement().getName();
                        if (name.startsWith(prefix) && name.endsWith(".class")) names.add(name);
                    }
                }
            }
        } catch (IOException | URISyntaxException | RuntimeException e) {
            LOG.log(Level.FINE, "cannot list the classes of " + anchor.getName(), e);
            return 0;
        }
        int n = 0;
        ClassLoader loader = anchor.getClassLoader();
        for (String file : names) {
            String cls = file.substring(0, file.length() - ".class".length()).replace('/', '.').replace('\\', '.');
            if (cls.endsWith("module-info") || cls.endsWith("package-info")) continue;
            try {
                Class.forName(cls, initialize, loader);
                n++;
            } catch (Throwable t) { // LinkageError: an optional class; never stop the start for it
                LOG.log(Level.FINE, "cannot preload " + cls, t);
            }
        }
        return n;
    }
}
