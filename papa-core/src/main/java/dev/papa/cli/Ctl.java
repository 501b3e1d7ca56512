package dev.papa.cli;

import dev.papa.client.OutputChunk;
import dev.papa.client.Papa;
import dev.papa.client.PapaException;
import dev.papa.client.ProcessExit;
import dev.papa.client.WatchBatch;
import dev.papa.client.WatchItem;
import dev.papa.client.Watcher;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code java -jar papa-core.jar ctl [-p PORT | -u PATH] [-t SECONDS] COMMAND...}: sends one
 * command to the daemon and prints the reply.
 *
 * <p>Each argument is one protocol word and is escaped, so {@code ctl set motd "hello world"}
 * stores {@code hello world}. Abbreviations work as on telnet ({@code ctl l p}).
 *
 * <p>{@code ctl watch [processes] PATTERN...} (and {@code ctl make process ... watch=1 ...}) streams
 * the output as {@code TIMESTAMP NAME out|err: LINE} and each exit as {@code TIMESTAMP NAME exit: STATUS},
 * acknowledging each batch once it is printed, until nothing is left to watch or it is interrupted.
 *
 * <p>{@code ctl exec-with-sockets NAME... -- COMMAND ARGS} takes the named sockets and becomes
 * COMMAND with them at descriptors 3, 4, ... (see {@link ExecWithSockets}).
 *
 * <p>{@code ctl metrics} prints the daemon's figures in Prometheus's text format;
 * {@code ctl metrics --serve HOST:PORT} runs an exporter that asks the daemon at each scrape
 * (see {@link MetricsExporter}).
 *
 * <p>Exit codes: 0 success, 1 the daemon answered {@code Error:}, 2 usage, 3 no daemon / connection lost.
 * Without {@code -p}/{@code -u} the client defaults apply ({@code PAPA_UNIX_SOCKET}, {@code PAPA_PORT}, 20202).
 * {@code ctl} never starts a daemon.
 */
public final class Ctl {
    static final int OK = 0;
    static final int DAEMON_ERROR = 1;
    static final int USAGE = 2;
    static final int NO_CONNECTION = 3;

    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

    private Ctl() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static void usage(PrintStream err) {
        err.println("usage: papa ctl [-p PORT | -u PATH] [-t SECONDS] COMMAND...");
        err.println("       papa ctl watch [processes] PATTERN...");
        err.println("       papa ctl exec-with-sockets NAME... -- COMMAND [ARG...]   (unix control socket)");
        err.println("       papa ctl metrics [--serve HOST:PORT]   (Prometheus text; --serve: an exporter on /metrics)");
        err.println("  e.g. papa ctl list processes     papa ctl set greeting \"hello world\"     papa ctl help");
    }

