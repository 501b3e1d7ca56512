package dev.papa.daemon.hardening;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/** Private mount namespaces for a test's helper or daemon (unshare -m): the host's mounts stay as they are. */
public final class MountNamespace {
    private MountNamespace() {}

    /** Whether one can be made here: root, and a container that allows them. */
    public static boolean available() throws IOException, InterruptedException {
        if (!"root".equals(System.getProperty("user.name"))) return false;
        Process p = new ProcessBuilder("unshare", "-m", "--propagation", "private", "--", "true").inheritIO().start();
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    }
}
