/* Unix socket paths that never follow a symbolic link, and a thread's file-system identity.
 *
 * A socket path is split into its directory, opened with O_PATH without following any
 * symbolic link, and the entry name. bind() and connect() have no *at() form, so they are
 * given "/proc/self/fd/DIRFD/NAME": the kernel resolves the magic link to that very
 * directory (not to a path that could be swapped since), then looks NAME up inside it.
 * fchdir() would do the same but changes the working directory of every thread of the JVM.
 *
 * setfsuid/setfsgid and setgroups act on the calling thread only when made as raw system
 * calls (glibc's setgroups wrapper would apply it to every thread of the process), so the
 * event loop thread can create a file as a user while the JVM's other threads stay root. */
#include "papa.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef RESOLVE_NO_SYMLINKS
#define RESOLVE_NO_SYMLINKS 0x04
#endif

struct papa_open_how { uint64_t flags, mode, resolve; };

static int is_symlink_at(int dirfd, const char *name) {
  struct stat st;
  return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* From "/", one component at a time, each opened with O_PATH|O_DIRECTORY|O_NOFOLLOW, so a
 * symbolic link anywhere is ELOOP. With trusted != NULL it also finds whether nobody but root
 * and UID can change where the path leads: every directory that holds a component is writable
 * by no one else, or is sticky (owned by root or UID) and the component belongs to root or UID;
 * ".." on the way counts as untrusted. The directory's descriptor, or -errno. */
static int walk(const char *path, int uid, int *trusted) {
  int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat parent, st;
  if (trusted) {
    *trusted = 1;
    if (fstat(fd, &parent) < 0) { int e = errno; close(fd); return -e; }
  }
  char comp[256];
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    size_t n = strcspn(p, "/");
    if (n >= sizeof comp) { close(fd); return -ENAMETOOLONG; }
    memcpy(comp, p, n);
    comp[n] = '\0';
    p += n;
    if (strcmp(comp, ".") == 0) continue;
    if (trusted && strcmp(comp, "..") == 0) *trusted = 0;
    int next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      int e = errno;
      if (e == ENOTDIR && is_symlink_at(fd, comp)) e = ELOOP; /* O_PATH|O_NOFOLLOW on a link: ENOTDIR */
      close(fd);
      return -e;
    }
    close(fd);
    fd = next;
    if (trusted && *trusted) {
      if (fstat(fd, &st) < 0) { int e = errno; close(fd); return -e; }
      int others_write = (parent.st_uid != 0 && parent.st_uid != (uid_t) uid) || (parent.st_mode & (S_IWGRP | S_IWOTH));
      int kept = (parent.st_mode & S_ISVTX) && (parent.st_uid == 0 || parent.st_uid == (uid_t) uid)
                 && (st.st_uid == 0 || st.st_uid == (uid_t) uid);
      if (others_write && !kept) *trusted = 0;
      parent = st;
    }
  }
  return fd;
}

/* The fallback for kernels without openat2 (< 5.6), exported for the tests. */
PAPA_EXPORT int papa_open_dir_walk(const char *path) {
  return walk(path, -1, NULL);
}

/* An O_PATH descriptor of the absolute directory path, reached without following any
 * symbolic link (ELOOP when one is on the path); -errno on failure. */
PAPA_EXPORT int papa_open_dir_nofollow(const char *path) {
  if (path[0] != '/') return -EINVAL;
  struct papa_open_how how = { O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS };
  long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  if (fd >= 0) return (int) fd;
  if (errno == ENOSYS || errno == EPERM) return walk(path, -1, NULL); /* EPERM: seccomp filters that refuse it */
  return -errno; /* ELOOP: a symbolic link on the way */
}

/* lstat of NAME in DIRFD (NAME "" : DIRFD itself): out = {dev, ino, mode, uid}. */
PAPA_EXPORT int papa_stat_at(int dirfd, const char *name, long long *out) {
  struct stat st;
  int flags = AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH);
  if (fstatat(dirfd, name, &st, flags) < 0) return -errno;
  out[0] = (long long) st.st_dev;
  out[1] = (long long) st.st_ino;
  out[2] = (long long) st.st_mode;
  out[3] = (long long) st.st_uid;
  return 0;
}

/* Unlinks NAME in DIRFD only while it is the socket file (dev, ino): 0, -ESTALE when it is
 * another file now, -errno otherwise. */
PAPA_EXPORT int papa_unlink_if(int dirfd, const char *name, long long dev, long long ino) {
  long long st[4];
  int r = papa_stat_at(dirfd, name, st);
  if (r < 0) return r;
  /* a socket file still: an inode number freed by someone else's unlink may be reused by a new file */
  if (st[0] != dev || st[1] != ino || (st[2] & S_IFMT) != S_IFSOCK) return -ESTALE;
  return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
}

/* 1 when a connect to the unix socket file at PATH is refused (nobody listens: stale), 0 when
 * something answers or it is busy, -errno when it cannot be asked (ENOENT: gone). */
