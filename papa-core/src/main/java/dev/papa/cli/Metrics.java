package dev.papa.cli;

import dev.papa.client.Papa;
import dev.papa.client.PapaException;
import dev.papa.client.ProcessInfo;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The Prometheus text exposition (format 0.0.4) of one look at the daemon: {@code list daemon}
 * and {@code list processes}, taken on one connection. What {@code ctl metrics} prints and
 * {@code ctl metrics --serve} answers on {@code /metrics} (docs/CLIENT.md, "Metrics").
 *
 * <p>Every daemon fact becomes one metric family; a fact the daemon does not report (a user other
 * than an administrator sees only its own counts; {@code keeper=} is absent with
 * {@code --no-keeper}) is left out, and a key the daemon adds later is exported as
 * {@code papa_daemon_KEY} (untyped) when its value is a number. Each process gives samples
 * labelled {@code process} and {@code uid} ({@code uid=} of its line; empty when it runs as the
 * daemon's own user, which the line does not name).
 */
final class Metrics {
    /** The media type of format 0.0.4. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private static final Pattern NUMBER = Pattern.compile("-?[0-9]+(\\.[0-9]+)?");

    private enum Type { GAUGE, COUNTER, UNTYPED }

    /** How a {@code list daemon} key is exported. */
    private record Fact(String key, String metric, Type type, String help) { }

    private static final List<Fact> FACTS = List.of(
            new Fact("keeper", "papa_keeper_pid", Type.GAUGE, "Process id of the keeper (absent with --no-keeper)."),
            new Fact("started", "papa_keeper_start_time_seconds", Type.GAUGE, "When the keeper started, in seconds since the epoch."),
            new Fact("daemon", "papa_daemon_pid", Type.GAUGE, "Process id of the daemon JVM."),
            new Fact("daemon_started", "papa_daemon_start_time_seconds", Type.GAUGE, "When the daemon JVM started, in seconds since the epoch."),
            new Fact("restarts", "papa_daemon_restarts_total", Type.COUNTER, "Deaths of the daemon JVM that the keeper restarted from."),
            new Fact("upgrades", "papa_daemon_upgrades_total", Type.COUNTER, "Upgrades this daemon went through (in place, fallbacks, or take-overs under the keeper)."),
            new Fact("sessions", "papa_sessions", Type.GAUGE, "Client sessions open (this exporter's included)."),
            new Fact("processes", "papa_processes", Type.GAUGE, "Processes in the table."),
            new Fact("sockets", "papa_sockets", Type.GAUGE, "Sockets held."),
            new Fact("values", "papa_values", Type.GAUGE, "Named values held."),
            new Fact("queued", "papa_queued_bytes", Type.GAUGE, "Bytes of output queued, not yet acknowledged by a watcher."),
            new Fact("budget", "papa_output_budget_bytes", Type.GAUGE, "The bound on all queued output (--output-budget)."),
            // summed over the processes in the table: it falls when one leaves, so it is no counter
            new Fact("dropped", "papa_dropped_bytes", Type.GAUGE, "Bytes of output evicted before a watcher had them, summed over the processes in the table (falls when a process leaves it)."),
            new Fact("blocked", "papa_blocked_processes", Type.GAUGE, "overflow=block processes waiting for a watcher."),
            new Fact("rss", "papa_daemon_resident_memory_bytes", Type.GAUGE, "Resident memory of the daemon JVM."),
            new Fact("threads", "papa_daemon_threads", Type.GAUGE, "Threads of the daemon JVM."),
            new Fact("fds", "papa_daemon_open_fds", Type.GAUGE, "Descriptors the daemon JVM has open."),
            new Fact("keeper_held", "papa_keeper_held_fds", Type.GAUGE, "Descriptors registered with the keeper."),
            new Fact("spawns", "papa_spawns_total", Type.COUNTER, "Processes the daemon JVM spawned since it started."),
            new Fact("spawn_failures", "papa_spawn_failures_total", Type.COUNTER, "Spawns that failed (exec, chdir, setuid, ...) since the daemon JVM started."));

    private Metrics() {
    }

    /** Asks the daemon, on this session, and renders what it said. */
    static String scrape(Papa papa) throws PapaException {
        Map<String, String> facts = papa.listDaemon();
        return render(facts, papa.listProcesses().values());
    }

    /** The exposition of these facts ({@code list daemon}) and processes ({@code list processes}). */
    static String render(Map<String, String> facts, Collection<ProcessInfo> processes) {
        StringBuilder sb = new StringBuilder(1024 + processes.size() * 400);
        Map<String, String> rest = new LinkedHashMap<>(facts);
        String version = rest.remove("version");
        if (version != null) {
            family(sb, "papa_info", Type.GAUGE, "The daemon's version line (the version command).");
            sb.append("papa_info{version=\"").append(label(version)).append("\"} 1\n");
        }
        String cause = rest.remove("last_restart");
        if (cause != null) {
            family(sb, "papa_daemon_last_restart_info", Type.GAUGE, "Cause of the daemon JVM's last restart (signal N, exit N, or none).");
            sb.append("papa_daemon_last_restart_info{cause=\"").append(label(cause)).append("\"} 1\n");
        }
        for (Fact f : FACTS) {
            String v = rest.remove(f.key);
            // -1 is how the daemon says it could not read a figure of its own (/proc)
            if (v != null && NUMBER.matcher(v).matches() && !v.startsWith("-")) {
                family(sb, f.metric, f.type, f.help);
                sb.append(f.metric).append(' ').append(v).append('\n');
            }
        }
        for (Map.Entry<String, String> e : rest.entrySet()) {
            String name = "papa_daemon_" + e.getKey().replaceAll("[^a-zA-Z0-9_]", "_");
            if (NUMBER.matcher(e.getValue()).matches()) {
                family(sb, name, Type.UNTYPED, "list daemon's " + e.getKey() + "=.");
                sb.append(name).append(' ').append(e.getValue()).append('\n');
            }
        }
        processes(sb, processes);
        return sb.toString();
    }

    private static void processes(StringBuilder sb, Collection<ProcessInfo> processes) {
        List<String> running = new ArrayList<>(), blocked = new ArrayList<>(), dropped = new ArrayList<>(),
                started = new ArrayList<>(), pid = new ArrayList<>();
        for (ProcessInfo p : processes) {
            String labels = "{process=\"" + label(p.name()) + "\",uid=\"" + (p.uid() == null ? "" : p.uid()) + "\"} ";
            running.add(labels + (p.running() ? 1 : 0));
            blocked.add(labels + (p.blocked() ? 1 : 0));
            if (p.dropped() != null) dropped.add(labels + p.dropped());
            started.add(labels + p.attributes().get("started"));
            pid.add(labels + p.pid());
        }
        samples(sb, "papa_process_running", Type.GAUGE, "1 until the process has exited.", running);
        samples(sb, "papa_process_blocked", Type.GAUGE, "1 while an overflow=block process waits for a watcher to acknowledge output.", blocked);
        samples(sb, "papa_process_dropped_bytes_total", Type.COUNTER, "Bytes of the process's output evicted before a watcher had them (processes made with overflow=).", dropped);
        samples(sb, "papa_process_start_time_seconds", Type.GAUGE, "When the process was started, in seconds since the epoch.", started);
        samples(sb, "papa_process_pid", Type.GAUGE, "Process id of the process.", pid);
    }

    /** A family with one sample per line of {@code labelledValues} ({@code {...} VALUE}); none is left out. */
    private static void samples(StringBuilder sb, String metric, Type type, String help, List<String> labelledValues) {
        if (labelledValues.isEmpty()) return;
        family(sb, metric, type, help);
        for (String s : labelledValues) sb.append(metric).append(s).append('\n');
    }

    private static void family(StringBuilder sb, String metric, Type type, String help) {
        sb.append("# HELP ").append(metric).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
        sb.append("# TYPE ").append(metric).append(' ').append(type.name().toLowerCase(java.util.Locale.ROOT)).append('\n');
    }

    /** A label value as the format escapes it: backslash, double quote and line feed. */
    static String label(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
