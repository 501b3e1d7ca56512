package dev.papa.cli;

import dev.papa.client.DaemonLauncher;
import dev.papa.client.Endpoint;
import dev.papa.client.Papa;
import dev.papa.client.PapaException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code java -jar papa-core.jar --daemonize [daemon options]}: starts the daemon detached and
 * returns once it accepts connections.
 *
 * <p>A JVM cannot fork itself, so this starts a second JVM (the same java binary and class path,
 * the same daemon options, plus {@code --launcher NAME}) in a new session with stdin, stdout and
 * stderr on /dev/null, umask 027 and working directory {@code /}; waits until it accepts
 * connections; prints its pid and exits 0. Otherwise it prints why (with the tail of the daemon's
 * log) and exits 1. Without {@code --log-file} the daemon logs to a new temporary file, so that a
 * failure can be explained.
 *
 * <p>With {@code --keeper} the started JVM becomes the keeper in the same pid (KeeperStart), so
 * the pid printed is the keeper's, and the keeper holds a copy of the listener, so the check that
 * this pid listens holds too; the daemon JVM is the keeper's child.
 *
 * <p>NAME is the program that ran this launcher (its parent process), unless {@code --launcher}
 * is given. Relative paths in {@code -u} and {@code --log-file} are made absolute (the daemon
 * runs in {@code /}). The system property {@code papa.daemonize.timeout} (seconds, default 30)
 * bounds the wait.
 */
public final class Daemonize {
    private Daemonize() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the launcher; returns the exit code. {@code args} are the daemon's options without {@code --daemonize}. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        List<String> daemonArgs = new ArrayList<>();
        Endpoint endpoint = Endpoint.tcp(Endpoint.DEFAULT_PORT);
        Path logFile = null;
        boolean launcher = false;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                String opt = a;
                String inline = null;
                int eq = a.indexOf('=');
                if (a.startsWith("--") && eq > 0) {
                    opt = a.substring(0, eq);
                    inline = a.substring(eq + 1);
                }
                switch (opt) {
                    case "--daemonize":
                        break;
                    case "-p":
                    case "--port": {
                        String v = inline != null ? inline : value(args, ++i, opt);
                        if (v.equals("0")) {
                            // the launcher waits for the daemon at its port: it must know it in advance
                            throw new IllegalArgumentException("--daemonize needs a fixed port; -p 0 works in the foreground");
                        }
                        endpoint = Endpoint.tcp(Integer.parseInt(v));
                        daemonArgs.add("-p");
                        daemonArgs.add(v);
                        break;
                    }
                    case "-u":
                    case "--unix-socket": {
                        Path p = Path.of(inline != null ? inline : value(args, ++i, opt)).toAbsolutePath();
                        endpoint = Endpoint.unix(p);
                        daemonArgs.add("-u");
                        daemonArgs.add(p.toString());
                        break;
                    }
                    case "--log-file": {
                        logFile = Path.of(inline != null ? inline : value(args, ++i, opt)).toAbsolutePath();
                        daemonArgs.add("--log-file");
                        daemonArgs.add(logFile.toString());
                        break;
                    }
                    case "--launcher": {
                        launcher = true;
                        daemonArgs.add("--launcher");
                        daemonArgs.add(inline != null ? inline : value(args, ++i, opt));
                        break;
                    }
                    default:
                        daemonArgs.add(a);
                }
            }
        } catch (IllegalArgumentException e) {
            err.println("papa: " + e.getMessage());
            return 2;
        }

        boolean tempLog = false;
        String already = whoAnswers(endpoint);
        if (already != null) {
            err.println("papa: cannot start a daemon at " + endpoint + ": " + already);
            return 1;
        }
        try {
            if (logFile == null) {
                tempLog = true;
                logFile = DaemonLauncher.tempLogFile(endpoint.isUnix() ? "unix" : Integer.toString(endpoint.port()));
                daemonArgs.add("--log-file");
                daemonArgs.add(logFile.toString());
            }
            if (!launcher) {
                daemonArgs.add("--launcher");
                daemonArgs.add(launcherName());
            }
            List<String> command = DaemonLauncher.command(DaemonLauncher.inheritedJvmOptions(), daemonArgs);
            DaemonLauncher.Launched d = DaemonLauncher.spawnDetached(command, logFile);
            long deadline = System.nanoTime() + timeout().toNanos();
            while (true) {
                if (d.hasExited()) {
                    err.println("papa: " + d.describeExit());
                    if (tempLog) {
                        d.discardEmptyLog();
                    }
                    return 1;
                }
                if (accepts(endpoint) && !Boolean.FALSE.equals(DaemonLauncher.listensOn(d.pid(), endpoint))) {
                    out.println(d.pid());
                    out.flush();
                    return 0;
                }
                if (System.nanoTime() - deadline > 0) {
                    ProcessHandle.of(d.pid()).ifPresent(ProcessHandle::destroyForcibly);
                    err.println("papa: the daemon (pid " + d.pid() + ") did not accept connections at " + endpoint
                            + " within " + timeout().toSeconds() + " s and was killed" + tailText(logFile));
                    return 1;
                }
                Thread.sleep(100);
            }
        } catch (PapaException e) {
            err.println("papa: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("papa: interrupted");
            return 1;
        }
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) {
            throw new IllegalArgumentException(opt + " needs a value");
        }
        return args[i];
    }

    private static Duration timeout() {
        try {
            return Duration.ofMillis((long) (Double.parseDouble(System.getProperty("papa.daemonize.timeout", "30")) * 1000));
        } catch (NumberFormatException e) {
            return Duration.ofSeconds(30);
        }
    }

    private static String tailText(Path log) {
        String t = DaemonLauncher.tail(log, 15);
        return t.isEmpty() ? "" : ". Last lines of its log " + log + ":\n" + t;
    }

    /** What answers at the endpoint now: null when nothing does. */
    private static String whoAnswers(Endpoint endpoint) {
        try {
            Papa.builder().endpoint(endpoint).autoStart(false).timeout(Duration.ofSeconds(2)).connect().close();
            return "a papa daemon is already running there";
        } catch (PapaException e) {
            if (e.kind() == PapaException.Kind.CONNECTION && e.getMessage() != null
                    && e.getMessage().startsWith("No papa daemon")) {
                return null;
            }
            return "something else answers there (" + e.getMessage() + ")";
        }
    }

    private static boolean accepts(Endpoint endpoint) {
        try {
            Papa.builder().endpoint(endpoint).autoStart(false).timeout(Duration.ofSeconds(2)).connect().close();
            return true;
        } catch (PapaException e) {
            return false;
        }
    }

    /** The name of the program that ran this launcher: the parent process's name. */
    static String launcherName() {
        try {
            long ppid = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
            if (ppid > 0) {
                String comm = new String(Files.readAllBytes(Path.of("/proc", Long.toString(ppid), "comm")),
                        StandardCharsets.UTF_8).trim();
                if (!comm.isEmpty()) {
                    return comm;
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return DaemonLauncher.programName();
    }

}
