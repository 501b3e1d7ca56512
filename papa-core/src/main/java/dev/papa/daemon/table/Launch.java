package dev.papa.daemon.table;

import dev.papa.daemon.protocol.CommandError;
import dev.papa.posix.Child;
import dev.papa.posix.Fd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Rlimit;
import dev.papa.posix.SpawnException;
import dev.papa.posix.SpawnSpec;
import dev.papa.posix.Spawner;

import java.util.List;
import java.util.Map;

/**
 * One spawn, handed to the worker: the prepared spec, the arguments after socket substitution,
 * and the socket descriptors the child gets. {@code passed} maps the number the child sees
 * (the socket's number in the daemon, as {@code $(socket.NAME.fileno)} said) to a duplicate the
 * launch owns, so a socket removed meanwhile cannot close or reuse what the child is handed.
 * The loop closes {@code owned} once the spawn is done ({@link #close()}).
 */
record Launch(ProcessSpec spec, List<String> argv, Map<Integer, Fd> passed, List<Fd> owned) implements AutoCloseable {

    /** clone+exec, on the worker; a failing step becomes the Part 1 error text. */
    Child spawn() throws CommandError {
        SpawnSpec s = new SpawnSpec(argv);
        s.env(spec.env());
        if (spec.workingDir() != null) s.workingDir(spec.workingDir());
        if (spec.groups() != null) s.groups(spec.groups());
        if (spec.gid() != null) s.gid(spec.gid());
        if (spec.uid() != null) s.uid(spec.uid());
        for (Map.Entry<Rlimit, Long> r : spec.rlimits().entrySet()) s.rlimit(r.getKey(), r.getValue());
        s.stdout(spec.stdout() == 1 ? SpawnSpec.Output.PIPE : SpawnSpec.Output.NULL);
        s.stderr(spec.stderr().equals("1") ? SpawnSpec.Output.PIPE
                : spec.stderr().equals("stdout") ? SpawnSpec.Output.STDOUT : SpawnSpec.Output.NULL);
        for (Map.Entry<Integer, Fd> p : passed.entrySet()) s.passFd(p.getValue().get(), p.getKey());
        try {
            return Spawner.spawn(s);
        } catch (SpawnException e) {
            switch (e.step()) {
                case EXEC:
                    throw new CommandError("Bad command - " + Errors.python(e, spec.args().get(0)));
                case CHDIR:
                    throw new CommandError("Bad working_dir - " + Errors.python(e, spec.workingDir()));
                default:
                    throw new CommandError("Could not start " + spec.name() + " - " + e.getMessage());
            }
        } catch (PosixException e) {
            throw new CommandError("Could not start " + spec.name() + " - " + e.getMessage());
        }
    }

    @Override
    public void close() {
        for (Fd fd : owned) fd.close();
    }
}
