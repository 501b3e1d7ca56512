package dev.papa.posix;

import dev.papa.posix.internal.Errno;
import dev.papa.posix.internal.LibPapa;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The user and group database (NSS, through the reentrant getpwnam_r family), for
 * the {@code uid=} and {@code gid=} options of {@code make process}. Lookups that
 * fail for any reason report "not found".
 */
public final class Users {
  private Users() {}

  public static OptionalInt uid(String userName) {
    int[] out = new int[2];
    return LibPapa.papa_getpwnam(Errno.cString(userName), out) == 0 ? OptionalInt.of(out[0]) : OptionalInt.empty();
  }

  public static Optional<String> userName(int uid) {
    byte[] name = new byte[1024];
    int[] gid = new int[1];
    if (LibPapa.papa_getpwuid(uid, name, name.length, gid) != 0) return Optional.empty();
    int n = 0;
    while (name[n] != 0) n++;
    return Optional.of(new String(name, 0, n, StandardCharsets.UTF_8));
  }

  /** The user's primary group from the password database. */
  public static OptionalInt primaryGid(int uid) {
    byte[] name = new byte[1024];
    int[] gid = new int[1];
    return LibPapa.papa_getpwuid(uid, name, name.length, gid) == 0 ? OptionalInt.of(gid[0]) : OptionalInt.empty();
  }

  public static OptionalInt gid(String groupName) {
    int[] gid = new int[1];
    return LibPapa.papa_getgrnam(Errno.cString(groupName), gid) == 0 ? OptionalInt.of(gid[0]) : OptionalInt.empty();
  }

  public static boolean groupExists(int gid) {
    return LibPapa.papa_getgrgid(gid) == 0;
  }

  /** getgrouplist: every group of the user, gid included (what initgroups would set). */
  public static int[] groupsOf(String userName, int gid) {
    byte[] user = Errno.cString(userName);
    int max = 64;
    for (int tries = 0; tries < 8; tries++) {
      int[] groups = new int[max];
      int[] needed = new int[1];
      int n = LibPapa.papa_getgrouplist(user, gid, groups, max, needed);
      if (n >= 0) return Arrays.copyOf(groups, n);
      max = Math.max(max * 2, needed[0]);
    }
    return new int[] {gid};
  }
}
