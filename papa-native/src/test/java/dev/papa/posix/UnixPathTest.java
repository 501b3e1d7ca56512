package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.*;

import dev.papa.posix.Sockets.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Unix socket paths without symbolic links, stale-only replacement, inode-checked unlink; per-thread fs identity. */
class UnixPathTest {
  @TempDir Path tmp;

  static UnixPath open(String path) throws PosixException {
    return UnixPath.open(path, Processes.effectiveUid());
  }

  static UnixPath.Bound bind(String path) throws PosixException {
    try (UnixPath p = open(path)) {
      return p.bind(Type.STREAM, 5, null);
    }
  }

  @Test
  void sameDirectoryEntryIsTheSamePath() throws Exception {
    Files.createDirectory(tmp.resolve("d"));
    String[] spellings = {tmp + "/d/s.sock", tmp + "/d/./s.sock", tmp + "//d///s.sock", tmp + "/d/../d/s.sock"};
    String key;
    try (UnixPath p = open(spellings[0])) {
      key = p.entryKey();
    }
    for (String s : spellings) {
      try (UnixPath p = open(s)) {
        assertEquals(key, p.entryKey(), s);
      }
    }
    try (UnixPath p = open(tmp + "/d/t.sock")) {
      assertNotEquals(key, p.entryKey());
    }
    for (String bad : new String[] {"/", tmp + "/d/", tmp + "/d/.", tmp + "/d/..", "relative/x"}) {
      PosixException e = assertThrows(PosixException.class, () -> open(bad), bad);
      assertEquals(22, e.errno(), bad);
    }
  }

  @Test
  void aSymbolicLinkOnTheWayIsRefused() throws Exception {
    Path real = Files.createDirectory(tmp.resolve("real"));
    Files.createSymbolicLink(tmp.resolve("link"), real);
    PosixException e = assertThrows(PosixException.class, () -> open(tmp + "/link/s.sock"));
    assertEquals(40, e.errno()); // ELOOP
    Files.createDirectory(real.resolve("sub"));
    e = assertThrows(PosixException.class, () -> open(tmp + "/link/sub/s.sock"));
    assertEquals(40, e.errno());
    // the fallback walk refuses the same paths and opens the same directories
    e = assertThrows(PosixException.class, () -> UnixPath.openDirByWalk(tmp + "/link"));
    assertEquals(40, e.errno());
    e = assertThrows(PosixException.class, () -> UnixPath.openDirByWalk(tmp + "/link/sub"));
    assertEquals(40, e.errno());
    try (Fd walked = UnixPath.openDirByWalk(tmp + "/real/./sub/..//sub")) {
      assertTrue(Io.isCloseOnExec(walked.get()));
      assertEquals(Files.readAttributes(real.resolve("sub"), "unix:ino").get("ino").toString(),
          Files.readAttributes(Path.of("/proc/self/fd/" + walked.get()), "unix:ino").get("ino").toString());
    }
    assertFalse(Files.exists(real.resolve("s.sock")));
    // a file on the way is no directory, not a link
    Files.writeString(tmp.resolve("file"), "");
    assertEquals(20, assertThrows(PosixException.class, () -> open(tmp + "/file/s.sock")).errno()); // ENOTDIR
    assertEquals(20, assertThrows(PosixException.class, () -> UnixPath.openDirByWalk(tmp + "/file")).errno());
  }

  /** bind takes the path itself only where no one but root and the acting user can swap a directory on it. */
  @Test
  void bindsByPathOnlyThroughDirectoriesNobodyElseCanChange() throws Exception {
    Path mine = Files.createDirectory(tmp.resolve("mine"));
    Path shared = Files.createDirectory(tmp.resolve("shared"));
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
    Path sticky = Files.createDirectory(tmp.resolve("sticky"));
    Files.setPosixFilePermissions(sticky, PosixFilePermissions.fromString("rwxrwxrwx"));
    Files.setAttribute(sticky, "unix:mode", 01777);
    Path theirs = Files.createDirectory(sticky.resolve("theirs"));
    Files.setAttribute(theirs, "unix:uid", 65534);
    Path inShared = Files.createDirectory(shared.resolve("sub"));
    try (UnixPath p = open(mine + "/s.sock")) {
      assertTrue(p.bindsByPath());
    }
    try (UnixPath p = open(shared + "/s.sock")) {
      assertTrue(p.bindsByPath(), "the socket's own entry is never followed: only directories count");
    }
    try (UnixPath p = open(inShared + "/s.sock")) {
      assertFalse(p.bindsByPath(), "sub could be renamed away and replaced by anyone");
    }
    try (UnixPath p = open(theirs + "/s.sock")) {
      assertFalse(p.bindsByPath(), "nobody owns theirs and may replace it");
    }
    try (UnixPath p = UnixPath.open(theirs + "/s.sock", 65534)) {
      assertTrue(p.bindsByPath(), "for nobody itself it is its own directory");
    }
    try (UnixPath p = open(mine + "/../mine/s.sock")) {
      assertFalse(p.bindsByPath());
    }
    // either way the socket is made in the directory that was opened, and works
    for (Path dir : new Path[] {mine, inShared}) {
      UnixPath.Bound b = bind(dir + "/s.sock");
      try (Fd c = Sockets.connectUnix(dir + "/s.sock")) {
        assertTrue(c.isOpen());
      } finally {
        b.fd().close();
      }
    }
  }

