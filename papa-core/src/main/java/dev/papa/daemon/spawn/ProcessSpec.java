package dev.papa.daemon.spawn;

import dev.papa.daemon.table.Overflow;

import dev.papa.posix.Rlimit;

import java.util.List;
import java.util.Map;

/**
 * Everything {@code make process} was asked for. Two requests are the same process when their
 * specs are equal (then the existing process is returned).
 *
 * @param args      the executable and its arguments as given, before socket substitution
 * @param stdout    1 capture, 0 discard
 * @param stderr    "1" capture, "0" discard, "stdout" merge
 * @param groups    supplementary groups to set, or null to inherit
 * @param activation the sockets it receives by socket activation ({@link Activation#NONE} for none)
 * @param overflow  what a full queue does
 * @param shell     {@code shell=1}: run {@code /bin/sh -c ARGS...} (as the reference's Popen(shell=True))
 */
public record ProcessSpec(String name, List<String> args, Map<String, String> env, Map<Rlimit, Long> rlimits,
                          String workingDir, Integer uid, Integer gid, int[] groups, int stdout, String stderr,
                          long bufsize, Activation activation, Overflow overflow, boolean shell) {

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ProcessSpec)) return false;
        ProcessSpec s = (ProcessSpec) o;
        return name.equals(s.name) && args.equals(s.args) && env.equals(s.env) && rlimits.equals(s.rlimits)
                && java.util.Objects.equals(workingDir, s.workingDir) && java.util.Objects.equals(uid, s.uid)
                && java.util.Objects.equals(gid, s.gid) && stdout == s.stdout && stderr.equals(s.stderr)
                && bufsize == s.bufsize && activation.equals(s.activation) && overflow == s.overflow && shell == s.shell;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + args.hashCode();
    }
}
