package dev.papa.daemon.upgrade;

import dev.papa.daemon.Version;
import dev.papa.daemon.keeper.KeeperLink;
import dev.papa.daemon.keeper.KeeperUpgrade;
import dev.papa.daemon.loop.EventLoop;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Words;
import dev.papa.daemon.session.Server;
import dev.papa.daemon.session.Session;
import dev.papa.daemon.state.Snapshot;
import dev.papa.daemon.work.Worker;
import dev.papa.posix.Exec;
import dev.papa.posix.Fd;
import dev.papa.posix.Memfd;
import dev.papa.posix.PosixException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code upgrade [java=PATH] [JAR]}: checks that JAR reads this daemon's state (a child runs
 * it with {@code --check-state}), then closes the sessions, writes the state to a sealed memfd
 * and re-executes the daemon on JAR in the same pid, with {@code --restore-state FD}. All of it
 * on the loop thread, which therefore holds still while the state is written. One at a time.
 * Under the keeper the new JVM starts beside this one instead, and this one serves until it is
 * ready ({@link KeeperUpgrade}); the check, the sessions' end and the state are the same.
 */
public final class Upgrader implements Server.Upgrades {
    private static final Logger LOG = Logger.getLogger(Upgrader.class.getName());
    public static final String CHECK_STATE = "--check-state";
    public static final String RESTORE_STATE = "--restore-state";
    /** Given to the previous image when the new one could not restore: no second fallback. */
    public static final String RESTORE_FALLBACK = "--restore-fallback";

    private final EventLoop loop;
    private final Worker work;
    private final Server server;
    private final Snapshot snapshot;
    private final List<String> daemonArgs;
    /** The keeper's link, or null: the upgrade is then in place. */
    private final KeeperLink keeper;
    private boolean inProgress;
    /** How often to look whether the worker's jobs in flight have been answered. */
    private static final long QUIET_POLL_MILLIS = 2;

    /** @param daemonArgs the daemon's command-line options, given again to the new image */
    public Upgrader(EventLoop loop, Worker work, Server server, Snapshot snapshot, List<String> daemonArgs, KeeperLink keeper) {
        this.keeper = keeper;
        this.loop = loop;
        this.work = work;
        this.server = server;
        this.snapshot = snapshot;
        this.daemonArgs = List.copyOf(daemonArgs);
    }

    @Override
    public void request(List<String> args, Session session) throws CommandError {
        Map<String, String> options = Words.takeOptions(args);
        Relaunch current = Relaunch.current();
        Relaunch target = current;
        String java = options.remove("java");
        if (!options.isEmpty()) throw new CommandError("Unknown upgrade option \"" + options.keySet().iterator().next() + '"');
        if (args.size() > 1) throw new CommandError("upgrade takes one jar");
        String jar = args.isEmpty() ? current.jar() : args.get(0);
        if (jar == null) {
            if (java == null && current.classpath() == null) throw new CommandError("upgrade needs a jar: this daemon does not run from one");
        } else {
            checkFile(jar, "jar", false);
            target = target.withJar(jar);
        }
        if (java != null) {
            checkFile(java, "java", true);
            target = target.withJava(java);
        }
        if (inProgress) throw new CommandError("an upgrade is already in progress");
        String name = target.target();
        Relaunch chosen = target;
        List<String> checkCommand = new ArrayList<>(target.command(daemonArgs));
        checkCommand.add(CHECK_STATE);
        checkCommand.add(Integer.toString(PreCheck.STATE_FD));
        Fd copy;
        try {
            copy = writeState(current);
        } catch (IOException e) {
            throw new CommandError("cannot upgrade to " + name + " - " + e.getMessage());
        }
        inProgress = true;
        PreCheck.start(loop, work, checkCommand, copy, new PreCheck.Outcome() {
            @Override
            public void passed(String version) {
                if (keeper == null) upgrade(session, current, chosen, version);
                else beside(session, current, chosen, version);
            }

            @Override
            public void failed(String reason) {
                inProgress = false;
                LOG.warning(() -> "Upgrade to " + name + " refused: " + reason);
                session.upgradeRefused("cannot upgrade to " + name + " - " + reason);
            }
        });
        LOG.info(() -> "Upgrade to " + name + " requested; checking that it reads the state");
    }

    private static void checkFile(String path, String what, boolean executable) throws CommandError {
        if (!path.startsWith("/")) throw new CommandError("cannot upgrade to " + path + " - the " + what + " path must be absolute");
        Path p = Path.of(path);
        if (!Files.isRegularFile(p)) throw new CommandError("cannot upgrade to " + path + " - no such file");
        if (executable ? !Files.isExecutable(p) : !Files.isReadable(p)) {
            throw new CommandError("cannot upgrade to " + path + " - permission denied");
        }
    }

