package dev.papa.daemon.hardening;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A python client run as another user (setpriv) that opens {@code count} TCP sessions one after
 * the other and keeps those that were greeted open until its stdin closes (the handshake: no
 * sleeping on either side). It prints one line: {@code opened N refused M FIRST-REFUSAL}.
 */
final class ManySessions implements AutoCloseable {
    private static final String CLIENT = String.join("\n",
            "import socket, sys",
            "port, count = int(sys.argv[1]), int(sys.argv[2])",
            "kept, refused, first = [], 0, ''",
            "for i in range(count):",
            "    s = socket.create_connection(('127.0.0.1', port), timeout=20)",
            "    data = b''",
            "    while not data.endswith(b'> '):",
            "        d = s.recv(4096)",
            "        if not d: break",
            "        data += d",
            "    if data.endswith(b'> '):",
            "        kept.append(s)",
            "    else:",
            "        refused += 1",
            "        first = first or data.decode().strip()",
            "        s.close()",
            "print('opened %d refused %d %s' % (len(kept), refused, first), flush=True)",
            "sys.stdin.readline()",
            "");

    private final Process process;
    final String summary;

    private ManySessions(Process process, String summary) {
        this.process = process;
        this.summary = summary;
    }

    /** Opens the sessions as {@code uid} and returns once they are open (or refused). */
    static ManySessions open(int uid, int port, int count) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
                "/usr/bin/python3", "-c", CLIENT, Integer.toString(port), Integer.toString(count)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
        return new ManySessions(p, line);
    }

    /** Closes every session it kept, and waits for it to exit. */
    @Override
    public void close() throws Exception {
        process.getOutputStream().close();
        if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly();
    }
}
