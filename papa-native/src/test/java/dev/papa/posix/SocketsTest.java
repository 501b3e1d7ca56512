package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.*;

import dev.papa.posix.Sockets.Family;
import dev.papa.posix.Sockets.Type;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SocketsTest {
  @TempDir Path tmp;

  @Test
  void inetStreamOnChosenPortAcceptsConnections() throws Exception {
    try (Fd l = Sockets.bindInet(Family.INET, Type.STREAM, InetAddress.getByName("127.0.0.1"), 0, 5, false, null)) {
      assertTrue(Io.isCloseOnExec(l.get()));
      assertEquals(1, Sockets.socketType(l.get()));
      int port = Sockets.localPort(l.get());
      assertTrue(port > 0);
      Io.setNonBlocking(l.get(), true);
      assertNull(Sockets.accept(l.get()));
      try (Socket s = new Socket("127.0.0.1", port)) {
        Fd a = null;
        for (int i = 0; i < 100 && a == null; i++) {
          a = Sockets.accept(l.get());
          if (a == null) Thread.sleep(10);
        }
        assertNotNull(a);
        try (Fd conn = a) {
          assertTrue(Io.isCloseOnExec(conn.get()));
          assertEquals(Io.AGAIN, Io.read(conn.get(), ByteBuffer.allocate(10)), "accepted socket is nonblocking");
          s.getOutputStream().write("ping".getBytes(StandardCharsets.UTF_8));
          ByteBuffer b = ByteBuffer.allocate(10);
          int r;
          while ((r = Io.read(conn.get(), b)) == Io.AGAIN) Thread.sleep(5);
          assertEquals(4, r);
          assertEquals("ping", new String(b.array(), 0, 4, StandardCharsets.UTF_8));
          assertEquals(4, Io.write(conn.get(), ByteBuffer.wrap("pong".getBytes(StandardCharsets.UTF_8))));
          assertEquals("pong", new String(s.getInputStream().readNBytes(4), StandardCharsets.UTF_8));
          s.close();
          while ((r = Io.read(conn.get(), b.clear())) == Io.AGAIN) Thread.sleep(5);
          assertEquals(Io.EOF, r);
          // Writing to the closed peer: EPIPE/ECONNRESET as an exception, never SIGPIPE.
          PosixException e = assertThrows(PosixException.class, () -> {
            for (int i = 0; i < 100; i++) Io.write(conn.get(), ByteBuffer.wrap(new byte[1000]));
          });
          assertTrue(e.errno() == 32 || e.errno() == 104, e.getMessage());
        }
      }
    }
  }

  @Test
  void inet6AndHostResolution() throws Exception {
    try (Fd l = Sockets.bindInet(Family.INET6, Type.STREAM, Sockets.resolve(Family.INET6, "::1"), 0, 5, false, null)) {
      int port = Sockets.localPort(l.get());
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(InetAddress.getByName("::1"), port), 2000);
      }
    }
    assertEquals("127.0.0.1", Sockets.resolve(Family.INET, "localhost").getHostAddress());
  }

  @Test
  void bindFailureCarriesErrnoAndReusePortShares() throws Exception {
    InetAddress lo = InetAddress.getByName("127.0.0.1");
    try (Fd a = Sockets.bindInet(Family.INET, Type.STREAM, lo, 0, 5, false, null)) {
      int port = Sockets.localPort(a.get());
      PosixException e = assertThrows(PosixException.class,
          () -> Sockets.bindInet(Family.INET, Type.STREAM, lo, port, 5, false, null));
      assertEquals("bind", e.call());
      assertEquals(98, e.errno());
      assertEquals("Address already in use", e.reason());
      assertEquals("bind: Address already in use (errno 98)", e.getMessage());
    }
    try (Fd a = Sockets.bindInet(Family.INET, Type.STREAM, lo, 0, 5, true, null)) {
      int port = Sockets.localPort(a.get());
      try (Fd b = Sockets.bindInet(Family.INET, Type.STREAM, lo, port, 5, true, null)) {
        assertEquals(port, Sockets.localPort(b.get()));
      }
    }
  }

  @Test
  void dgramReceivesDatagrams() throws Exception {
    try (Fd d = Sockets.bindInet(Family.INET, Type.DGRAM, InetAddress.getByName("127.0.0.1"), 0, 5, false, null);
        DatagramSocket s = new DatagramSocket()) {
      assertEquals(2, Sockets.socketType(d.get()));
      int port = Sockets.localPort(d.get());
      byte[] msg = "datagram".getBytes(StandardCharsets.UTF_8);
      s.send(new DatagramPacket(msg, msg.length, InetAddress.getByName("127.0.0.1"), port));
      ByteBuffer b = ByteBuffer.allocateDirect(100);
      Io.setNonBlocking(d.get(), true);
      int r;
      long deadline = System.nanoTime() + 5_000_000_000L;
      while ((r = Io.read(d.get(), b)) == Io.AGAIN && System.nanoTime() < deadline) Thread.sleep(5);
      assertEquals(msg.length, r);
    }
  }

  @Test
  void bindToDevice() throws Exception {
    try (Fd l = Sockets.bindInet(Family.INET, Type.STREAM, InetAddress.getByName("0.0.0.0"), 0, 5, false, "lo");
         Fd plain = Sockets.bindInet(Family.INET, Type.STREAM, InetAddress.getByName("0.0.0.0"), 0, 5, false, null)) {
      assertEquals("lo", Sockets.boundDevice(l.get()), "the kernel's SO_BINDTODEVICE");
      assertEquals("", Sockets.boundDevice(plain.get()), "no interface: bound to none");
      int port = Sockets.localPort(l.get());
      try (Socket s = new Socket("127.0.0.1", port)) {
        assertTrue(s.isConnected());
      }
    }
    PosixException e = assertThrows(PosixException.class, () -> Sockets.bindInet(Family.INET, Type.STREAM,
        InetAddress.getByName("0.0.0.0"), 0, 5, false, "nosuchdev0"));
    assertEquals(19, e.errno()); // ENODEV
  }

  @Test
  void unixSocketUnderUmaskAndConnect() throws Exception {
    Path p = tmp.resolve("s.sock");
    try (Fd l = Sockets.bindUnix(Type.STREAM, p.toString(), 5, 077)) {
      assertTrue(Files.exists(p));
      assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)));
      assertEquals(0, Sockets.localPort(l.get()));
      try (Fd c = Sockets.connectUnix(p.toString())) {
        assertTrue(Io.isCloseOnExec(c.get()));
        Fd a = Sockets.accept(l.get());
        assertNotNull(a);
        try (a) {
          Sockets.PeerCred cred = Sockets.peerCred(a.get());
          assertEquals(Processes.getpid(), cred.pid());
          assertEquals(0, cred.uid());
        }
      }
    }
    Path q = tmp.resolve("t.sock");
    try (Fd l = Sockets.bindUnix(Type.DGRAM, q.toString(), 5, 0)) {
      assertEquals("rwxrwxrwx", PosixFilePermissions.toString(Files.getPosixFilePermissions(q)));
      assertEquals(2, Sockets.socketType(l.get()));
    }
    try (Fd l = Sockets.bindUnix(Type.SEQPACKET, tmp.resolve("u.sock").toString(), 5, null)) {
      assertEquals(5, Sockets.socketType(l.get()));
    }
    PosixException e = assertThrows(PosixException.class, () -> Sockets.bindUnix(Type.STREAM, p.toString(), 5, null));
    assertEquals(98, e.errno(), "stale file is not removed by bindUnix");
  }

  @Test
  void descriptorPassingRoundTrip() throws Exception {
    Fd[] sp = Sockets.socketPair();
    Fd[] pipe = Io.pipe();
    try {
      Sockets.sendFds(sp[0].get(), "hello".getBytes(StandardCharsets.UTF_8), pipe[1].get(), pipe[0].get());
      Sockets.Received r = Sockets.receiveFds(sp[1].get(), 100, 4);
      assertEquals("hello", new String(r.data(), StandardCharsets.UTF_8));
      assertEquals(2, r.fds().length);
      assertFalse(r.truncated());
      try (Fd w = r.fds()[0]; Fd rd = r.fds()[1]) {
        assertTrue(Io.isCloseOnExec(w.get()));
        assertTrue(Io.isCloseOnExec(rd.get()));
        assertNotEquals(pipe[1].get(), w.get());
        Io.write(w.get(), ByteBuffer.wrap("via passed fd".getBytes(StandardCharsets.UTF_8)));
        ByteBuffer b = ByteBuffer.allocate(64);
        assertEquals(13, Io.read(pipe[0].get(), b));
        assertEquals("via passed fd", new String(b.array(), 0, 13, StandardCharsets.UTF_8));
      }
      Sockets.PeerCred c = Sockets.peerCred(sp[0].get());
      assertEquals(Processes.getpid(), c.pid());
      // plain data, no descriptors
      Sockets.sendFds(sp[0].get(), new byte[] {42});
      Sockets.Received plain = Sockets.receiveFds(sp[1].get(), 10, 4);
      assertArrayEquals(new byte[] {42}, plain.data());
      assertEquals(0, plain.fds().length);
      sp[0].close();
      assertEquals(0, Sockets.receiveFds(sp[1].get(), 10, 4).data().length, "EOF");
    } finally {
      for (Fd f : new Fd[] {sp[0], sp[1], pipe[0], pipe[1]}) f.close();
    }
  }

  @Test
  void passedListeningSocketWorksInAChild() throws Exception {
    try (Fd l = Sockets.bindInet(Family.INET, Type.STREAM, InetAddress.getByName("127.0.0.1"), 0, 5, false, null)) {
      int port = Sockets.localPort(l.get());
      // python-free check: the child only holds the socket; we connect to it after our copy is closed
      Child c = Spawner.spawn(TestSupport.sleeper().passFd(l.get(), 3));
      try {
        l.close();
        try (Socket s = new Socket("127.0.0.1", port); InputStream in = s.getInputStream()) {
          assertTrue(s.isConnected(), "the child's copy still listens");
        }
      } finally {
        TestSupport.killAndReap(c);
      }
    }
  }

  @Test
  void addressesOfAnAcceptedConnectionAndNoDelay() throws Exception {
    try (Fd l = Sockets.bindInet(Family.INET6, Type.STREAM, InetAddress.getByName("::1"), 0, 5, false, null);
         Socket client = new Socket("::1", Sockets.localPort(l.get()))) {
      Fd a = null;
      for (int i = 0; i < 200 && a == null; i++) {
        a = Sockets.accept(l.get());
        if (a == null) Thread.sleep(5);
      }
      assertNotNull(a);
      try (Fd accepted = a) {
        assertFalse(Sockets.isUnix(accepted.get()));
        assertEquals(new InetSocketAddress("::1", client.getLocalPort()), Sockets.peerAddress(accepted.get()));
        assertEquals(new InetSocketAddress("::1", Sockets.localPort(l.get())), Sockets.localAddress(accepted.get()));
        assertFalse(Sockets.noDelay(accepted.get()), "a new connection waits for Nagle");
        Sockets.setNoDelay(accepted.get());
        assertTrue(Sockets.noDelay(accepted.get()));
      }
    }
    Fd[] pair = Sockets.socketPair();
    try {
      assertTrue(Sockets.isUnix(pair[0].get()));
      assertNull(Sockets.peerAddress(pair[0].get()));
      assertThrows(PosixException.class, () -> Sockets.setNoDelay(pair[0].get()));
    } finally {
      pair[0].close();
      pair[1].close();
    }
    assertEquals(new com.sun.security.auth.module.UnixSystem().getUid(), Processes.effectiveUid());
  }
}
