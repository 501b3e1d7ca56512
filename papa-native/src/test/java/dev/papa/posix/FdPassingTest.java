package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.*;

import dev.papa.posix.Sockets.Family;
import dev.papa.posix.Sockets.Type;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SCM_RIGHTS over real socket pairs: the daemon's receiver, nonblocking send, describe, dup. */
class FdPassingTest {
  @TempDir Path tmp;

  private static ByteBuffer direct(int n) {
    return ByteBuffer.allocateDirect(n);
  }

  @Test
  void receiverReadsPlainDataAndAttachedDescriptors() throws Exception {
    Fd[] sp = Sockets.socketPair();
    Fd[] pipe = Io.pipe();
    FdReceiver rx = new FdReceiver(1);
    ByteBuffer buf = direct(64);
    try {
      Sockets.sendFds(sp[0].get(), "plain\n".getBytes(StandardCharsets.US_ASCII));
      assertEquals(6, rx.read(sp[1].get(), buf));
      assertFalse(rx.hasAncillary());
      assertEquals(0, rx.take().length);

      Sockets.sendFds(sp[0].get(), "one\n".getBytes(StandardCharsets.US_ASCII), pipe[1].get());
      buf.clear();
      assertEquals(4, rx.read(sp[1].get(), buf));
      assertTrue(rx.hasAncillary());
      assertFalse(rx.truncated());
      Fd[] got = rx.take();
      assertEquals(1, got.length);
      try (Fd w = got[0]) {
        assertTrue(Io.isCloseOnExec(w.get()), "MSG_CMSG_CLOEXEC");
        Io.write(w.get(), ByteBuffer.wrap(new byte[] {7}));
        ByteBuffer b = ByteBuffer.allocate(4);
        assertEquals(1, Io.read(pipe[0].get(), b));
      }
      assertFalse(rx.hasAncillary(), "take() resets");

      Io.setNonBlocking(sp[1].get(), true);
      buf.clear();
      assertEquals(Io.AGAIN, rx.read(sp[1].get(), buf));
    } finally {
      for (Fd f : new Fd[] {sp[0], sp[1], pipe[0], pipe[1]}) f.close();
    }
  }

  @Test
  void moreDescriptorsThanTheControlBufferHoldsAreCutAndNotInstalled() throws Exception {
    Fd[] sp = Sockets.socketPair();
    Fd[] pipe = Io.pipe();
    FdReceiver rx = new FdReceiver(1);
    try {
      java.util.TreeMap<Integer, String> before = TestSupport.selfPipesAndSockets();
      int[] five = {pipe[0].get(), pipe[1].get(), pipe[0].get(), pipe[1].get(), pipe[0].get()};
      Sockets.sendFds(sp[0].get(), "x\n".getBytes(StandardCharsets.US_ASCII), five);
      assertEquals(2, rx.read(sp[1].get(), direct(16)));
      assertTrue(rx.truncated(), "MSG_CTRUNC");
      Fd[] got = rx.take();
      assertEquals(1, got.length, "exactly the capacity is installed");
      got[0].close();
      assertEquals(before, TestSupport.selfPipesAndSockets(), "the kernel installed nothing beyond the buffer");
    } finally {
      for (Fd f : new Fd[] {sp[0], sp[1], pipe[0], pipe[1]}) f.close();
    }
  }

  @Test
  void atMost253DescriptorsInOneMessage() throws Exception {
    Fd[] sp = Sockets.socketPair();
    Fd[] pipe = Io.pipe();
    try {
      int[] many = new int[253];
      java.util.Arrays.fill(many, pipe[0].get());
      Sockets.sendFds(sp[0].get(), new byte[] {1}, many);
      Sockets.Received r = Sockets.receiveFds(sp[1].get(), 4, 253);
      assertEquals(253, r.fds().length);
      assertFalse(r.truncated());
      for (Fd f : r.fds()) f.close();
      assertThrows(IllegalArgumentException.class, () -> Sockets.sendFds(sp[0].get(), new byte[] {1}, new int[254]));
      assertThrows(IllegalArgumentException.class, () -> Sockets.receiveFds(sp[1].get(), 4, 254));
    } finally {
      for (Fd f : new Fd[] {sp[0], sp[1], pipe[0], pipe[1]}) f.close();
    }
  }

  @Test
  void nonblockingSendCarriesDescriptorsWithTheFirstByteOrNothing() throws Exception {
    Fd[] sp = Sockets.socketPair();
    Fd[] pipe = Io.pipe();
    try {
      Io.setNonBlocking(sp[0].get(), true);
      ByteBuffer b = direct(8);
      b.put("reply\n".getBytes(StandardCharsets.US_ASCII)).flip();
      assertEquals(6, Sockets.send(sp[0].get(), b, new int[] {pipe[1].get()}));
      assertEquals(6, b.position());
      Sockets.Received r = Sockets.receiveFds(sp[1].get(), 16, 4);
      assertEquals("reply\n", new String(r.data(), StandardCharsets.US_ASCII));
      assertEquals(1, r.fds().length);
      r.fds()[0].close();
      // fill the socket, then a send with descriptors is AGAIN and sends nothing
      ByteBuffer big = direct(65536);
      while (Io.write(sp[0].get(), big) != Io.AGAIN) big.clear();
      b.position(0);
      assertEquals(Io.AGAIN, Sockets.send(sp[0].get(), b, new int[] {pipe[1].get()}));
      assertEquals(0, b.position());
    } finally {
      for (Fd f : new Fd[] {sp[0], sp[1], pipe[0], pipe[1]}) f.close();
    }
  }

