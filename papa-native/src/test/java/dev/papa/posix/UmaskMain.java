package dev.papa.posix;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Run in a child JVM by SpawnTest (the umask is the whole process's): binds a unix socket
 * under umask 077 on one thread while spawning {@code sh -c umask} without a umask on another,
 * as the daemon's loop and spawn lane may; prints every umask the children reported.
 */
public final class UmaskMain {
  public static void main(String[] args) throws Exception {
    Processes.startUmask();
    Path dir = Files.createTempDirectory("papa-umask");
    Thread binder = new Thread(() -> {
      try {
        for (int i = 0; i < 2000; i++) {
          Path p = dir.resolve("s" + i);
          Sockets.bindUnix(Sockets.Type.STREAM, p.toString(), 1, 077).close();
          Files.delete(p);
        }
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    binder.start();
    java.util.TreeSet<String> seen = new java.util.TreeSet<>();
    while (binder.isAlive()) seen.add(TestSupport.run(new SpawnSpec(List.of("/bin/sh", "-c", "umask")), null).strip());
    binder.join();
    Files.delete(dir);
    System.out.println(String.join(" ", seen));
  }
}
