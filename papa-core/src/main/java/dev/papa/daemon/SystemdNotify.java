package dev.papa.daemon;

import dev.papa.daemon.loop.EventLoop;
import dev.papa.posix.PosixException;
import dev.papa.posix.Sockets;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.logging.Logger;

/**
 * sd_notify for a daemon run with {@code --no-keeper} (under the keeper the keeper notifies,
 * src-c/keeper.c, and removes NOTIFY_SOCKET from the JVM's environment): {@code READY=1} once
 * the control port serves, {@code STOPPING=1} when it stops, and with {@code WATCHDOG_USEC}
 * (for this pid) {@code WATCHDOG=1} every half interval from the loop thread, so a hung loop
 * stops the pings. A datagram per message to NOTIFY_SOCKET (a path, or {@code @name}: an
 * abstract name); no libsystemd.
 */
final class SystemdNotify {
    private static final Logger LOG = Logger.getLogger(SystemdNotify.class.getName());
    private final String socket;
    private final long watchdogMicros;

    private SystemdNotify(String socket, long watchdogMicros) {
        this.socket = socket;
        this.watchdogMicros = watchdogMicros;
    }

    /** From NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID; null when systemd does not listen. */
    static SystemdNotify fromEnvironment(Map<String, String> env) {
        String socket = env.get("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) return null;
        if (!socket.startsWith("/") && !socket.startsWith("@")) {
            LOG.warning("NOTIFY_SOCKET is neither an absolute path nor an abstract name (@...): not notifying systemd");
            return null;
        }
        long watchdog = 0;
        String usec = env.get("WATCHDOG_USEC");
        String pid = env.get("WATCHDOG_PID");
        try {
            if (usec != null && (pid == null || Long.parseLong(pid) == ProcessHandle.current().pid())) watchdog = Long.parseLong(usec);
        } catch (NumberFormatException e) {
            LOG.warning("WATCHDOG_USEC=" + usec + " / WATCHDOG_PID=" + pid + " ignored");
        }
        return new SystemdNotify(socket, Math.max(0, watchdog));
    }

    /** The daemon serves: READY=1, and the watchdog's pings start on its loop. */
    void ready(Daemon daemon) {
        send("READY=1\nSTATUS=serving (daemon pid " + ProcessHandle.current().pid() + ", no keeper)");
        if (watchdogMicros > 0) {
            EventLoop loop = daemon.loop();
            long every = Math.max(1, watchdogMicros / 2000);
            loop.execute(() -> ping(loop, every));
        }
    }

    private void ping(EventLoop loop, long everyMillis) {
        send("WATCHDOG=1");
        loop.schedule(everyMillis, () -> ping(loop, everyMillis));
    }

    void stopping(String reason) {
        send("STOPPING=1\nSTATUS=stopping: " + reason);
    }

    private void send(String text) {
        try {
            Sockets.sendDatagram(socket, text.getBytes(StandardCharsets.UTF_8));
        } catch (PosixException e) {
            LOG.warning("cannot notify systemd (" + text.lines().findFirst().orElse("") + "): " + e.getMessage());
        }
    }
}
