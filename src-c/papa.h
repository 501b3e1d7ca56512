/* libpapa: the C half of papa-native. Every exported function returns a
 * negative errno on failure (never touches Java's idea of errno), so that the
 * JNA direct-mapped callers stay allocation-free on EAGAIN. */
#ifndef PAPA_H
#define PAPA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>

/* Syscalls newer than some C library headers this builds with. Numbers from 424 on are the
 * same on every architecture. */
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define PAPA_EXPORT __attribute__((visibility("default")))

/* Steps, in the order of SpawnException.Step (keep in sync). */
enum papa_step {
  PAPA_STEP_NONE = -1,
  PAPA_STEP_PREPARE = 0,
  PAPA_STEP_FORK,
  PAPA_STEP_SETSID,
  PAPA_STEP_DUP,
  PAPA_STEP_RLIMIT,
  PAPA_STEP_SETGROUPS,
  PAPA_STEP_SETGID,
  PAPA_STEP_SETUID,
  PAPA_STEP_CHDIR,
  PAPA_STEP_UMASK,
  PAPA_STEP_EXEC
};

/* papa_spawn's after_ids flags: steps taken after the identity change, as the new user. */
enum { PAPA_AFTER_IDS_CWD = 1, PAPA_AFTER_IDS_RLIMITS = 2 };

/* Output modes for stdout/stderr. */
enum papa_output { PAPA_OUT_PIPE = 0, PAPA_OUT_NULL = 1, PAPA_OUT_STDOUT = 2 };

/* result[] slots of papa_spawn */
enum { PAPA_R_PID, PAPA_R_PIDFD, PAPA_R_STDOUT, PAPA_R_STDERR, PAPA_R_STEP, PAPA_R_ERRNO, PAPA_R_COUNT };

/* src-c/io.c, also called by the JNI natives of src-c/jni.c */
long papa_read(int fd, void *base, long off, long len);
long papa_write(int fd, const void *base, long off, long len);
int papa_epoll_wait(int epfd, void *buf, int max, int timeout);

#endif