    /** Runs one command; returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Papa.Builder builder = Papa.builder().autoStart(false);
        int i = 0;
        try {
            for (; i < args.length; i++) {
                String a = args[i];
                if (a.equals("-p") || a.equals("--port")) {
                    builder.port(Integer.parseInt(need(args, ++i, a)));
                } else if (a.startsWith("--port=")) {
                    builder.port(Integer.parseInt(a.substring(7)));
                } else if (a.equals("-u") || a.equals("--unix-socket")) {
                    builder.path(Path.of(need(args, ++i, a)));
                } else if (a.startsWith("--unix-socket=")) {
                    builder.path(Path.of(a.substring(14)));
                } else if (a.equals("-t") || a.equals("--timeout")) {
                    builder.timeout(Duration.ofMillis((long) (Double.parseDouble(need(args, ++i, a)) * 1000)));
                } else if (a.equals("-h") || a.equals("--help")) {
                    usage(out);
                    return OK;
                } else if (a.equals("--")) {
                    i++;
                    break;
                } else {
                    break;
                }
            }
        } catch (IllegalArgumentException e) {
            err.println("papa ctl: " + e.getMessage());
            usage(err);
            return USAGE;
        }
        List<String> words = new ArrayList<>(Arrays.asList(args).subList(i, args.length));
        if (words.isEmpty()) {
            usage(err);
            return USAGE;
        }
        for (String w : words) {
            if (w.isEmpty()) {
                err.println("papa ctl: empty words cannot be sent");
                return USAGE;
            }
        }
        if (words.get(0).equals("metrics")) {
            return metrics(builder, words.subList(1, words.size()), out, err);
        }
        try (Papa papa = builder.connect()) {
            String first = words.get(0).toLowerCase(Locale.ROOT);
            if (first.equals("upgrade")) {
                return upgrade(papa, words.subList(1, words.size()), out, err);
            }
            if (first.equals("exec-with-sockets")) {
                return ExecWithSockets.run(papa, words.subList(1, words.size()), err);
            }
            boolean watch = !first.isEmpty() && "watch".startsWith(first);
            if (watch || isMakeWithWatch(words)) {
                List<String> cmd = words;
                if (watch) {
                    // "ctl watch PATTERN..." is short for "watch processes PATTERN...".
                    cmd = new ArrayList<>();
                    cmd.add("watch");
                    cmd.add("processes");
                    List<String> rest = words.subList(1, words.size());
                    if (!rest.isEmpty() && "processes".startsWith(rest.get(0).toLowerCase(Locale.ROOT))
                            && !rest.get(0).isEmpty()) {
                        rest = rest.subList(1, rest.size());
                    }
                    cmd.addAll(rest);
                }
                return stream(papa.executeWatch(cmd), out, err);
            }
            String reply = papa.execute(words);
            if (!reply.isEmpty()) {
                out.println(reply);
            }
            out.flush();
            return OK;
        } catch (PapaException e) {
            return failed(e, err);
        }
    }

    /** Prints why a command failed; returns its exit code. */
    private static int failed(PapaException e, PrintStream err) {
        if (e.isDaemonError()) {
            err.println("Error: " + e.daemonMessage());
            return DAEMON_ERROR;
        }
        err.println("papa ctl: " + e.getMessage());
        return NO_CONNECTION;
    }

    /**
     * {@code ctl metrics}: prints the Prometheus exposition of the daemon ({@link Metrics});
     * {@code ctl metrics --serve HOST:PORT} serves it on {@code /metrics} ({@link MetricsExporter}).
     */
    private static int metrics(Papa.Builder builder, List<String> args, PrintStream out, PrintStream err) {
        String serve = null;
        if (args.size() == 2 && args.get(0).equals("--serve")) serve = args.get(1);
        else if (args.size() == 1 && args.get(0).startsWith("--serve=")) serve = args.get(0).substring(8);
        else if (!args.isEmpty()) {
            err.println("papa ctl: metrics takes no word but --serve HOST:PORT");
            usage(err);
            return USAGE;
        }
        if (serve != null) return MetricsExporter.serve(builder, serve, out, err);
        try (Papa papa = builder.connect()) {
            out.print(Metrics.scrape(papa));
            out.flush();
            return OK;
        } catch (PapaException e) {
            return failed(e, err);
        }
    }

    /**
     * {@code ctl upgrade [JAR]}: upgrades the daemon to JAR, by default the jar this ctl runs
     * from, on the java this ctl runs on; then waits until the daemon serves again and prints
     * the version it serves with. Exits 0 only if the upgrade took: the daemon serves the version
     * it said it upgrades to and its {@code list daemon} count {@code upgrades=} went up by one
     * (so a new jar that failed after the reply, and the previous version serving on, is a
     * failure: status 1). systemd's ExecReload and the package's postinst rely on it.
     */
    private static int upgrade(Papa papa, List<String> args, PrintStream out, PrintStream err) throws PapaException {
        if (args.size() > 1) throw PapaException.daemonError("ctl upgrade takes at most one jar");
        Path jar = args.isEmpty() ? ownJar() : Path.of(args.get(0)).toAbsolutePath();
        if (jar == null) throw PapaException.daemonError("ctl upgrade needs a jar: this ctl does not run from one");
        Path java = Path.of(dev.papa.client.DaemonLauncher.javaBinary());
        long before = upgrades(papa);
        String to = papa.upgrade(jar, java);
        out.println("Upgrading to " + to);
        out.flush();
        String now = papa.version(); // connects again: waits in the backlog until a daemon serves
        long after = upgrades(papa);
        out.println("Serving: " + now);
        out.flush();
        if (!now.equals(to) || before >= 0 && after != before + 1) {
            err.println("papa ctl: the upgrade did not take: the daemon serves " + now
                    + (before >= 0 ? " after " + after + " upgrades (" + before + " before)" : ""));
            return DAEMON_ERROR;
        }
        return OK;
    }

