package dev.papa.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.papa.client.Papa;
import dev.papa.client.SocketOptions;
import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ctl exec-with-sockets}: a real JVM running the CLI becomes the command, same pid, sockets at 3, 4. */
class ExecWithSocketsTest {
    /** Prints what a socket-activated server sees, then waits for its stdin to close. */
    static final String PROBE = String.join("\n",
            "import os, socket, sys",
            "e = os.environ",
            "print(os.getpid(), e['LISTEN_PID'], e['LISTEN_FDS'], e['LISTEN_FDNAMES'])",
            "web, api = socket.socket(fileno=3), socket.socket(fileno=4)  # kept: a collected socket closes its fd",
            "print(web.getsockname()[1], api.getsockname())",
            "print('ready', flush=True)",
            "sys.stdin.read()");

    @TempDir Path tmp;
    Daemon daemon;
    Path control;
    final List<Process> started = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        control = tmp.resolve("papa.sock");
        daemon = Daemon.start(new DaemonConfig().unixSocket(control).singleSession(false));
    }

    @AfterEach
    void stop() {
        for (Process p : started) p.destroyForcibly();
        daemon.close();
    }

    Process ctl(String... args) throws Exception {
        String cp = System.getProperty("surefire.test.class.path");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", cp != null && !cp.isEmpty() ? cp : System.getProperty("java.class.path"),
                "dev.papa.Main", "ctl", "-u", control.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(tmp.resolve("stderr").toFile()).start();
        started.add(p);
        return p;
    }

    @Test
    void theCommandReplacesTheCliWithTheSocketsAt3And4() throws Exception {
        int port;
        Path api = tmp.resolve("api.sock");
        try (Papa papa = Papa.builder().path(control).autoStart(false).connect()) {
            port = papa.makeSocket("web").port();
            papa.makeSocket("api", new SocketOptions().path(api.toString()));
        }
        String python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
        // asked in the order web, api (the daemon's reply is sorted: api, web)
        Process p = ctl("exec-with-sockets", "web", "api", "--", python, "-c", PROBE);
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String ids = out.readLine();
        if (ids == null) fail("no output; stderr: " + stderr());
        String[] f = ids.split(" ");
        assertEquals(Long.toString(p.pid()), f[0], "exec in place: the same pid as the CLI");
        assertEquals(f[0], f[1], "LISTEN_PID is the command's own pid");
        assertEquals("2", f[2]);
        assertEquals("web:api", f[3]);
        assertEquals(port + " " + api, out.readLine());
        assertEquals("ready", out.readLine());
        TreeSet<Integer> fds = new TreeSet<>();
        try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(p.pid()), "fd"))) {
            s.forEach(x -> fds.add(Integer.parseInt(x.getFileName().toString())));
        }
        assertEquals(new TreeSet<>(List.of(0, 1, 2, 3, 4)), fds, "exactly stdio and the two sockets; nothing of the JVM");
        p.getOutputStream().close();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
    }

    @Test
    void errorsComeBeforeAnythingChanges() throws Exception {
        Process p = ctl("exec-with-sockets", "nope", "--", "/bin/true");
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue());
        assertEquals("Error: nope not found", stderr().strip());

        try (Papa papa = Papa.builder().path(control).autoStart(false).connect()) {
            papa.makeSocket("web");
        }
        p = ctl("exec-with-sockets", "web", "--", "/no/such/program");
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(127, p.exitValue());
        assertEquals("papa ctl: cannot execute /no/such/program: No such file or directory", stderr().strip());

        p = ctl("exec-with-sockets", "web");
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), "usage");
    }

    String stderr() throws Exception {
        return Files.readString(tmp.resolve("stderr"));
    }
}
