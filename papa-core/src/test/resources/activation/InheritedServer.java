import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * An inetd-style Java server, run as {@code java InheritedServer.java}: it serves on the
 * listening socket it inherited as stdin ({@code System.inheritedChannel()}) and answers each
 * connection's first line with {@code java PID: LINE}.
 */
public class InheritedServer {
    public static void main(String[] args) throws IOException {
        Channel inherited = System.inheritedChannel();
        if (!(inherited instanceof ServerSocketChannel)) {
            System.err.println("stdin is not a listening socket: " + inherited);
            System.exit(2);
        }
        ServerSocketChannel server = (ServerSocketChannel) inherited;
        System.out.println("serving on " + server.getLocalAddress());
        System.out.flush();
        while (true) {
            try (SocketChannel c = server.accept()) {
                ByteBuffer in = ByteBuffer.allocate(1024);
                while (in.hasRemaining() && (in.position() == 0 || in.get(in.position() - 1) != '\n')) {
                    if (c.read(in) < 0) break;
                }
                String line = new String(in.array(), 0, in.position(), StandardCharsets.UTF_8).strip();
                String reply = "java " + ProcessHandle.current().pid() + ": " + line + "\n";
                c.write(ByteBuffer.wrap(reply.getBytes(StandardCharsets.UTF_8)));
            }
        }
    }
}