  @Test
  void aRegularFileIsNeverReplaced() throws Exception {
    Path file = tmp.resolve("data");
    Files.writeString(file, "keep me");
    PosixException e = assertThrows(PosixException.class, () -> bind(file.toString()));
    assertEquals(17, e.errno()); // EEXIST
    assertEquals("keep me", Files.readString(file));
    Files.createDirectory(tmp.resolve("dir"));
    assertEquals(17, assertThrows(PosixException.class, () -> bind(tmp + "/dir")).errno());
    Files.createSymbolicLink(tmp.resolve("dangling"), tmp.resolve("nowhere"));
    assertEquals(17, assertThrows(PosixException.class, () -> bind(tmp + "/dangling")).errno());
    assertFalse(Files.exists(tmp.resolve("nowhere"), LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void aLiveSocketIsKeptAndAStaleOneReplaced() throws Exception {
    String path = tmp + "/s.sock";
    UnixPath.Bound live = bind(path);
    try {
      assertEquals(17, assertThrows(PosixException.class, () -> bind(path)).errno());
      try (Fd c = Sockets.connectUnix(path)) {
        assertTrue(c.isOpen()); // still the first socket's
      }
    } finally {
      live.fd().close();
    }
    // closed, its file left behind: stale
    try (UnixPath p = open(path)) {
      assertTrue(p.isStaleSocket());
    }
    UnixPath.Bound again = bind(path);
    try (Fd c = Sockets.connectUnix(path)) {
      assertTrue(c.isOpen());
    } finally {
      again.fd().close();
    }
  }

  @Test
  void unlinkOnlyWhileItIsStillTheBoundFile() throws Exception {
    String path = tmp + "/s.sock";
    UnixPath.Bound b = bind(path);
    b.fd().close();
    Files.delete(Path.of(path));
    Files.writeString(Path.of(path), "someone else's");
    try (UnixPath p = open(path)) {
      assertFalse(p.unlinkIf(b.dev(), b.ino()));
    }
    assertEquals("someone else's", Files.readString(Path.of(path)));
    Files.delete(Path.of(path));
    UnixPath.Bound c = bind(path);
    c.fd().close();
    try (UnixPath p = open(path)) {
      assertTrue(p.unlinkIf(c.dev(), c.ino()));
      assertFalse(p.unlinkIf(c.dev(), c.ino()));
    }
    assertFalse(Files.exists(Path.of(path), LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void chmodNeverFollowsALink() throws Exception {
    String path = tmp + "/s.sock";
    UnixPath.Bound b = bind(path);
    try (UnixPath p = open(path)) {
      p.chmod(b.dev(), b.ino(), 0640);
      assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(Path.of(path), LinkOption.NOFOLLOW_LINKS)));
      Path target = tmp.resolve("target");
      Files.writeString(target, "x");
      Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-------"));
      Files.delete(Path.of(path));
      Files.createSymbolicLink(Path.of(path), target);
      assertThrows(PosixException.class, () -> p.chmod(b.dev(), b.ino(), 0666));
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    } finally {
      b.fd().close();
    }
  }

  /** setfsuid and friends change the calling thread only: another thread stays root meanwhile. */
  @Test
  void fsIdentityIsPerThread() throws Exception {
    Path rootOnly = Files.createDirectory(tmp.resolve("rootonly"));
    Files.setPosixFilePermissions(rootOnly, PosixFilePermissions.fromString("rwx------"));
    Path open = Files.createDirectory(tmp.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    AtomicReference<String> other = new AtomicReference<>();
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    // started before: a thread created while another identity is in effect would inherit it
    Thread t = new Thread(() -> {
      try {
        go.await();
        UnixPath.Bound b = bind(rootOnly + "/t.sock");
        b.fd().close();
        other.set("ok");
      } catch (PosixException | InterruptedException e) {
        other.set(e.toString());
      }
    });
    t.start();
    try (FsIdentity as = FsIdentity.become(65534, 65534, new int[0])) {
      assertEquals(13, assertThrows(PosixException.class, () -> bind(rootOnly + "/s.sock")).errno()); // EACCES
      UnixPath.Bound mine = bind(open + "/s.sock");
      mine.fd().close();
      go.countDown();
      t.join();
    }
    assertEquals("ok", other.get());
    assertEquals(65534, Files.getAttribute(open.resolve("s.sock"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
    assertEquals(65534, Files.getAttribute(open.resolve("s.sock"), "unix:gid", LinkOption.NOFOLLOW_LINKS));
    assertEquals(0, Files.getAttribute(rootOnly.resolve("t.sock"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
    // back to root on this thread
    UnixPath.Bound again = bind(rootOnly + "/s.sock");
    again.fd().close();
    assertEquals(0, Files.getAttribute(rootOnly.resolve("s.sock"), "unix:uid", LinkOption.NOFOLLOW_LINKS));
    assertArrayEquals("0".getBytes(StandardCharsets.US_ASCII), Files.readAllLines(Path.of("/proc/thread-self/status")).stream()
        .filter(l -> l.startsWith("Uid:")).map(l -> l.split("\\s+")[4]).findFirst().orElseThrow().getBytes(StandardCharsets.US_ASCII));
  }
}