PAPA_EXPORT int papa_unix_refused(const char *path) {
  struct sockaddr_un a;
  size_t n = strlen(path);
  if (n >= sizeof a.sun_path) return -ENAMETOOLONG;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, path, n);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int r = connect(fd, (struct sockaddr *) &a, (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1));
  int e = errno;
  close(fd);
  if (r == 0) return 0;
  if (e == ECONNREFUSED) return 1;
  if (e == EAGAIN || e == EPROTOTYPE || e == EINPROGRESS) return 0; /* full backlog, a datagram socket: alive */
  return -e;
}

/* This thread's supplementary groups (up to max) into saved; the count, or -errno. */
PAPA_EXPORT int papa_thread_groups(int *saved, int max) {
  long n = syscall(SYS_getgroups, (long) max, saved);
  return n < 0 ? -errno : (int) n;
}

/* Sets this thread's file-system uid, gid and supplementary groups, in the order that keeps
 * the privilege to set the next one (groups and gid while fsuid is still the caller's).
 * 0, or -EPERM when the kernel did not take an id (setfs*id report no error themselves). */
PAPA_EXPORT int papa_set_fs_identity(int uid, int gid, const int *groups, int ngroups) {
  if (ngroups >= 0 && syscall(SYS_setgroups, (long) ngroups, groups) < 0) return -errno;
  syscall(SYS_setfsgid, (long) gid);
  if ((int) syscall(SYS_setfsgid, -1L) != gid) return -EPERM;
  syscall(SYS_setfsuid, (long) uid);
  if ((int) syscall(SYS_setfsuid, -1L) != uid) return -EPERM;
  return 0;
}

/* Back to the thread's own identity: fsuid first (it brings back the file capabilities that
 * setting groups and fsgid need), then fsgid and groups. */
PAPA_EXPORT int papa_restore_fs_identity(int uid, int gid, const int *groups, int ngroups) {
  syscall(SYS_setfsuid, (long) uid);
  if ((int) syscall(SYS_setfsuid, -1L) != uid) return -EPERM;
  syscall(SYS_setfsgid, (long) gid);
  if ((int) syscall(SYS_setfsgid, -1L) != gid) return -EPERM;
  if (syscall(SYS_setgroups, (long) ngroups, groups) < 0) return -errno;
  return 0;
}

/* chmod of NAME in DIRFD only while it is the file (dev, ino), never through a symbolic link:
 * the entry is opened with O_PATH|O_NOFOLLOW and changed through its /proc/self/fd link
 * (Linux has no fchmodat(AT_SYMLINK_NOFOLLOW) before 6.6). 0, -ESTALE, or -errno. */
PAPA_EXPORT int papa_chmod_if(int dirfd, const char *name, long long dev, long long ino, int mode) {
  int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  int r = 0;
  if (fstat(fd, &st) < 0) r = -errno;
  else if ((long long) st.st_dev != dev || (long long) st.st_ino != ino || !S_ISSOCK(st.st_mode)) r = -ESTALE;
  else {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    if (chmod(link, (mode_t) mode) < 0) r = -errno;
  }
  close(fd);
  return r;
}

/* Whether nobody but root and UID can change which directory PATH leads to (see walk), and it
 * still leads to DEV/INO, the directory papa_open_dir_nofollow opened. Then binding by the path
 * itself reaches that directory, and the socket keeps its real path as its address
 * (getsockname, ss, /proc/net/unix). 1 yes, 0 no, -errno. */
PAPA_EXPORT int papa_dir_trusted(const char *path, int uid, long long dev, long long ino) {
  int trusted;
  int fd = walk(path, uid, &trusted);
  if (fd < 0) return fd;
  struct stat st;
  if (fstat(fd, &st) < 0 || (long long) st.st_dev != dev || (long long) st.st_ino != ino) trusted = 0;
  close(fd);
  return trusted;
}

/* Opens the log file for appending: never through a symbolic link at PATH (O_NOFOLLOW: ELOOP),
 * and only a regular file (-EINVAL otherwise; O_NONBLOCK while checking, so a FIFO placed
 * there cannot hang the open). Created 0640 when missing. fd or -errno. */
PAPA_EXPORT int papa_open_log(const char *path) {
  /* Its directory is reached without following a symbolic link, as a socket's: a directory on
   * the way that someone else owns could otherwise be swapped for a link to anywhere. */
  const char *slash = strrchr(path, '/');
  if (path[0] != '/' || slash[1] == '\0') return -EINVAL;
  char dir[4096];
  size_t n = slash == path ? 1 : (size_t) (slash - path);
  if (n >= sizeof dir) return -ENAMETOOLONG;
  memcpy(dir, path, n);
  dir[n] = '\0';
  int dfd = papa_open_dir_nofollow(dir);
  if (dfd < 0) return dfd;
  int fd = openat(dfd, slash + 1, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0640);
  int e = errno;
  close(dfd);
  if (fd < 0) return -e;
  struct stat st;
  if (fstat(fd, &st) < 0) { int e = errno; close(fd); return -e; }
  if (!S_ISREG(st.st_mode)) { close(fd); return -EINVAL; }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) { int e = errno; close(fd); return -e; }
  return fd;
}
