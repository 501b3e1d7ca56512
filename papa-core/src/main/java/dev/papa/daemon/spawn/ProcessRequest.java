package dev.papa.daemon.spawn;

import dev.papa.daemon.table.Overflow;

import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.principal.ProcessIdentity;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.posix.Rlimit;

import java.util.List;
import java.util.Map;

/**
 * A {@code make process} request as parsed on the loop, with {@code uid=}/{@code gid=} still as
 * the client wrote them (null: not given). Immutable (the principal too); {@link #prepare()}
 * turns it into the {@link ProcessSpec}, on the worker when that needs the user database.
 */
public record ProcessRequest(Principal by, String name, List<String> args, Map<String, String> env, Map<Rlimit, Long> rlimits,
                      String workingDir, String uidText, String gidText, int stdout, String stderr, long bufsize,
                      Activation activation, Overflow overflow, boolean shell) {

    /** Whether {@link #prepare()} consults the user database (else it is quick, and runs on the loop). */
    public boolean needsLookup() {
        return uidText != null || gidText != null || !by.isAdmin();
    }

    /** Every user-database lookup of the process happens here, in {@link ProcessIdentity#resolve}. */
    public ProcessSpec prepare() throws CommandError {
        ProcessIdentity id = ProcessIdentity.resolve(by, uidText, gidText);
        return new ProcessSpec(name, args, env, rlimits, workingDir, id.uid(), id.gid(), id.groups(), stdout, stderr, bufsize, activation, overflow, shell);
    }
}
