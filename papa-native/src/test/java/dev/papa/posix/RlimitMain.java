package dev.papa.posix;

import java.io.BufferedReader;
import java.io.InputStreamReader;

/**
 * Run in a child JVM by IoEpollTest, so that the test JVM's own limits never change: sets its
 * RLIMIT_CORE soft limit to 0, says what get() reads back, waits for a line on stdin (the test
 * reads /proc/PID/limits meanwhile), restores the limit and says what get() reads then.
 */
public final class RlimitMain {
  public static void main(String[] args) throws Exception {
    long[] cur = Rlimit.CORE.get();
    Rlimit.CORE.set(0, cur[1]);
    System.out.println("set " + Rlimit.CORE.get()[0] + " " + Rlimit.CORE.get()[1]);
    System.out.flush();
    new BufferedReader(new InputStreamReader(System.in)).readLine();
    Rlimit.CORE.set(cur[0], cur[1]);
    long[] back = Rlimit.CORE.get();
    System.out.println("restored " + (back[0] == cur[0] && back[1] == cur[1]));
    System.out.flush();
  }
}