  @Test
  void describeReadsWhatTheKernelKnows() throws Exception {
    try (Fd l = Sockets.bindInet(Family.INET, Type.STREAM, InetAddress.getByName("127.0.0.1"), 0, 7, false, null)) {
      Sockets.Description d = Sockets.describe(l.get());
      assertEquals(Family.INET, d.family());
      assertEquals(Type.STREAM, d.type());
      assertTrue(d.listening());
      assertEquals("127.0.0.1", d.inet().getAddress().getHostAddress());
      assertEquals(Sockets.localPort(l.get()), d.inet().getPort());
      assertNull(d.path());
    }
    try (Fd u = Sockets.bindInet(Family.INET6, Type.DGRAM, InetAddress.getByName("::1"), 0, 5, false, null)) {
      Sockets.Description d = Sockets.describe(u.get());
      assertEquals(Family.INET6, d.family());
      assertEquals(Type.DGRAM, d.type());
      assertFalse(d.listening());
      assertEquals("::1", d.inet().getAddress().getHostAddress().replace("0:0:0:0:0:0:0:1", "::1"));
    }
    String path = tmp.resolve("s.sock").toString();
    try (Fd u = Sockets.bindUnix(Type.SEQPACKET, path, 3, null)) {
      Sockets.Description d = Sockets.describe(u.get());
      assertEquals(Family.UNIX, d.family());
      assertEquals(Type.SEQPACKET, d.type());
      assertTrue(d.listening());
      assertEquals(path, d.path());
    }
    Fd[] sp = Sockets.socketPair();
    Fd[] pipe = Io.pipe();
    try {
      Sockets.Description d = Sockets.describe(sp[0].get());
      assertEquals(Family.UNIX, d.family());
      assertNull(d.path(), "an unnamed socket has no path");
      PosixException e = assertThrows(PosixException.class, () -> Sockets.describe(pipe[0].get()));
      assertEquals(88, e.errno(), "ENOTSOCK");
      int closed = pipe[1].release();
      dev.papa.posix.internal.LibC.close(closed);
      assertEquals(9, assertThrows(PosixException.class, () -> Sockets.describe(closed)).errno(), "EBADF");
    } finally {
      for (Fd f : new Fd[] {sp[0], sp[1], pipe[0]}) f.close();
    }
  }

  @Test
  void listenBacklogComesFromTheKernel() throws Exception {
    try (Fd l = Sockets.bindInet(Family.INET, Type.STREAM, InetAddress.getByName("127.0.0.1"), 0, 17, false, null)) {
      assertEquals(java.util.OptionalInt.of(17), ListenBacklog.of(l.get(), Sockets.describe(l.get())));
    }
    try (Fd l = Sockets.bindInet(Family.INET6, Type.STREAM, InetAddress.getByName("::1"), 0, 23, false, null)) {
      assertEquals(java.util.OptionalInt.of(23), ListenBacklog.of(l.get(), Sockets.describe(l.get())));
    }
    try (Fd u = Sockets.bindUnix(Type.STREAM, tmp.resolve("b.sock").toString(), 9, null)) {
      assertEquals(java.util.OptionalInt.of(9), ListenBacklog.of(u.get(), Sockets.describe(u.get())));
    }
    try (Fd d = Sockets.bindInet(Family.INET, Type.DGRAM, InetAddress.getByName("127.0.0.1"), 0, 5, false, null)) {
      assertTrue(ListenBacklog.of(d.get(), Sockets.describe(d.get())).isEmpty(), "a datagram socket does not listen");
    }
  }

  @Test
  void dupIsCloseOnExecAndIndependent() throws Exception {
    Fd[] pipe = Io.pipe();
    try (Fd d = Io.dupCloseOnExec(pipe[1].get())) {
      assertNotEquals(pipe[1].get(), d.get());
      assertTrue(Io.isCloseOnExec(d.get()));
      pipe[1].close();
      Io.write(d.get(), ByteBuffer.wrap(new byte[] {1}));
      assertEquals(1, Io.read(pipe[0].get(), ByteBuffer.allocate(4)));
    } finally {
      pipe[0].close();
      pipe[1].close();
    }
  }

  @Test
  void execInPlaceThatFindsNothingChangesNothing() throws Exception {
    Fd[] pipe = Io.pipe();
    try {
      // One failing call first: the classes of the failure path load from the jar, and the JVM
      // may keep that jar open; only the second call's descriptors are the code's own.
      assertThrows(SpawnException.class, () -> Spawner.execInPlace(
          List.of("no-such-program-papa-t13"), Map.of("PATH", tmp.toString()), new int[] {pipe[0].get()}));
      java.util.TreeMap<Integer, String> before = TestSupport.selfPipesAndSockets();
      SpawnException e = assertThrows(SpawnException.class, () -> Spawner.execInPlace(
          List.of("no-such-program-papa-t13"), Map.of("PATH", tmp.toString()), new int[] {pipe[0].get()}));
      assertEquals(SpawnException.Step.EXEC, e.step());
      assertEquals(2, e.errno(), "ENOENT");
      assertEquals(before, TestSupport.selfPipesAndSockets());
    } finally {
      pipe[0].close();
      pipe[1].close();
    }
  }
}
