package dev.papa.client;

import dev.papa.posix.Fd;
import dev.papa.posix.PosixException;
import dev.papa.posix.Sockets;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One request that carries descriptors (SCM_RIGHTS), either way, over a connection of its own:
 * java.nio's unix channels cannot send or receive them, so this uses a blocking native socket
 * with a receive timeout. Every descriptor received is owned by the returned reply, or closed.
 */
final class FdExchange {
    private static final int EAGAIN = 11;

    /** The reply text (without the prompt) and the descriptors that came with it, in order. */
    record Reply(String text, Fd[] fds) {}

    private FdExchange() {
    }

    /** Connects, sends {@code line} with {@code attach} on its first byte, reads the whole reply. */
    static Reply request(Path socket, String line, int[] attach, Duration timeout) throws PapaException {
        List<Fd> received = new ArrayList<>();
        boolean ok = false;
        try (Fd conn = Sockets.connectUnix(socket.toString())) {
            Sockets.setReceiveTimeout(conn.get(), Math.max(1, timeout.toMillis()));
            readReply(conn, socket, received);  // the greeting
            closeAll(received);
            Sockets.sendFds(conn.get(), (line + "\n").getBytes(StandardCharsets.UTF_8), attach);
            String text = readReply(conn, socket, received);
            Connection.checkError(text);
            ok = true;
            return new Reply(text, received.toArray(new Fd[0]));
        } catch (PosixException e) {
            if (e.errno() == EAGAIN) {
                throw new PapaException(PapaException.Kind.CONNECTION, "Timed out waiting for a reply from papa at unix:" + socket);
            }
            throw new PapaException(PapaException.Kind.CONNECTION, "Lost connection to papa at unix:" + socket + ": " + e.getMessage(), e);
        } finally {
            if (!ok) closeAll(received);
        }
    }

    /** Reads up to and including the prompt; returns the text before it. */
    private static String readReply(Fd conn, Path socket, List<Fd> received) throws PosixException, PapaException {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        while (true) {
            Sockets.Received r = Sockets.receiveFds(conn.get(), 65536, Sockets.MAX_FDS_PER_MESSAGE);
            received.addAll(List.of(r.fds()));
            if (r.truncated()) {
                throw new PapaException(PapaException.Kind.PROTOCOL, "papa sent more descriptors than one message can carry");
            }
            if (r.data().length == 0) throw new PapaException(PapaException.Kind.CONNECTION, "Lost connection to papa at unix:" + socket);
            data.write(r.data(), 0, r.data().length);
            byte[] b = data.toByteArray();
            int n = b.length;
            if (n >= 2 && b[n - 2] == '>' && b[n - 1] == ' ' && (n == 2 || b[n - 3] == '\n')) {
                return new String(b, 0, Math.max(0, n - 3), StandardCharsets.UTF_8);
            }
        }
    }

    static void closeAll(List<Fd> fds) {
        for (Fd f : fds) f.close();
        fds.clear();
    }
}
