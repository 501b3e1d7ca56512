package dev.papa.client;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Client auto-start: one daemon start per endpoint at a time in this JVM, however many threads
 * find no daemon at once.
 */
final class AutoStart {
    private static final Map<Endpoint, AutoStart> BY_ENDPOINT = new ConcurrentHashMap<>();
    private static final AtomicInteger STARTS = new AtomicInteger();

    private DaemonLauncher.Launched launched;

    private AutoStart() {
    }

    /** How many daemons this JVM has started (for tests). */
    static int starts() {
        return STARTS.get();
    }

    /** The daemon this JVM started last for the endpoint, or null. */
    static DaemonLauncher.Launched launched(Endpoint endpoint) {
        AutoStart a = BY_ENDPOINT.get(endpoint);
        if (a == null) {
            return null;
        }
        synchronized (a) {
            return a.launched;
        }
    }

    /** What a caller waits for: the daemon this JVM started (or null when another one answered). */
    record Attempt(DaemonLauncher.Launched launched) {
        void checkAlive(Endpoint endpoint) throws PapaException {
            if (launched != null && launched.hasExited()) {
                launched.discardEmptyLog();
                throw new PapaException(PapaException.Kind.START_FAILED,
                        "No papa daemon at " + endpoint + " and the one started for it failed. " + launched.describeExit());
            }
        }

        PapaException timedOut(Endpoint endpoint, Duration timeout, IOException last) {
            String msg = "No papa daemon answered at " + endpoint + " within " + timeout.toMillis() + " ms ("
                    + (last == null ? "" : last.getMessage()) + ")";
            if (launched != null) {
                msg += ". Started pid " + launched.pid() + launched.logTailText();
            }
            return new PapaException(PapaException.Kind.START_FAILED, msg, last);
        }
    }

    static Attempt ensureStarted(Endpoint endpoint) throws PapaException {
        AutoStart a = BY_ENDPOINT.computeIfAbsent(endpoint, e -> new AutoStart());
        synchronized (a) {
            if (a.launched != null && !a.launched.hasExited()) {
                return new Attempt(a.launched);
            }
            if (answers(endpoint)) {
                return new Attempt(null);
            }
            List<String> args = new ArrayList<>(endpoint.daemonArgs());
            Path log = DaemonLauncher.tempLogFile(endpoint.isUnix() ? "unix" : Integer.toString(endpoint.port()));
            args.add("--log-file");
            args.add(log.toString());
            args.add("--launcher");
            args.add(DaemonLauncher.programName());
            List<String> cmd = DaemonLauncher.command(DaemonLauncher.configuredJvmOptions(), args);
            a.launched = DaemonLauncher.spawnDetached(cmd, log);
            STARTS.incrementAndGet();
            return new Attempt(a.launched);
        }
    }

    private static boolean answers(Endpoint endpoint) {
        try {
            Connection.open(endpoint).close();
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
