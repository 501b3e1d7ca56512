package dev.papa.posix;

import java.io.OutputStream;
import java.util.List;

/**
 * Run in a child JVM by ExecTest: writes "state" into a sealed memfd, then re-executes itself as
 * a shell, in the same pid, keeping only the memfd; the shell prints its pid, its descriptors and
 * the memfd's content.
 */
public final class ExecMain {
  public static void main(String[] args) throws Exception {
    Fd memfd = Memfd.create("papa-test");
    try (OutputStream out = Memfd.output(memfd.get())) {
      out.write("state\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
    Memfd.seal(memfd.get());
    Fd[] unrelated = Io.pipe(); // close-on-exec: must not reach the shell
    int fd = memfd.get();
    System.out.println("pid " + ProcessHandle.current().pid() + " memfd " + fd);
    System.out.flush();
    // No pipeline before the listing: the shell would hold the pipes' descriptors meanwhile.
    String script = "echo pid $$; ls /proc/$$/fd; echo end; cat /proc/$$/fd/" + fd + "; exec grep SigBlk /proc/self/status";
    Exec.reexec(List.of("/bin/sh", "-c", script), new int[] {fd});
  }
}
