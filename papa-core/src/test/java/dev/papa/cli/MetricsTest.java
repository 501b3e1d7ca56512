package dev.papa.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.client.Overflow;
import dev.papa.client.Papa;
import dev.papa.client.ProcessInfo;
import dev.papa.client.ProcessOptions;
import dev.papa.daemon.hardening.DaemonJvm;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * {@code ctl metrics} and {@code ctl metrics --serve} (issue 24 item 2), for real: a daemon in its
 * own JVM hosting processes that write (one with output queued, one that overflowed with
 * {@code overflow=drop}, one blocked with {@code overflow=block}, one exited, one as another
 * user, one whose name needs escaping), the exporter in another JVM, scraped over HTTP; the
 * exposition is checked with {@code promtool check metrics} (Debian's prometheus package) and its
 * values against {@code list daemon} and {@code list processes}.
 */
@Timeout(180)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MetricsTest {
    /** A process name with a double quote and a backslash: escaped in its label. */
    static final String ODD = "q\"\\x";

    Path dir;
    Path sock;
    DaemonJvm daemon;
    Process exporter;
    Path exporterLog;
    URI metrics;
    final List<Long> pids = new ArrayList<>();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    void start() throws Exception {
        dir = Files.createTempDirectory("papa-metrics-");
        sock = dir.resolve("papa.sock");
        daemon = DaemonJvm.startUnix(List.of(), sock);
        try (Papa papa = connect()) {
            ProcessOptions sh = new ProcessOptions().env("PATH", "/usr/bin:/bin");
            track(papa.makeProcess("writer", sh, "sh", "-c", "head -c 3000 /dev/zero; exec sleep 600"));
            track(papa.makeProcess("dropper", new ProcessOptions().env("PATH", "/usr/bin:/bin").bufsize(1024)
                    .overflow(Overflow.DROP), "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do printf '%0500d' 0; sleep 0.05; done; exec sleep 600"));
            track(papa.makeProcess("blocker", new ProcessOptions().env("PATH", "/usr/bin:/bin").bufsize(1024)
                    .overflow(Overflow.BLOCK), "sh", "-c", "head -c 100000 /dev/zero; exec sleep 600"));
            track(papa.makeProcess("exited", sh, "sh", "-c", "echo bye"));
            track(papa.makeProcess("nobody", new ProcessOptions().uid(65534), "/bin/sleep", "600"));
            track(papa.makeProcess(ODD, sh, "sleep", "600"));
            papa.set("v", "1");
            papa.makeSocket("web");
            awaitSettled(papa);
        }
        exporterLog = dir.resolve("exporter.log");
        exporter = new ProcessBuilder(javaCommand("-u", sock.toString(), "metrics", "--serve", "127.0.0.1:0"))
                .redirectError(exporterLog.toFile()).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(exporter.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        assertNotNull(line, () -> "the exporter said nothing: " + log());
        assertTrue(line.matches("Serving papa metrics on http://127\\.0\\.0\\.1:\\d+/metrics"), line);
        metrics = URI.create(line.substring(line.indexOf("http://")));
    }

    @AfterAll
    void stop() throws Exception {
        if (exporter != null) {
            exporter.destroyForcibly();
            exporter.waitFor(10, TimeUnit.SECONDS);
        }
        for (long pid : pids) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        if (daemon != null) daemon.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    Papa connect() throws Exception {
        return Papa.builder().path(sock).autoStart(false).timeout(Duration.ofSeconds(20)).connect();
    }

    void track(ProcessInfo p) {
        pids.add((long) p.pid());
    }

    String log() {
        try {
            return Files.readString(exporterLog);
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** {@code java ... dev.papa.Main ctl ARGS...} on the test's class path. */
    static List<String> javaCommand(String... ctlArgs) {
        String cp = System.getProperty("surefire.test.class.path");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", cp != null && !cp.isEmpty() ? cp : System.getProperty("java.class.path"), "dev.papa.Main", "ctl"));
        cmd.addAll(List.of(ctlArgs));
        return cmd;
    }

    /** Until the writers are done: blocker blocked, exited exited, and two looks at the daemon agree. */
    static void awaitSettled(Papa papa) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Map<String, ProcessInfo> last = null;
        Map<String, String> lastFacts = null;
        while (System.nanoTime() < deadline) {
            Map<String, ProcessInfo> now = papa.listProcesses();
            Map<String, String> facts = papa.listDaemon();
            if (now.get("blocker").blocked() && !now.get("exited").running() && now.equals(last)
                    && facts.get("queued").equals(lastFacts.get("queued")) && now.get("dropper").dropped() > 0) {
                return;
            }
            last = now;
            lastFacts = facts;
            Thread.sleep(500);
        }
        throw new AssertionError("the processes did not settle: " + last + " " + lastFacts);
    }

    HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(metrics.resolve(path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** {@code name{labels}} → value, of every sample line. */
    static Map<String, String> samples(String exposition) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : exposition.split("\n")) {
            if (line.startsWith("#") || line.isEmpty()) continue;
            int sp = line.lastIndexOf(' ');
            assertTrue(m.put(line.substring(0, sp), line.substring(sp + 1)) == null, "one sample per series: " + line);
        }
        return m;
    }

    static String series(String metric, String process, String uid) {
        return metric + "{process=\"" + process + "\",uid=\"" + uid + "\"}";
    }

    @Test
    @Order(1)
    void scrapeMatchesWhatTheDaemonReports() throws Exception {
        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("Content-Type").orElse(""));
        Map<String, String> s = samples(r.body());
        try (Papa papa = connect()) {
            Map<String, String> facts = papa.listDaemon();
            Map<String, ProcessInfo> procs = papa.listProcesses();
            for (String[] kv : new String[][] {{"processes", "papa_processes"}, {"sockets", "papa_sockets"},
                    {"values", "papa_values"}, {"queued", "papa_queued_bytes"}, {"budget", "papa_output_budget_bytes"},
                    {"dropped", "papa_dropped_bytes"}, {"blocked", "papa_blocked_processes"},
                    {"restarts", "papa_daemon_restarts_total"}, {"upgrades", "papa_daemon_upgrades_total"},
                    {"daemon", "papa_daemon_pid"}, {"daemon_started", "papa_daemon_start_time_seconds"}}) {
                assertEquals(facts.get(kv[0]), s.get(kv[1]), kv[1] + " is list daemon's " + kv[0] + "=");
            }
            assertEquals("6", s.get("papa_processes"));
            assertEquals("1", s.get("papa_blocked_processes"));
            assertTrue(Long.parseLong(s.get("papa_queued_bytes")) >= 3000 + 1024, s.get("papa_queued_bytes"));
            assertEquals(Long.toString(daemon.pid()), s.get("papa_daemon_pid"));
            assertEquals("1", s.get("papa_info{version=\"" + facts.get("version") + "\"}"));
            assertEquals("1", s.get("papa_daemon_last_restart_info{cause=\"none\"}"));
            assertTrue(Long.parseLong(s.get("papa_sessions")) >= 1, "the exporter's own session");
            assertTrue(Long.parseLong(s.get("papa_daemon_resident_memory_bytes")) > 1 << 20);
            assertTrue(Long.parseLong(s.get("papa_daemon_threads")) > 1);
            assertTrue(Long.parseLong(s.get("papa_daemon_open_fds")) > 3);

            long droppedSum = 0;
            for (ProcessInfo p : procs.values()) {
                String uid = p.uid() == null ? "" : p.uid().toString();
                String name = p.name().equals(ODD) ? "q\\\"\\\\x" : p.name();
                assertEquals(p.running() ? "1" : "0", s.get(series("papa_process_running", name, uid)), p.name());
                assertEquals(p.blocked() ? "1" : "0", s.get(series("papa_process_blocked", name, uid)), p.name());
                assertEquals(p.attributes().get("started"), s.get(series("papa_process_start_time_seconds", name, uid)));
                assertEquals(Integer.toString(p.pid()), s.get(series("papa_process_pid", name, uid)));
                String dropped = s.get(series("papa_process_dropped_bytes_total", name, uid));
                assertEquals(p.dropped() == null ? null : p.dropped().toString(), dropped, p.name());
                if (dropped != null) droppedSum += Long.parseLong(dropped);
            }
            assertEquals("1", s.get(series("papa_process_blocked", "blocker", "")));
            assertEquals("0", s.get(series("papa_process_running", "exited", "")));
            assertEquals("1", s.get(series("papa_process_running", "nobody", "65534")));
            assertTrue(Long.parseLong(s.get(series("papa_process_dropped_bytes_total", "dropper", ""))) >= 4000 - 1024,
                    "forced overflow: " + s);
            assertEquals(Long.parseLong(facts.get("dropped")), droppedSum, "only dropper dropped");
        }
    }

    @Test
    @Order(2)
    void passesPromtool() throws Exception {
        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.body().contains("papa_process_running{process=\"q\\\"\\\\x\""), r.body());
        Path promtool = onPath("promtool");
        Assumptions.assumeTrue(promtool != null,
                "promtool is absent: apt-get install prometheus (Debian's package; .ci/run installs it)");
        // promtool finds fault where there is some (an empty input, though, passes: hence the checks above)
        assertEquals(3, promtool(promtool, "# HELP x a\n# TYPE x counter\nx 1\n").exitValue, "a counter without _total");
        assertEquals(1, promtool(promtool, "x{a=\"\\q\"} 1\n").exitValue, "a bad escape");
        Checked checked = promtool(promtool, r.body());
        assertEquals(0, checked.exitValue, "promtool check metrics: " + checked.said + "\n" + r.body());
        assertEquals("", checked.said.strip(), "no lint remark");
    }

    /** The first executable NAME on PATH, or null. */
    static Path onPath(String name) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(d.isEmpty() ? "." : d, name);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    record Checked(int exitValue, String said) { }

    /** {@code promtool check metrics < EXPOSITION}. */
    static Checked promtool(Path promtool, String exposition) throws Exception {
        Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            in.write(exposition.getBytes(StandardCharsets.UTF_8));
        }
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool ended");
        return new Checked(p.exitValue(), said);
    }

    @Test
    @Order(3)
    void oneShotPrintsTheSameFamilies() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Ctl.run(new String[] {"-u", sock.toString(), "metrics"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        String printed = out.toString(StandardCharsets.UTF_8);
        assertEquals(samples(get("/metrics").body()).keySet(), samples(printed).keySet());
        assertEquals(2, CtlTest.raw("-u", sock.toString(), "metrics", "bogus").code());
        assertEquals(2, CtlTest.raw("-u", sock.toString(), "metrics", "--serve", "nohostport").code());
    }

    @Test
    @Order(4)
    void onlyMetricsOnlyGetOnlyItsAddress() throws Exception {
        for (String path : List.of("/", "/metric", "/metrics/x", "/favicon.ico")) {
            assertEquals(404, get(path).statusCode(), path);
        }
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(metrics).POST(HttpRequest.BodyPublishers.ofString("x"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
        HttpResponse<String> head = http.send(HttpRequest.newBuilder(metrics).method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, head.statusCode());
        assertEquals("", head.body());
        // bound to 127.0.0.1 only: another loopback address of the same port is refused
        try (Socket s = new Socket()) {
            assertThrows(ConnectException.class, () -> s.connect(new InetSocketAddress("127.0.0.2", metrics.getPort()), 5000));
        }
    }

    @Test
    @Order(5)
    void aDaemonThatIsDownIs503ThenFoundAgain() throws Exception {
        daemon.close();
        HttpResponse<String> down = get("/metrics");
        assertEquals(503, down.statusCode(), down.body());
        assertTrue(down.body().startsWith("papa is not answering: ") && down.body().indexOf('\n') == down.body().length() - 1,
                down.body());
        assertTrue(exporter.isAlive(), "the exporter goes on");
        daemon = DaemonJvm.startUnix(List.of(), sock); // a new daemon at the same address: the next scrape finds it
        HttpResponse<String> back = get("/metrics");
        assertEquals(200, back.statusCode(), back.body());
        assertEquals("0", samples(back.body()).get("papa_processes"));
        assertEquals(Long.toString(daemon.pid()), samples(back.body()).get("papa_daemon_pid"));
        assertTrue(log().contains("papa is not answering") && log().contains("papa answers again"), log());
    }

    @Test
    @Order(6)
    void noDaemonIsExitCode3() {
        CtlTest.Out r = CtlTest.raw("-u", dir.resolve("none.sock").toString(), "metrics");
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().startsWith("papa ctl: "), r.err());
        assertEquals("", r.out());
    }

    @Test
    @Order(7)
    void labelValuesAreEscapedAndUnreadableFiguresLeftOut() throws Exception {
        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("version", "papa \"x\" \\ y\nz");
        facts.put("rss", "-1024"); // the daemon could not read it: left out, never a negative size
        facts.put("future_key", "7");
        facts.put("future_text", "not a number");
        String text = Metrics.render(facts, List.of(ProcessInfo.parse("a\\b\"c pid=12 running=True started=1.500000 uid=3 args=x")));
        assertTrue(text.contains("papa_info{version=\"papa \\\"x\\\" \\\\ y\\nz\"} 1\n"), text);
        assertTrue(text.contains("papa_process_running{process=\"a\\\\b\\\"c\",uid=\"3\"} 1\n"), text);
        assertTrue(text.contains("# TYPE papa_daemon_future_key untyped\npapa_daemon_future_key 7\n"), text);
        assertTrue(!text.contains("resident") && !text.contains("future_text") && !text.contains("dropped_bytes_total"), text);
    }
}
