package dev.papa.daemon.hardening;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Kernel queue lengths and state of a loopback TCP connection, from /proc/net/tcp{,6}. */
final class TcpQueues {
    private TcpQueues() {}

    /**
     * For the connection between 127.0.0.1:clientPort and 127.0.0.1:serverPort:
     * {client tx_queue, server rx_queue, server tx_queue, client rx_queue}.
     */
    static long[] of(int clientPort, int serverPort) throws IOException {
        long[] client = find(clientPort, serverPort);
        long[] server = find(serverPort, clientPort);
        return new long[] {client[0], server[1], server[0], client[1]};
    }

    /** {tx_queue, rx_queue} of the socket with this local and remote port (a Java socket may be IPv4-mapped IPv6). */
    private static long[] find(int local, int remote) throws IOException {
        String[] f = row(local, remote);
        if (f == null) throw new IOException("no TCP connection 127.0.0.1:" + local + " -> 127.0.0.1:" + remote + " in /proc/net/tcp*");
        String[] q = f[4].split(":");
        return new long[] {Long.parseLong(q[0], 16), Long.parseLong(q[1], 16)};
    }

    /** The state (hex, e.g. 06 for TIME_WAIT) of the socket with this local and remote port, or "gone". */
    static String state(int local, int remote) throws IOException {
        String[] f = row(local, remote);
        return f == null ? "gone" : f[3];
    }

    private static String[] row(int local, int remote) throws IOException {
        for (String table : new String[] {"/proc/net/tcp", "/proc/net/tcp6"}) {
            for (String line : Files.readAllLines(Path.of(table))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 4 && loopback(f[1], local) && loopback(f[2], remote)) return f;
            }
        }
        return null;
    }

    private static boolean loopback(String address, int port) {
        String p = String.format(":%04X", port);
        return address.equals("0100007F" + p) || address.equals("0000000000000000FFFF00000100007F" + p);
    }
}
