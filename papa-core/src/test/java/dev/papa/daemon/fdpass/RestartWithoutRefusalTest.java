package dev.papa.daemon.fdpass;

import static org.junit.jupiter.api.Assertions.*;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The point of descriptor passing: a server that papa did not start (docs/examples/take_socket_server.py,
 * the Python example of docs/CLIENT.md) takes papa's socket, serves, is killed and started
 * again 20 times while a client connects in a loop, and no connection is ever refused.
 */
class RestartWithoutRefusalTest {
    static final Path SERVER = Path.of("../docs/examples/take_socket_server.py").toAbsolutePath().normalize();

    @TempDir Path tmp;

    @Test
    void aServerRestarted20TimesOnATakenSocketNeverRefusesAConnection() throws Exception {
        Path control = tmp.resolve("papa.sock");
        try (Daemon daemon = Daemon.start(new DaemonConfig().unixSocket(control).singleSession(false));
             FdClient c = FdClient.connect(control)) {
            String line = c.ok("make socket web backlog=128");
            int port = Integer.parseInt(line.replaceAll(".* port=(\\d+).*", "$1"));
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger refused = new AtomicInteger(), served = new AtomicInteger(), dropped = new AtomicInteger();
            Set<String> answers = ConcurrentHashMap.newKeySet();
            Thread client = new Thread(() -> {
                while (!stop.get()) {
                    try (Socket s = new Socket()) {
                        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
                        s.setSoTimeout(30_000);
                        String answer = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                        if (answer == null) {
                            dropped.incrementAndGet(); // accepted by a server that was killed before it answered
                        } else {
                            answers.add(answer);
                            served.incrementAndGet();
                        }
                    } catch (ConnectException e) {
                        refused.incrementAndGet();
                    } catch (SocketTimeoutException | SocketException e) {
                        dropped.incrementAndGet();
                    } catch (java.io.IOException e) {
                        dropped.incrementAndGet();
                    }
                }
            }, "connect-loop");
            client.start();
            for (int round = 0; round < 20; round++) {
                Process server = startServer(control);
                try {
                    String hello = "hello from " + server.pid();
                    long deadline = System.currentTimeMillis() + 20_000;
                    while (!answers.contains(hello)) {
                        assertTrue(System.currentTimeMillis() < deadline, "round " + round + ": no answer from " + server.pid());
                        Thread.sleep(5);
                    }
                } finally {
                    server.destroyForcibly().waitFor(); // SIGKILL: no goodbye, the socket stays with papa
                }
            }
            stop.set(true);
            Process last = startServer(control); // serves whatever waits in the backlog, so the loop ends
            try {
                client.join(30_000);
            } finally {
                last.destroyForcibly().waitFor();
            }
            assertFalse(client.isAlive());
            assertEquals(0, refused.get(), "refused connections (served " + served + ", dropped " + dropped + ")");
            assertTrue(answers.size() >= 20, "answers from 20 servers: " + answers);
            System.out.println("restart test: served " + served + ", dropped by a killed server " + dropped + ", refused 0");
        }
    }

    /** docs/CLIENT.md shows the server this test runs, byte for byte. */
    @Test
    void clientDocShowsThePythonExampleThatRuns() throws Exception {
        String doc = java.nio.file.Files.readString(Path.of("../docs/CLIENT.md"));
        assertTrue(doc.contains("```python\n" + java.nio.file.Files.readString(SERVER) + "```"),
                "docs/CLIENT.md must show " + SERVER);
    }

    private static Process startServer(Path control) throws Exception {
        Process p = new ProcessBuilder(DescriptorPassingTest.python(), SERVER.toString(), control.toString(), "web")
                .redirectErrorStream(true).start();
        String first = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
        assertNotNull(first, "the server printed nothing");
        assertTrue(first.startsWith("serving on web family=inet"), first);
        return p;
    }
}
