package dev.papa.daemon.spawn;

import dev.papa.daemon.protocol.Errors;

import dev.papa.daemon.protocol.CommandError;
import dev.papa.posix.Child;
import dev.papa.posix.PosixException;
import dev.papa.posix.Processes;
import dev.papa.posix.SpawnException;
import dev.papa.posix.SpawnSpec;
import dev.papa.posix.Spawner;

/**
 * One spawn, handed to the worker: the prepared spec and the {@link SpawnSpec} built from it on
 * the loop (nobody touches it after the hand-over), with the socket descriptors it passes owned
 * by {@code sockets}: duplicates, so a socket removed meanwhile cannot close or reuse what the
 * child is handed. The loop closes them once the spawn is done ({@link #close()}).
 */
public record Launch(ProcessSpec spec, SpawnSpec spawn, SpawnSockets sockets) implements AutoCloseable {

    /** clone+exec, on the worker; a failing step becomes the Part 1 error text. */
    public Child start() throws CommandError {
        try {
            return Spawner.spawn(spawn);
        } catch (SpawnException e) {
            switch (e.step()) {
                case EXEC:
                    throw new CommandError("Bad command - " + Errors.python(e, spec.args().get(0)));
                case CHDIR:
                    throw new CommandError("Bad working_dir - " + Errors.python(e, spec.workingDir()));
                case SETUID:
                case SETGID:
                    if (e.notPermitted()) {
                        String as = (spec.uid() != null ? "uid " + spec.uid() + " " : "") + "gid " + spec.gid();
                        throw new CommandError("Could not start " + spec.name() + " - the daemon runs as uid "
                                + Processes.effectiveUid() + " without the privilege to start processes as " + as);
                    }
                    throw new CommandError("Could not start " + spec.name() + " - " + e.getMessage());
                default:
                    throw new CommandError("Could not start " + spec.name() + " - " + e.getMessage());
            }
        } catch (PosixException e) {
            throw new CommandError("Could not start " + spec.name() + " - " + e.getMessage());
        }
    }

    @Override
    public void close() {
        sockets.close();
    }
}
