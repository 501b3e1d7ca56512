package dev.papa.client;

import static org.junit.jupiter.api.Assertions.*;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.Sockets;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java client's descriptor passing over a real unix control socket, and docs/CLIENT.md's Netty example. */
class TakeSocketsTest {
    @TempDir Path tmp;
    Daemon daemon;
    Papa papa;

    @BeforeEach
    void start() throws Exception {
        daemon = Daemon.start(new DaemonConfig().unixSocket(tmp.resolve("papa.sock")).singleSession(false));
        papa = Papa.builder().path(tmp.resolve("papa.sock")).autoStart(false).timeout(Duration.ofSeconds(10)).connect();
    }

    @AfterEach
    void stop() {
        papa.close();
        daemon.close();
    }

    @Test
    void takenSocketsAreOwnedHandlesWithTheirDescription() throws Exception {
        SocketInfo web = papa.makeSocket("web");
        SocketInfo api = papa.makeSocket("api", new SocketOptions().path(tmp.resolve("api.sock").toString()));
        List<TakenSocket> taken = papa.takeSockets("web", "api");
        assertEquals(List.of("api", "web"), taken.stream().map(TakenSocket::name).toList(), "in the order of the sorted lines");
        assertEquals(api, taken.get(0).info());
        assertEquals(web, taken.get(1).info());
        for (TakenSocket t : taken) {
            assertTrue(Io.isCloseOnExec(t.fd()));
            assertTrue(Sockets.describe(t.fd()).listening());
            assertNotEquals(t.info().fileno(), Integer.valueOf(t.fd()), "our own number, not the daemon's");
        }
        assertEquals(web.port(), Sockets.describe(taken.get(1).fd()).inet().getPort());
        for (TakenSocket t : taken) t.close();
        assertFalse(taken.get(0).isOpen());
        assertEquals(2, papa.listSockets().size(), "the daemon keeps its copies");
        PapaException e = assertThrows(PapaException.class, () -> papa.takeSockets("nope"));
        assertEquals("nope not found", e.daemonMessage());
        assertEquals(List.of(), papa.takeSockets("x*"));
    }

    @Test
    void adoptSocketHandsTheDaemonItsOwnCopy() throws Exception {
        try (Fd mine = Sockets.bindInet(Sockets.Family.INET, Sockets.Type.STREAM, InetAddress.getByName("127.0.0.1"), 0, 33, false, null)) {
            SocketInfo info = papa.adoptSocket("mine", mine.get());
            assertEquals("inet", info.family());
            assertEquals(33, info.backlog());
            assertEquals(Sockets.localPort(mine.get()), info.port());
            assertTrue(Sockets.describe(mine.get()).listening(), "the caller still owns its descriptor");
            PapaException e = assertThrows(PapaException.class, () -> papa.adoptSocket("mine", mine.get()));
            assertTrue(e.daemonMessage().startsWith("Socket for mine has already been created"), e.daemonMessage());
        }
        assertEquals("mine", papa.listSockets("mine").get("mine").name());
    }

    @Test
    void overTcpTheDaemonRefuses() throws Exception {
        try (Daemon tcp = Daemon.start(new DaemonConfig().port(0).singleSession(false));
             Papa p = Papa.builder().port(tcp.port()).autoStart(false).connect()) {
            p.makeSocket("web");
            PapaException e = assertThrows(PapaException.class, () -> p.takeSockets("web"));
            assertEquals("descriptor passing needs the unix control socket", e.daemonMessage());
            e = assertThrows(PapaException.class, () -> p.adoptSocket("x", 0));
            assertEquals("descriptor passing needs the unix control socket", e.daemonMessage());
        }
    }

    @Test
    void nettyServesOnATakenSocket() throws Exception {
        int port = papa.makeSocket("web").port();
        // [docs:netty]
        TakenSocket web = papa.takeSockets("web").get(0);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        Channel server = new ServerBootstrap()
                .group(group)
                .channelFactory(() -> new EpollServerSocketChannel(web.release())) // Netty owns it now
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelActive(ChannelHandlerContext ctx) {
                                ctx.writeAndFlush(Unpooled.copiedBuffer("hello from netty\n", StandardCharsets.UTF_8))
                                        .addListener(ChannelFutureListener.CLOSE);
                            }
                        });
                    }
                })
                .register().sync().channel(); // already bound and listening: register, never bind
        // [end]
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            assertEquals("hello from netty", new BufferedReader(new InputStreamReader(s.getInputStream())).readLine());
        } finally {
            server.close().sync();
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
        }
        assertNotNull(papa.listSockets("web").get("web"), "Netty closed its copy; papa still holds the socket");
        try (Socket s = new Socket("127.0.0.1", port)) {
            assertTrue(s.isConnected(), "still listening");
        }
    }

    /** docs/CLIENT.md shows this test's Netty code, byte for byte. */
    @Test
    void clientDocShowsTheNettyExampleThatRuns() throws Exception {
        String src = Files.readString(Path.of("src/test/java/dev/papa/client/TakeSocketsTest.java"));
        String region = src.substring(src.indexOf("// [docs:netty]\n") + "// [docs:netty]\n".length(), src.indexOf("        // [end]"));
        String doc = Files.readString(Path.of("../docs/CLIENT.md"));
        String code = region.stripTrailing().stripIndent();
        assertTrue(doc.contains(code), "docs/CLIENT.md must contain:\n" + code);
    }
}
