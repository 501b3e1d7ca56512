/* User and group database lookups (the reentrant _r calls, which need buffers
 * that may have to grow: simpler here than through JNA structures). */
#include "papa.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BUF (1 << 20)

/* 0 with out[0]=uid, out[1]=gid; -ENOENT when unknown; -errno on failure. */
PAPA_EXPORT int papa_getpwnam(const char *name, int *out) {
  size_t size = 4096;
  for (;;) {
    char *buf = malloc(size);
    if (!buf) return -ENOMEM;
    struct passwd pw, *res = NULL;
    int rc = getpwnam_r(name, &pw, buf, size, &res);
    if (rc == ERANGE && size < MAX_BUF) { free(buf); size *= 2; continue; }
    if (rc == 0 && res) { out[0] = (int) pw.pw_uid; out[1] = (int) pw.pw_gid; }
    free(buf);
    return rc != 0 ? -rc : (res ? 0 : -ENOENT);
  }
}

/* 0 with the name in namebuf and gid_out[0]; -ENOENT; -ERANGE when namebuf is too small. */
PAPA_EXPORT int papa_getpwuid(int uid, char *namebuf, int namelen, int *gid_out) {
  size_t size = 4096;
  for (;;) {
    char *buf = malloc(size);
    if (!buf) return -ENOMEM;
    struct passwd pw, *res = NULL;
    int rc = getpwuid_r((uid_t) uid, &pw, buf, size, &res);
    if (rc == ERANGE && size < MAX_BUF) { free(buf); size *= 2; continue; }
    int r = rc != 0 ? -rc : (res ? 0 : -ENOENT);
    if (r == 0) {
      if (strlen(pw.pw_name) >= (size_t) namelen) r = -ERANGE;
      else { strcpy(namebuf, pw.pw_name); gid_out[0] = (int) pw.pw_gid; }
    }
    free(buf);
    return r;
  }
}

PAPA_EXPORT int papa_getgrnam(const char *name, int *gid_out) {
  size_t size = 4096;
  for (;;) {
    char *buf = malloc(size);
    if (!buf) return -ENOMEM;
    struct group gr, *res = NULL;
    int rc = getgrnam_r(name, &gr, buf, size, &res);
    if (rc == ERANGE && size < MAX_BUF) { free(buf); size *= 2; continue; }
    if (rc == 0 && res) gid_out[0] = (int) gr.gr_gid;
    free(buf);
    return rc != 0 ? -rc : (res ? 0 : -ENOENT);
  }
}

PAPA_EXPORT int papa_getgrgid(int gid) {
  size_t size = 4096;
  for (;;) {
    char *buf = malloc(size);
    if (!buf) return -ENOMEM;
    struct group gr, *res = NULL;
    int rc = getgrgid_r((gid_t) gid, &gr, buf, size, &res);
    if (rc == ERANGE && size < MAX_BUF) { free(buf); size *= 2; continue; }
    free(buf);
    return rc != 0 ? -rc : (res ? 0 : -ENOENT);
  }
}

/* Returns the number of groups (gid included); fills groups when it fits,
 * otherwise returns -ERANGE with the needed count in *needed. */
PAPA_EXPORT int papa_getgrouplist(const char *user, int gid, int *groups, int max, int *needed) {
  int n = max;
  int rc = getgrouplist(user, (gid_t) gid, (gid_t *) groups, &n);
  *needed = n;
  return rc < 0 ? -ERANGE : n;
}
