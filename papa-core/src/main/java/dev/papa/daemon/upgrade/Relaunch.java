package dev.papa.daemon.upgrade;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How to run a daemon image: the java binary, the JVM options of this launch (the launcher's
 * flags, -D settings), and the jar, or the class path when not run from a jar.
 *
 * @param jar       the jar to run with {@code -jar}, or null for {@code -cp classpath dev.papa.Main}
 */
public record Relaunch(String java, List<String> jvmOptions, String jar, String classpath) {
    static final String MAIN_CLASS = "dev.papa.Main";

    private static volatile Relaunch current;

    /**
     * How this JVM was started: read once, at start-up ({@link dev.papa.daemon.Preload}). Reading
     * it needs the management library, which loads a shared object: with no descriptor left,
     * the first read failed and left the class unusable until a restart (issue 21, item 7).
     */
    public static Relaunch current() {
        Relaunch r = current;
        if (r == null) current = r = read();
        return r;
    }

    private static Relaunch read() {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> options = new ArrayList<>();
        for (String o : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // A debugger or agent of this image would collide with itself in the next one.
            if (o.startsWith("-agentlib") || o.startsWith("-agentpath") || o.startsWith("-javaagent")
                    || o.startsWith("-Xrunjdwp") || o.equals("-Xdebug")) continue;
            options.add(o);
        }
        return new Relaunch(java, List.copyOf(options), runningJar(), System.getProperty("java.class.path"));
    }

    /** The jar this code was loaded from, or null (classes directories). */
    public static String runningJar() {
        try {
            var cs = Relaunch.class.getProtectionDomain().getCodeSource();
            if (cs == null) return null;
            Path p = Path.of(cs.getLocation().toURI()).toAbsolutePath();
            return Files.isRegularFile(p) && p.toString().endsWith(".jar") ? p.toString() : null;
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    public Relaunch withJar(String newJar) {
        return new Relaunch(java, jvmOptions, newJar, classpath);
    }

    public Relaunch withJava(String newJava) {
        return new Relaunch(newJava, jvmOptions, jar, classpath);
    }

    /** What this launch is called in messages: the jar, or the class path. */
    public String target() {
        return jar != null ? jar : classpath.split(File.pathSeparator)[0];
    }

    /** {@code java OPTIONS (-jar JAR | -cp CP dev.papa.Main) ARGS...}. */
    public List<String> command(List<String> args) {
        List<String> c = new ArrayList<>();
        c.add(java);
        c.addAll(jvmOptions);
        if (jar != null) {
            c.add("-jar");
            c.add(jar);
        } else {
            c.add("-cp");
            c.add(classpath);
            c.add(MAIN_CLASS);
        }
        c.addAll(args);
        return c;
    }
}
