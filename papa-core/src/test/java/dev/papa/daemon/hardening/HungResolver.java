package dev.papa.daemon.hardening;

import java.io.IOException;
import java.net.BindException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A name server that never answers, and the command prefix that runs a daemon in a private mount
 * namespace whose /etc/resolv.conf points at it (unshare execs: the daemon keeps the pid). The
 * host's files are never touched: the bind mount exists only in that namespace.
 */
public final class HungResolver implements AutoCloseable {
    private final DatagramSocket silent;
    private final Path resolvConf;

    private HungResolver(DatagramSocket silent, Path resolvConf) {
        this.silent = silent;
        this.resolvConf = resolvConf;
    }

    /** Whether this test can make one: root, and mount namespaces allowed (not every container allows them). */
    public static boolean possible() throws IOException, InterruptedException {
        return MountNamespace.available();
    }

    /** The resolver of the daemons started with {@link #prefix} asks once and waits {@code timeoutSeconds}. */
    public static HungResolver start(int timeoutSeconds) throws IOException {
        DatagramSocket s = silentNameServer();
        try {
            Path conf = Files.createTempFile("papa-resolv", ".conf");
            Files.writeString(conf, "nameserver " + s.getLocalAddress().getHostAddress()
                    + "\noptions timeout:" + timeoutSeconds + " attempts:1\n");
            return new HungResolver(s, conf);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** {@code unshare ... sh -c 'mount --bind CONF /etc/resolv.conf && exec "$@"' CONF}: put before the daemon's command. */
    public List<String> prefix() {
        return List.of("unshare", "-m", "--propagation", "private", "--",
                "sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"", resolvConf.toString());
    }

    /** Blocks until a query arrives (up to 30 s): a lookup is in flight now. */
    public void awaitQuery() throws IOException {
        silent.receive(new DatagramPacket(new byte[512], 512));
    }

    @Override
    public void close() throws IOException {
        silent.close();
        Files.deleteIfExists(resolvConf);
    }

    /** A UDP socket on port 53 of a random 127/8 address (no clash with anyone's), never answering. */
    private static DatagramSocket silentNameServer() throws IOException {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int tries = 0; ; tries++) {
            InetAddress a = InetAddress.getByAddress(new byte[] {127, (byte) r.nextInt(1, 255), (byte) r.nextInt(1, 255), (byte) r.nextInt(1, 255)});
            DatagramSocket s = new DatagramSocket(null);
            try {
                s.bind(new InetSocketAddress(a, 53));
                s.setSoTimeout(30_000);
                return s;
            } catch (BindException e) {
                s.close();
                if (tries > 20) throw e;
            }
        }
    }
}
