package dev.papa.daemon.state;

import dev.papa.daemon.spawn.ProcessSpec;

import dev.papa.daemon.principal.ProcessIdentity;
import dev.papa.daemon.spawn.ProcessSpec;
import dev.papa.posix.Sockets;

import java.util.List;
import java.util.Map;

/**
 * What an upgrade carries, one record per kind of state entry. Every component is written and
 * read by name ({@link RecordCodec}), so a component added here is carried; a field added to
 * a table's class must be added here, or to that record's {@code NOT_CARRIED} with the reason
 * (StateCoverageTest fails on a field that is in neither). Descriptors are numbers, -1 for none:
 * they stay open across the exec.
 */
public final class Carried {
    private Carried() {}

    /**
     * The image that wrote the state.
     *
     * @param version     its {@code version} line
     * @param command     its command line, to execute again if the new image cannot restore
     * @param descriptors every descriptor the state refers to (kept open across the exec)
     * @param generation  the keeper's states are numbered: of two it holds, the higher is the newer
     *                    (0 in an upgrade's state)
     */
    public record Header(String version, List<String> command, List<Integer> descriptors, Daemonwide daemon,
                         long writtenMicros, long generation) {}

    /**
     * What the daemon holds besides its tables.
     *
     * @param listenerFd  the control listener, never closed
     * @param listenerDev the unix control socket's file (device, inode; 0 for TCP): unlinked at exit only while it is this one
     * @param childOpenFilesSoft the open-files soft limit the first image started with (its
     *                    children's), before the daemon raised its own; -1 for none
     * @param upgrades    in-place upgrades the daemon went through before this state ({@code list daemon})
     */
    public record Daemonwide(int listenerFd, long listenerDev, long listenerIno, long childOpenFilesSoft, int upgrades) {}

    /**
     * A journal's tombstone (entry kinds {@code value-gone}, {@code socket-gone},
     * {@code process-gone}, state format 1.1): the entry of this name left its table.
     */
    public record Gone(String name) {}

    /** A value and the uid of the principal that owns it. */
    public record ValueEntry(String name, String value, int owner) {}

    /** A {@link dev.papa.daemon.table.HostedSocket}. */
    public record SocketEntry(String name, int owner, Sockets.Family family, Sockets.Type type, int backlog, String path,
                              Integer umask, String host, String address, int port, String iface, boolean reusePort,
                              boolean adopted, int fd, String pathKey, long fileDev, long fileIno, ProcessIdentity fileOwner) {
        /** HostedSocket fields that are not components here, and why. */
        static final Map<String, String> NOT_CARRIED = Map.of(
                "reusePortText", "reuseport's value as sent, for the line; after an upgrade it shows 1, what clients send");
    }

    /**
     * A {@link dev.papa.daemon.table.HostedProcess}; its {@code items} queued items follow it
     * as {@link ItemEntry} entries, oldest first.
     *
     * @param pipeGraceMillis what was left of the pipe grace after its exit, -1 for none
     * @param graceDue        that grace ran out while it was blocked (overflow=block)
     * @param headSeq         the sequence number of its oldest queued item
     * @param sentEnd         every item below this number was sent to a watcher
     * @param dropped         chunk bytes evicted before a watcher was sent them ({@code dropped=})
     */
    public record ProcessEntry(ProcessSpec spec, int owner, int pid, long startedMicros, int pidfd, int stdout, int stderr,
                               boolean running, int exitStatus, boolean removed, long pipeGraceMillis, boolean graceDue,
                               long headSeq, long sentEnd, long dropped, int items) {
        /** HostedProcess fields that are not components here, and why. */
        static final Map<String, String> NOT_CARRIED = Map.of(
                "nameBytes", "derived from spec.name",
                "output", "its items follow as ItemEntry entries; its numbering is headSeq",
                "pipeDeadline", "carried as pipeGraceMillis",
                "watchers", "sessions are closed by an upgrade; unacknowledged items stay queued",
                "gone", "a process that left the table is not in the state",
                "blocked", "found again: the first read of a full overflow=block queue blocks it");
    }

    /** One queued output item with its original capture time; {@code chunk} is null for the closed item. */
    public record ItemEntry(int kind, long timeMicros, byte[] chunk) {
        /** OutputBuffer fields that are not carried item by item, and why. */
        static final Map<String, String> QUEUE_FIELDS = Map.ofEntries(
                Map.entry("capacity", "spec.bufsize"),
                Map.entry("budget", "the new image's own budget; the items are charged to it again"),
                Map.entry("budgetIndex", "the queue's place in the new budget"),
                Map.entry("cost", "the sum of the chunks' costs"),
                Map.entry("kinds", "ItemEntry.kind"), Map.entry("times", "ItemEntry.timeMicros"),
                Map.entry("chunks", "ItemEntry.chunk"),
                Map.entry("head", "ring position: the items are restored in order"),
                Map.entry("size", "ProcessEntry.items"), Map.entry("headSeq", "ProcessEntry.headSeq"),
                Map.entry("bytes", "the sum of the chunks"), Map.entry("exitStatus", "ProcessEntry.exitStatus"),
                Map.entry("closed", "a closed item (kind CLOSED) among the items"),
                Map.entry("sentEnd", "ProcessEntry.sentEnd"), Map.entry("dropped", "ProcessEntry.dropped"),
                Map.entry("pauses", "spec.overflow"),
                Map.entry("owner", "ProcessEntry.owner: the queue counts against its process's owner's share of the budget"));
    }
}
