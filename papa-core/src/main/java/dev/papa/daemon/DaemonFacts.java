package dev.papa.daemon;

import dev.papa.daemon.keeper.KeeperLink;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.WallClock;
import dev.papa.daemon.session.Server;
import dev.papa.daemon.table.HostedProcess;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.daemon.table.SocketTable;
import dev.papa.daemon.table.ValueTable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code list daemon}: one {@code key=value} line per fact (PROTOCOL.md Part 2, "The keeper").
 * Administrators see the whole daemon; anyone else the counts of what they own.
 */
final class DaemonFacts implements Server.Facts {
    private final ValueTable values;
    private final SocketTable sockets;
    private final ProcessTable processes;
    private final KeeperLink keeper;
    private final int upgrades;
    private final long startedMicros;

    /** @param upgrades in-place upgrades this daemon went through (carried in the state) */
    DaemonFacts(ValueTable values, SocketTable sockets, ProcessTable processes, KeeperLink keeper, int upgrades) {
        this.values = values;
        this.sockets = sockets;
        this.processes = processes;
        this.keeper = keeper;
        this.upgrades = upgrades;
        this.startedMicros = ProcessHandle.current().info().startInstant()
                .map(i -> i.getEpochSecond() * 1_000_000 + i.getNano() / 1000).orElse(new WallClock().nowMicros());
    }

    @Override
    public String list(Principal by, int sessions) throws CommandError {
        StringBuilder sb = new StringBuilder();
        line(sb, "version", Version.line());
        List<HostedProcess> mine = List.copyOf(processes.select(by, List.of(), false).values());
        if (by.isAdmin()) {
            if (keeper != null) {
                line(sb, "keeper", keeper.keeperPid());
                line(sb, "started", WallClock.format(keeper.keeperStartedMicros()));
            }
            line(sb, "daemon", ProcessHandle.current().pid());
            line(sb, "daemon_started", WallClock.format(startedMicros));
            line(sb, "restarts", keeper == null ? 0 : keeper.restarts());
            line(sb, "last_restart", keeper == null || keeper.lastDeath() < 0 ? "none" : cause(keeper.lastDeath()));
            line(sb, "upgrades", upgrades);
            line(sb, "sessions", sessions);
        }
        line(sb, "processes", mine.size());
        line(sb, "sockets", sockets.select(by, List.of(), false).size());
        line(sb, "values", values.all().values().stream().filter(by::sees).count());
        long queued = 0, dropped = 0, blocked = 0;
        for (HostedProcess p : mine) {
            queued += p.output().bytes();
            dropped += p.output().droppedBytes();
            if (p.blocked()) blocked++;
        }
        line(sb, "queued", queued);
        if (by.isAdmin()) line(sb, "budget", processes.budget().limit());
        line(sb, "dropped", dropped);
        line(sb, "blocked", blocked);
        if (by.isAdmin()) {
            line(sb, "rss", status("VmRSS:") * 1024);
            line(sb, "threads", status("Threads:"));
            line(sb, "fds", openDescriptors());
            if (keeper != null) line(sb, "keeper_held", keeper.heldCount());
            line(sb, "spawns", processes.spawns());
            line(sb, "spawn_failures", processes.spawnFailures());
        }
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    private static void line(StringBuilder sb, String key, Object value) {
        sb.append(key).append('=').append(value).append('\n');
    }

    /** A wait status as the keeper logs it: {@code signal 9} or {@code exit 3}. */
    static String cause(int waitStatus) {
        int signal = waitStatus & 0x7f;
        return signal != 0 ? "signal " + signal : "exit " + ((waitStatus >> 8) & 0xff);
    }

    /** A number field of /proc/self/status (kB for sizes), -1 when unreadable. */
    private static long status(String field) {
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/status"))) {
            return lines.filter(l -> l.startsWith(field)).map(l -> l.substring(field.length()).trim().split("\\s+")[0])
                    .mapToLong(Long::parseLong).findFirst().orElse(-1);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static long openDescriptors() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count() - 1; // less the one listing them
        } catch (IOException e) {
            return -1;
        }
    }
}
