package dev.papa.cli;

import dev.papa.client.Papa;
import dev.papa.client.PapaException;
import dev.papa.client.TakenSocket;
import dev.papa.posix.PosixException;
import dev.papa.posix.Spawner;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code ctl exec-with-sockets NAME... -- COMMAND ARGS}: takes the named sockets from the daemon
 * and becomes COMMAND with them at descriptors 3, 4, ... and LISTEN_FDS, LISTEN_FDNAMES and
 * LISTEN_PID set, as systemd-socket-activate does, so any socket-activation-aware server runs
 * by hand on papa's sockets.
 *
 * <p>Why an execve in place (the native {@link Spawner#execInPlace}) rather than spawning
 * COMMAND as a child: LISTEN_PID must be COMMAND's own pid and COMMAND should be what the
 * caller started (its signals, its exit status, its place in a shell's job), with no JVM left
 * waiting in between. execve keeps the pid, so LISTEN_PID is simply this process's pid. The
 * native code moves the sockets to 3... and marks every other descriptor close-on-exec, so the
 * JVM's own files do not leak into COMMAND; 0-2 stay the terminal's.
 */
final class ExecWithSockets {
    private ExecWithSockets() {
    }

    /** Returns an exit code only on failure: on success this process is COMMAND. */
    static int run(Papa papa, List<String> args, PrintStream err) throws PapaException {
        int dash = args.indexOf("--");
        if (dash < 1 || dash == args.size() - 1) {
            err.println("usage: papa ctl exec-with-sockets NAME... -- COMMAND [ARG...]");
            return Ctl.USAGE;
        }
        List<String> names = args.subList(0, dash);
        List<String> command = args.subList(dash + 1, args.size());
        for (String n : names) {
            if (n.endsWith("*")) {
                err.println("papa ctl: exec-with-sockets takes socket names, not patterns: " + n);
                return Ctl.USAGE;
            }
        }
        List<TakenSocket> taken = papa.takeSockets(names.toArray(new String[0]));
        try {
            // the daemon answers in sorted order; COMMAND gets them in the order asked
            Map<String, TakenSocket> byName = new LinkedHashMap<>();
            for (TakenSocket t : taken) byName.put(t.name(), t);
            int[] fds = new int[names.size()];
            for (int i = 0; i < fds.length; i++) {
                TakenSocket t = byName.get(names.get(i));
                if (t == null) {
                    err.println("papa ctl: socket " + names.get(i) + " not found");
                    return Ctl.DAEMON_ERROR;
                }
                fds[i] = t.fd();
            }
            Map<String, String> env = new LinkedHashMap<>(System.getenv());
            env.put("LISTEN_FDS", Integer.toString(fds.length));
            env.put("LISTEN_FDNAMES", String.join(":", names));
            env.put("LISTEN_PID", Long.toString(ProcessHandle.current().pid()));
            err.flush();
            System.out.flush();
            Spawner.execInPlace(new ArrayList<>(command), env, fds);
            throw new AssertionError("execInPlace returned");
        } catch (PosixException e) {
            err.println("papa ctl: cannot execute " + command.get(0) + ": " + e.reason());
            return 127;
        } finally {
            for (TakenSocket t : taken) t.close();
        }
    }
}
