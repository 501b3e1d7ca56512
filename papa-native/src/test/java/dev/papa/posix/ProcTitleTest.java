package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ProcTitleTest {
  private static String[] titleOf(String... title) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED",
        "-cp", System.getProperty("java.class.path"), TitleMain.class.getName(), title[0], title.length > 1 ? title[1] : ""))
        .redirectErrorStream(true).start();
    try {
      BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("ready", r.readLine());
      byte[] cmdline = Files.readAllBytes(Path.of("/proc/" + p.pid() + "/cmdline"));
      String comm = Files.readString(Path.of("/proc/" + p.pid() + "/comm")).trim();
      return new String[] {new String(cmdline, StandardCharsets.UTF_8), comm};
    } finally {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void titleShowsInCmdlineAndComm() throws Exception {
    String title = "papa daemon from test";
    String[] got = titleOf(title);
    assertTrue(got[0].startsWith(title + "\0"), got[0]);
    assertTrue(got[0].substring(title.length()).chars().allMatch(c -> c == 0), "rest NUL-filled: " + got[0]);
    assertEquals("papa daemon fro", got[1]);
  }

  @Test
  void longTitleIsTruncatedToTheArgvArea() throws Exception {
    String[] got = titleOf("x", "100000");
    assertTrue(got[0].length() > 100, "argv area of a java command line is long");
    assertEquals(got[0].length() - 1, got[0].indexOf('\0'), "title fills the area but its last byte");
    assertEquals("xxxxxxxxxxxxxxx", got[1]);
  }
}