    /** {@code list daemon}'s {@code upgrades=}, or -1 for a daemon that does not say (older than the keeper). */
    private static long upgrades(Papa papa) throws PapaException {
        try {
            String n = papa.listDaemon().get("upgrades");
            return n == null ? -1 : Long.parseLong(n);
        } catch (NumberFormatException e) {
            return -1;
        } catch (PapaException e) {
            if (e.isDaemonError()) return -1;
            throw e;
        }
    }

    /** The jar this ctl runs from, or null (classes directories). */
    private static Path ownJar() {
        try {
            java.security.CodeSource cs = Ctl.class.getProtectionDomain().getCodeSource();
            Path p = cs == null ? null : Path.of(cs.getLocation().toURI()).toAbsolutePath();
            return p != null && p.toString().endsWith(".jar") && java.nio.file.Files.isRegularFile(p) ? p : null;
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    private static boolean isMakeWithWatch(List<String> words) {
        if (words.size() < 3) {
            return false;
        }
        String a = words.get(0).toLowerCase(Locale.ROOT);
        String b = words.get(1).toLowerCase(Locale.ROOT);
        if (a.isEmpty() || !"make".startsWith(a) || b.isEmpty() || !"process".startsWith(b)) {
            return false;
        }
        for (int k = 3; k < words.size() && words.get(k).indexOf('=') >= 0; k++) {
            if (words.get(k).startsWith("watch=") && !words.get(k).equals("watch=0") && !words.get(k).equals("watch=")) {
                return true;
            }
        }
        return false;
    }

    private static String need(String[] args, int i, String opt) {
        if (i >= args.length) {
            throw new IllegalArgumentException(opt + " needs a value");
        }
        return args[i];
    }

    /** Prints batches as lines, acknowledging each once printed; returns when the watch ends. */
    static int stream(Watcher watcher, PrintStream out, PrintStream err) throws PapaException {
        Map<String, ByteArrayOutputStream> partial = new LinkedHashMap<>();
        try (watcher) {
            if (watcher.process() != null) {
                out.println(watcher.process().name() + " pid=" + watcher.process().pid());
            }
            while (true) {
                Optional<WatchBatch> batch = watcher.read();
                if (batch.isEmpty()) {
                    break;
                }
                for (WatchItem item : batch.get().items()) {
                    if (item instanceof OutputChunk c) {
                        String tag = c.stream() == OutputChunk.Stream.OUT ? "out" : "err";
                        String key = c.name() + " " + tag;
                        ByteArrayOutputStream buf = partial.computeIfAbsent(key, k -> new ByteArrayOutputStream());
                        byte[] d = c.data();
                        int from = 0;
                        for (int k = 0; k < d.length; k++) {
                            if (d[k] == '\n') {
                                buf.write(d, from, k - from);
                                printLine(out, c.timestamp(), key, buf);
                                from = k + 1;
                            }
                        }
                        buf.write(d, from, d.length - from);
                    } else if (item instanceof ProcessExit e) {
                        for (String tag : List.of(" out", " err")) {
                            ByteArrayOutputStream buf = partial.remove(e.name() + tag);
                            if (buf != null && buf.size() > 0) {
                                printLine(out, e.timestamp(), e.name() + tag, buf);
                            }
                        }
                        out.println(TIME.format(e.timestamp()) + " " + e.name() + " exit: " + e.status());
                    }
                }
                out.flush();
                if (out.checkError()) {
                    // Nobody reads what we print: leave the batch for the next watcher.
                    watcher.abandon();
                    return NO_CONNECTION;
                }
                watcher.acknowledge();
            }
            for (Map.Entry<String, ByteArrayOutputStream> e : partial.entrySet()) {
                if (e.getValue().size() > 0) {
                    printLine(out, Instant.now(), e.getKey(), e.getValue());
                }
            }
            out.flush();
            return OK;
        }
    }

    private static void printLine(PrintStream out, Instant ts, String key, ByteArrayOutputStream buf) {
        out.println(TIME.format(ts) + " " + key + ": " + new String(buf.toByteArray(), StandardCharsets.UTF_8));
        buf.reset();
    }

}