    /** The state, in a sealed memfd; the header names {@code current} as the image to fall back to. */
    private Fd writeState(Relaunch current) throws IOException {
        Fd memfd = Memfd.create("papa-state");
        try {
            List<Integer> keep = new ArrayList<>(snapshot.descriptors());
            keep.add(memfd.get());
            try (OutputStream out = Memfd.output(memfd.get())) {
                snapshot.write(out, Version.line(), current.command(daemonArgs), keep);
            }
            Memfd.seal(memfd.get());
            return memfd;
        } catch (IOException | RuntimeException e) {
            memfd.close();
            throw e;
        }
    }

    private void upgrade(Session session, Relaunch current, Relaunch target, String version) {
        long started = System.nanoTime();
        session.upgrading("Upgrading to " + version);
        server.closeSessionsForUpgrade();
        whenQuiet(() -> reexec(current, target, version, started));
    }

    /**
     * Under the keeper: the new JVM starts beside this one, which serves on until it is ready;
     * then, as in place, the sessions end and the state is written, and this JVM waits while
     * the new one takes over ({@link KeeperUpgrade#handOver}), serving again only if it fails.
     */
    private void beside(Session session, Relaunch current, Relaunch target, String version) {
        String name = target.target();
        KeeperUpgrade.Handover handover = new KeeperUpgrade.Handover() {
            @Override
            public void handOver() {
                long started = System.nanoTime();
                session.upgrading("Upgrading to " + version);
                server.closeSessionsForUpgrade();
                whenQuiet(() -> handOverNow(current, target, version, started));
            }

            @Override
            public void failed(String why) {
                inProgress = false;
                LOG.warning(() -> "Upgrade to " + name + " failed: " + why);
                session.upgradeRefused("cannot upgrade to " + name + " - " + why);
            }
        };
        try {
            KeeperUpgrade.request(keeper, target.command(daemonArgs), handover);
            LOG.info(() -> "Upgrade to " + version + " (" + name + "): the new daemon starts beside this one");
        } catch (IOException e) {
            handover.failed(e.getMessage());
        }
    }

    private void handOverNow(Relaunch current, Relaunch target, String version, long started) {
        String failure;
        Fd state = null;
        try {
            state = keeper.handOverState();
            String how = state != null ? "queued output added to the held state" : "state written";
            if (state == null) state = writeState(current);
            long written = (System.nanoTime() - started) / 1_000_000;
            // said once the next JVM is taking over: a log write is not where the port waits
            failure = KeeperUpgrade.handOver(keeper, state, () -> LOG.warning(() -> "Upgrading to " + version + " ("
                    + target.target() + "); " + how + " in " + written + " ms; handed over to the new daemon"));
        } catch (IOException | RuntimeException e) {
            failure = e.toString();
            KeeperUpgrade.cancel(keeper); // the keeper waits for a hand-over that will not come
        }
        if (state != null) state.close();
        String why = failure;
        LOG.severe(() -> "Upgrade to " + target.target() + " failed (" + why + "); serving on");
        serveAgain();
    }

    /** The upgrade failed after the sessions were closed: accept connections again. */
    private void serveAgain() {
        inProgress = false;
        try {
            server.resumeAfterFailedUpgrade();
        } catch (PosixException e) {
            LOG.log(Level.SEVERE, "cannot serve again after a failed upgrade", e);
        }
    }

    /** Runs {@code then} once nothing is in flight on the worker (a spawn must land in the table first). */
    private void whenQuiet(Runnable then) {
        if (work.spawnsIdle()) then.run();
        else loop.schedule(QUIET_POLL_MILLIS, () -> whenQuiet(then));
    }

    private void reexec(Relaunch current, Relaunch target, String version, long started) {
        Fd state = null;
        try {
            state = writeState(current);
            List<Integer> keep = new ArrayList<>(snapshot.descriptors());
            keep.add(state.get());
            List<String> argv = new ArrayList<>(target.command(daemonArgs));
            argv.add(RESTORE_STATE);
            argv.add(Integer.toString(state.get()));
            long written = (System.nanoTime() - started) / 1_000_000;
            LOG.warning(() -> "Upgrading to " + version + " (" + target.target() + "); state written in " + written + " ms");
            Exec.reexec(argv, keep.stream().mapToInt(Integer::intValue).toArray());
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.SEVERE, "Upgrade to " + target.target() + " failed; serving on", e);
        }
        if (state != null) state.close();
        serveAgain();
    }

    /**
     * The new image could not restore: hand the state back to the image that wrote it (its
     * command is in the state). Returns only if that exec fails.
     */
    public static void fallBack(List<String> previousCommand, List<Integer> descriptors, int stateFd) throws PosixException {
        List<String> argv = new ArrayList<>(previousCommand);
        argv.add(RESTORE_STATE);
        argv.add(Integer.toString(stateFd));
        argv.add(RESTORE_FALLBACK);
        Exec.reexec(argv, descriptors.stream().mapToInt(Integer::intValue).toArray());
    }
}
