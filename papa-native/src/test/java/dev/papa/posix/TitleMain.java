package dev.papa.posix;

/** Run in a child JVM by ProcTitleTest: sets the title given as args[0], says so, then waits. */
public final class TitleMain {
  public static void main(String[] args) throws Exception {
    ProcTitle.set(args.length > 1 && !args[1].isEmpty() ? args[0].repeat(Integer.parseInt(args[1])) : args[0]);
    System.out.println("ready");
    System.out.flush();
    Thread.sleep(30_000);
  }
}
