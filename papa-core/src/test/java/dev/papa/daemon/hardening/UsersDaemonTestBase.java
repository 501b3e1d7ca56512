package dev.papa.daemon.hardening;

import dev.papa.daemon.Daemon;
import org.junit.jupiter.api.AfterEach;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** A daemon the subclass starts as root, and connections to it as root or as a real user (run as that user). */
abstract class UsersDaemonTestBase {
    Daemon daemon;
    private final List<Conn> conns = new ArrayList<>();

    Conn root() throws IOException {
        Conn c = Conn.open(daemon.port());
        conns.add(c);
        return c;
    }

    Conn as(String user) throws IOException {
        Conn c = Conn.asUser(user, Integer.toString(daemon.port()));
        conns.add(c);
        return c;
    }

    /** Closes every connection and the daemon (idempotent). */
    @AfterEach
    void closeAll() throws IOException {
        for (Conn c : conns) c.close();
        conns.clear();
        if (daemon != null) daemon.close();
    }
}
