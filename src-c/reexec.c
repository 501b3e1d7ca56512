/*
 * In-place upgrade of the daemon (docs/PROTOCOL.md, "Upgrading the daemon in place"):
 * a sealed memfd carries the state, and papa_reexec replaces the whole multi-threaded
 * JVM by a new program in the same pid, keeping exactly the descriptors it is given.
 */
#include "papa.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif

extern char **environ;

/* memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING); the descriptor or -errno. */
PAPA_EXPORT int papa_memfd(const char *name) {
  int fd = (int) syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  return fd < 0 ? -errno : fd;
}

static int set_cloexec(int fd, int on) {
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0) return -errno;
  int nf = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
  if (nf != fl && fcntl(fd, F_SETFD, nf) < 0) return -errno;
  return 0;
}

/* Every descriptor from 3 up close-on-exec: the JVM opens some of its own without it. */
static void all_cloexec(void) {
  if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return;
  DIR *d = opendir("/proc/self/fd"); /* kernel < 5.11: walk the table */
  if (!d) return;
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (fd >= 3 && fd != self) set_cloexec(fd, 1);
  }
  closedir(d);
}

/*
 * Marks everything but keep[] close-on-exec, clears it on keep[], unblocks every signal
 * (the mask survives execve; JVM threads block some) and execs path with argv and the
 * current environment. Returns only on failure: -errno, with keep[] close-on-exec again
 * and the mask restored, so the daemon can go on serving.
 */
PAPA_EXPORT int papa_reexec(const char *path, char *const argv[], const int *keep, int nkeep) {
  all_cloexec();
  for (int i = 0; i < nkeep; i++) {
    int r = set_cloexec(keep[i], 0);
    if (r < 0) {
      for (int j = 0; j < i; j++) set_cloexec(keep[j], 1);
      return r;
    }
  }
  sigset_t none, old;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &old);
  execve(path, argv, environ);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  for (int i = 0; i < nkeep; i++) set_cloexec(keep[i], 1);
  return -err;
}
