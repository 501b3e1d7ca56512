package dev.papa.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.papa.client.Papa;
import dev.papa.client.PapaException;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code ctl metrics --serve HOST:PORT}: a Prometheus exporter in its own process (the JDK's
 * HTTP server; never inside the daemon). Each scrape of {@code /metrics} opens one session to
 * the daemon, asks {@code list daemon} and {@code list processes}, and closes it, so a restarted
 * or upgraded daemon is simply found again at the next scrape.
 *
 * <ul>
 * <li>200: the exposition ({@link Metrics#CONTENT_TYPE});</li>
 * <li>503 and one line saying why, when the daemon does not answer (Prometheus then records the
 *     target's {@code up} as 0 and shows the line on its targets page);</li>
 * <li>404 for any other path, 405 for a method other than GET and HEAD.</li>
 * </ul>
 * It listens on the given address only; scrapes are answered one at a time.
 */
final class MetricsExporter {
    private static final Logger LOG = Logger.getLogger(MetricsExporter.class.getName());

    static final String PATH = "/metrics";

    private final Papa.Builder daemon;
    private boolean daemonAnswered = true;

    private MetricsExporter(Papa.Builder daemon) {
        this.daemon = daemon;
    }

    /**
     * Serves until the process is ended; returns only when the address cannot be served.
     *
     * @param address {@code HOST:PORT} ({@code [::1]:9100} for IPv6); port 0 lets the system choose
     */
    static int serve(Papa.Builder daemon, String address, PrintStream out, PrintStream err) {
        InetSocketAddress bind;
        try {
            bind = parse(address);
        } catch (IllegalArgumentException e) {
            err.println("papa ctl: " + e.getMessage());
            return Ctl.USAGE;
        }
        HttpServer server;
        try {
            server = HttpServer.create(bind, 16);
        } catch (IOException e) {
            err.println("papa ctl: cannot serve metrics on " + address + ": " + e.getMessage());
            return Ctl.NO_CONNECTION;
        }
        ExecutorService scrapes = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "papa-metrics-scrape");
            t.setDaemon(true);
            return t;
        });
        MetricsExporter exporter = new MetricsExporter(daemon);
        server.createContext("/", exporter::handle);
        server.setExecutor(scrapes);
        server.start();
        InetSocketAddress bound = server.getAddress();
        String host = bound.getAddress().getHostAddress();
        out.println("Serving papa metrics on http://" + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":"
                + bound.getPort() + PATH);
        out.flush();
        try {
            new CountDownLatch(1).await(); // until the process is ended (SIGTERM, SIGINT)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        server.stop(0);
        return Ctl.OK;
    }

    /** {@code HOST:PORT}, {@code [V6]:PORT}. */
    static InetSocketAddress parse(String address) {
        int colon = address.lastIndexOf(':');
        if (colon <= 0 || colon == address.length() - 1) {
            throw new IllegalArgumentException("--serve needs HOST:PORT, e.g. 127.0.0.1:9464, not \"" + address + "\"");
        }
        String host = address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) throw new IllegalArgumentException("--serve: bad port in \"" + address + "\"");
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("--serve: unknown host \"" + host + "\"");
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            if (!exchange.getRequestURI().getPath().equals(PATH)) {
                reply(exchange, 404, "text/plain; charset=utf-8", "Not found: metrics are at " + PATH + "\n");
            } else if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                reply(exchange, 405, "text/plain; charset=utf-8", "Only GET and HEAD\n");
            } else {
                String body;
                try (Papa papa = daemon.connect()) {
                    body = Metrics.scrape(papa);
                } catch (PapaException e) {
                    String why = "papa is not answering: " + oneLine(e.getMessage()) + "\n";
                    answered(false, why);
                    reply(exchange, 503, "text/plain; charset=utf-8", why);
                    return;
                }
                answered(true, null);
                reply(exchange, 200, Metrics.CONTENT_TYPE, body);
            }
        } catch (IOException e) {
            LOG.log(Level.FINE, "a scrape's client went away", e);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "a scrape failed", e);
        }
    }

    /** Logs when the daemon stops or starts answering, not at every scrape. */
    private void answered(boolean now, String why) {
        if (now == daemonAnswered) return;
        daemonAnswered = now;
        if (now) LOG.info("papa answers again");
        else LOG.warning(why.strip());
    }

    private static String oneLine(String s) {
        return s == null ? "no reason given" : s.replaceAll("[\\r\\n]+", " ").strip();
    }

    private static void reply(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }
}
