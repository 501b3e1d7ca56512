package dev.papa.daemon.hardening;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** What /proc says about a process: descriptors, threads, RSS, children, zombies. */
final class ProcStats {
    private ProcStats() {}

    static int fdCount(long pid) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return (int) s.count();
        }
    }

    static long status(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
            }
        }
        throw new IOException(field + " not in /proc/" + pid + "/status");
    }

    static long threads(long pid) throws IOException {
        return status(pid, "Threads");
    }

    static long rssKb(long pid) throws IOException {
        return status(pid, "VmRSS");
    }

    /**
     * Bytes of live Java objects, in KiB: the total of {@code jcmd PID GC.class_histogram}, which
     * runs a full GC first. What a leak in the daemon's tables would show as. (GC.heap_info's
     * "used" is not it: it drifts with the collector's own sizing.)
     */
    static long heapUsedAfterGcKb(long pid) throws IOException, InterruptedException {
        return liveHeapAfterGc(pid).get("") / 1024;
    }

    /** The live heap after a full GC: instances per class, and the total bytes under the key "". */
    static java.util.Map<String, Long> liveHeapAfterGc(long pid) throws IOException, InterruptedException {
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        String histogram = run(jcmd, Long.toString(pid), "GC.class_histogram"); // forces a full GC first
        java.util.Map<String, Long> live = new java.util.HashMap<>();
        java.util.regex.Matcher row = java.util.regex.Pattern.compile("(?m)^\\s*\\d+:\\s+(\\d+)\\s+\\d+\\s+(\\S+)").matcher(histogram);
        while (row.find()) live.merge(row.group(2), Long.parseLong(row.group(1)), Long::sum);
        java.util.regex.Matcher total = java.util.regex.Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)").matcher(histogram);
        if (!total.find() || live.isEmpty()) throw new IOException("cannot read the heap histogram: " + histogram);
        live.put("", Long.parseLong(total.group(1)));
        if (Boolean.getBoolean("papa.hardening.histogram")) System.out.println(histogram.substring(0, Math.min(histogram.length(), 900)));
        return live;
    }

    private static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + ": " + out);
        return out;
    }

    /** Pids of the direct children of {@code pid} in state Z. */
    static List<Long> zombieChildren(long pid) throws IOException {
        List<Long> out = new ArrayList<>();
        for (long child : children(pid)) {
            try {
                String stat = Files.readString(Path.of("/proc", Long.toString(child), "stat"));
                char state = stat.charAt(stat.lastIndexOf(')') + 2);
                if (state == 'Z') out.add(child);
            } catch (IOException gone) {
                // exited and reaped meanwhile
            }
        }
        return out;
    }

    /** Direct children, from /proc/PID/task/*&#47;children. */
    static List<Long> children(long pid) throws IOException {
        List<Long> out = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    String s = Files.readString(t.resolve("children")).trim();
                    if (!s.isEmpty()) for (String c : s.split("\\s+")) out.add(Long.parseLong(c));
                } catch (IOException gone) {
                    // thread ended
                }
            }
        }
        return out;
    }
}
