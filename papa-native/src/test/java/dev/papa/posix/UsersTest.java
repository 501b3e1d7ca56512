package dev.papa.posix;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class UsersTest {
  @Test
  void namesAndIds() {
    assertEquals(0, Users.uid("root").orElseThrow());
    assertEquals(65534, Users.uid("nobody").orElseThrow());
    assertTrue(Users.uid("no-such-user-papa").isEmpty());
    assertEquals("root", Users.userName(0).orElseThrow());
    assertTrue(Users.userName(987654).isEmpty());
    assertEquals(65534, Users.primaryGid(65534).orElseThrow());
    assertEquals(0, Users.gid("root").orElseThrow());
    assertTrue(Users.gid("no-such-group-papa").isEmpty());
    assertTrue(Users.groupExists(0));
    assertFalse(Users.groupExists(987654));
    int[] g = Users.groupsOf("root", 0);
    assertTrue(Arrays.stream(g).anyMatch(x -> x == 0), Arrays.toString(g));
    assertArrayEquals(new int[] {65534}, Users.groupsOf("nobody", 65534));
  }
}
