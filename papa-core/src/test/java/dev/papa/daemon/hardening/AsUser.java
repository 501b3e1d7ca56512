package dev.papa.daemon.hardening;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a small python client, optionally as another user (setpriv), and returns what it printed. */
final class AsUser {
    private AsUser() {}

    /**
     * Connects to {@code target} (a port, or an absolute unix socket path; {@code v6:PORT} uses an
     * IPv6 socket to ::ffff:127.0.0.1), answers the greeting with {@code quit}, and prints
     * everything the daemon sent, or {@code <ERROR ...>}.
     */
    static final String CLIENT = String.join("\n",
            "import socket, sys",
            "a = sys.argv[1]",
            "try:",
            "    if a.startswith('/'):",
            "        s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(a)",
            "    elif a.startswith('v6:'):",
            "        s = socket.socket(socket.AF_INET6); s.settimeout(10); s.connect(('::ffff:127.0.0.1', int(a[3:])))",
            "    else:",
            "        s = socket.create_connection(('127.0.0.1', int(a)), timeout=10)",
            "    data = b''",
            "    while True:",
            "        d = s.recv(4096)",
            "        if not d: break",
            "        data += d",
            "        if data.endswith(b'> '): s.sendall(b'quit\\n')",
            "    sys.stdout.write(data.decode())",
            "except Exception as e:",
            "    sys.stdout.write('<ERROR %s>' % e)",
            "");

    static String client(Integer uid, String target) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        if (uid != null) {
            cmd.addAll(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups"));
        }
        cmd.addAll(List.of("/usr/bin/python3", "-c", CLIENT, target));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("client timed out");
        }
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
}
