/*
 * papa_spawn: start a child process from a JVM without copying its page tables.
 *
 * clone(CLONE_VM|CLONE_VFORK) runs the child on a private mmap'd stack inside the
 * parent's address space (the way glibc's posix_spawn does) while the calling
 * thread is suspended until the child execs or exits. Everything the child needs
 * is prepared here, before clone; the child itself only makes async-signal-safe
 * system calls: it must not allocate, lock, or touch anything a JVM thread owns.
 *
 * A failing child stores {step, errno} into the parent's struct (shared memory)
 * and _exit(127)s; the parent reaps it, closes what it created and reports.
 */
#include "papa.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>


#define CHILD_STACK_SIZE (128 * 1024)

/* The kernel's struct sigaction (x86-64 and arm64 both have sa_restorer). Used
 * through the raw system call because glibc's sigaction refuses its internal
 * signals 32 and 33, which a JVM may have set to SIG_IGN: that would survive exec. */
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

struct child_args {
  char *const *paths;      /* exec candidates, NULL-terminated */
  char *const *argv;
  char *const *envp;
  char *listen_pid_digits; /* room for 20 digits + NUL inside an envp string, or NULL */
  int new_session;
  int nmoves;              /* stdio 0..2 first, then pass fds */
  const int *move_src;
  const int *move_dst;
  int *move_tmp;
  int nkeep;
  const int *keep;
  int nopen;               /* sorted, unique descriptors that stay open (>= 3 only) */
  const int *open_sorted;
  int dup_base;
  int nrl;
  const int *rl_res;
  const long long *rl_soft;
  const long long *rl_hard;
  int ngroups;             /* -1: leave groups alone */
  const gid_t *groups;
  int set_groups;          /* the parent may set groups (CAP_SETGID): only then are they set */
  int gid, uid;            /* -1: leave alone; equal to the daemon's own: nothing to change */
  const char *cwd;         /* NULL: inherit */
  int after_ids;           /* PAPA_AFTER_IDS_*: steps taken as the new user rather than before the change */
  int umask_val;           /* -1: inherit */
  volatile int step;
  volatile int err;
};

static void close_fds_from(int from, int to_inclusive) {
  if (from > to_inclusive) return;
  /* Mark the range close-on-exec (kernel >= 5.11) instead of closing it here: closing costs
   * O(open descriptors) and would run while the parent (CLONE_VFORK) waits, whereas execve
   * releases the parent before it closes close-on-exec descriptors. With 15,000 descriptors
   * open this takes ~2.5 ms off every spawn. If execve fails, _exit closes them. */
  if (syscall(SYS_close_range, (unsigned) from, (unsigned) to_inclusive, CLOSE_RANGE_CLOEXEC) == 0) return;
  if (syscall(SYS_close_range, (unsigned) from, (unsigned) to_inclusive, 0u) == 0) return;
  /* close_range unavailable (kernel < 5.9): close one by one up to the limit. */
  struct rlimit rl;
  long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) max = (long) rl.rlim_cur;
  for (long fd = from; fd <= to_inclusive && fd < max; fd++) close((int) fd);
}

__attribute__((noreturn)) static void child_fail(struct child_args *a, int step, int err) {
  a->err = err;
  a->step = step;
  _exit(127);
}

static void set_limits(struct child_args *a) {
  for (int i = 0; i < a->nrl; i++) {
    struct rlimit rl;
    rl.rlim_cur = (rlim_t) a->rl_soft[i];
    rl.rlim_max = (rlim_t) a->rl_hard[i];
    if (setrlimit(a->rl_res[i], &rl) < 0) child_fail(a, PAPA_STEP_RLIMIT, errno);
  }
}

static int child_main(void *p) {
  struct child_args *a = p;

  /* Reset every disposition while all signals are still blocked (the parent
   * blocked them before clone): no JVM handler may ever run in this child,
   * and SIG_IGN would survive exec. SIGKILL/SIGSTOP and glibc's internal
   * signals refuse; that's fine. */
  struct kernel_sigaction ksa;
  memset(&ksa, 0, sizeof ksa);
  ksa.handler = (void *) SIG_DFL;
  for (long s = 1; s < _NSIG; s++) syscall(SYS_rt_sigaction, s, &ksa, NULL, sizeof ksa.mask);

  if (a->new_session && setsid() < 0) child_fail(a, PAPA_STEP_SETSID, errno);

  /* Move every descriptor that goes to a chosen number above all the targets
   * first, then into place: this handles any overlap (3->4, 4->3, 1->3...). */
  for (int i = 0; i < a->nmoves; i++) {
    int t = fcntl(a->move_src[i], F_DUPFD_CLOEXEC, a->dup_base);
    if (t < 0) child_fail(a, PAPA_STEP_DUP, errno);
    a->move_tmp[i] = t;
  }
  for (int i = 0; i < a->nmoves; i++) {
    /* dup2 leaves FD_CLOEXEC clear on the new descriptor. */
    if (dup2(a->move_tmp[i], a->move_dst[i]) < 0) child_fail(a, PAPA_STEP_DUP, errno);
  }
  for (int i = 0; i < a->nkeep; i++) {
    int fl = fcntl(a->keep[i], F_GETFD);
    if (fl < 0 || fcntl(a->keep[i], F_SETFD, fl & ~FD_CLOEXEC) < 0) child_fail(a, PAPA_STEP_DUP, errno);
  }
  /* Close everything else >= 3 (including the temporary copies). */
  int prev = 2;
  for (int i = 0; i < a->nopen; i++) {
    int o = a->open_sorted[i];
    close_fds_from(prev + 1, o - 1);
    prev = o;
  }
  close_fds_from(prev + 1, (int) (~0u >> 1));

  if (!(a->after_ids & PAPA_AFTER_IDS_RLIMITS)) set_limits(a);
  /* An administrator's process enters its directory with the daemon's rights, before it
   * becomes the user (like the reference, and Circus without papa); a principal's only after. */
  if (a->cwd && !(a->after_ids & PAPA_AFTER_IDS_CWD) && chdir(a->cwd) < 0) child_fail(a, PAPA_STEP_CHDIR, errno);
  /* Raw system calls: glibc's set*id wrappers would signal the JVM's threads
   * (they think this process is the multi-threaded parent). Ids that are already the
   * daemon's own (real, effective and saved) are left alone, so a daemon without privileges
   * can start processes "as" itself; another id then fails with EPERM at its step. */
  if (a->set_groups && a->ngroups >= 0 && syscall(SYS_setgroups, (long) a->ngroups, a->groups) < 0)
    child_fail(a, PAPA_STEP_SETGROUPS, errno);
  if (a->gid >= 0) {
    gid_t r, e, s;
    if (syscall(SYS_getresgid, &r, &e, &s) < 0 || r != (gid_t) a->gid || e != (gid_t) a->gid || s != (gid_t) a->gid) {
      if (syscall(SYS_setgid, (long) a->gid) < 0) child_fail(a, PAPA_STEP_SETGID, errno);
    }
  }
  if (a->uid >= 0) {
    uid_t r, e, s;
    if (syscall(SYS_getresuid, &r, &e, &s) < 0 || r != (uid_t) a->uid || e != (uid_t) a->uid || s != (uid_t) a->uid) {
      if (syscall(SYS_setuid, (long) a->uid) < 0) child_fail(a, PAPA_STEP_SETUID, errno);
    }
  }
  /* A principal's limits are set as that user, so none can exceed what the user could set itself. */
  if (a->after_ids & PAPA_AFTER_IDS_RLIMITS) set_limits(a);
  if (a->cwd && (a->after_ids & PAPA_AFTER_IDS_CWD) && chdir(a->cwd) < 0) child_fail(a, PAPA_STEP_CHDIR, errno);
  if (a->umask_val >= 0) umask((mode_t) a->umask_val);

  if (a->listen_pid_digits) {
    char tmp[24];
    int n = 0;
    unsigned long v = (unsigned long) getpid();
    do { tmp[n++] = (char) ('0' + v % 10); v /= 10; } while (v);
    for (int i = 0; i < n; i++) a->listen_pid_digits[i] = tmp[n - 1 - i];
    a->listen_pid_digits[n] = '\0';
  }

  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, (long) SIG_SETMASK, &none, NULL, sizeof none);

  /* execvp's rules: skip candidates that are missing; EACCES wins at the end. */
  int err = ENOENT, eacces = 0;
  for (char *const *path = a->paths; *path; path++) {
    execve(*path, a->argv, a->envp);
    err = errno;
    if (err == EACCES) eacces = 1;
    else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT) break;
  }
  if (eacces && (err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT)) err = EACCES;
  child_fail(a, PAPA_STEP_EXEC, err);
}

static int cmp_int(const void *x, const void *y) {
  int a = *(const int *) x, b = *(const int *) y;
  return (a > b) - (a < b);
}

/* Whether this process may set its supplementary groups (CAP_SETGID in its effective set). */
static int may_set_groups(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &h, d) < 0) return geteuid() == 0;
  return (d[CAP_SETGID / 32].effective & (1u << (CAP_SETGID % 32))) != 0;
}

static void close_if(int fd) {
  if (fd >= 0) close(fd);
}

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/* Under the keeper (src-c/keeper.c) children are the keeper's (CLONE_PARENT): it reaps them
 * and keeps their exit statuses while no JVM runs. Process-wide: a daemon is under a keeper
 * or not for its whole life. */
static volatile int clone_parent;

PAPA_EXPORT void papa_spawn_clone_parent(int on) {
  clone_parent = on;
}

/* The size asked of each output pipe (F_SETPIPE_SZ on the read end), so a process can write
 * that much while nobody reads (a JVM restarting under the keeper); 0: the kernel's default.
 * A pipe the kernel refuses to enlarge (per-user pipe limits, pipe-max-size) keeps its size. */
static volatile int pipe_size;

PAPA_EXPORT void papa_spawn_pipe_size(int bytes) {
  pipe_size = bytes;
}

/* pipe2 with a nonblocking read end of the asked size. */
static int output_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) < 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) return -1;
  if (pipe_size > 0) (void) fcntl(fds[0], F_SETPIPE_SZ, pipe_size);
  return 0;
}

/*
 * Returns 0 and fills result[PID, PIDFD, STDOUT, STDERR] (read ends, -1 when not
 * a pipe), or -1 with result[STEP, ERRNO] set and nothing left behind.
 * stdin_fd: the descriptor the child gets as fd 0 (a socket, inetd style), or -1 for /dev/null.
 */
PAPA_EXPORT int papa_spawn(char *const *paths, char *const *argv, char *const *envp,
                           char *listen_pid_digits, int stdin_fd, int stdout_mode, int stderr_mode,
                           const int *keep, int nkeep,
                           const int *pass_src, const int *pass_dst, int npass,
                           const int *rl_res, const long long *rl_soft, const long long *rl_hard, int nrl,
                           const int *groups, int ngroups, int gid, int uid,
                           const char *cwd, int after_ids, int umask_val, int new_session, int *result) {
  int devnull = -1, out[2] = {-1, -1}, errp[2] = {-1, -1};
  int *ints = NULL;
  void *stack = MAP_FAILED;
  int step = PAPA_STEP_PREPARE, err = 0;
  pid_t pid = -1;
  int pidfd = -1;

  for (int i = 0; i < PAPA_R_COUNT; i++) result[i] = -1;
  if (!paths || !paths[0] || !argv || !envp || nkeep < 0 || npass < 0 || nrl < 0) { err = EINVAL; goto fail; }

  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) { err = errno; goto fail; }
  int src_out = devnull, src_err = devnull;
  if (stdout_mode == PAPA_OUT_PIPE) {
    if (output_pipe(out) < 0) { err = errno; goto fail; }
    src_out = out[1];
  }
  if (stderr_mode == PAPA_OUT_PIPE) {
    if (output_pipe(errp) < 0) { err = errno; goto fail; }
    src_err = errp[1];
  } else if (stderr_mode == PAPA_OUT_STDOUT) {
    src_err = src_out;
  }

  int nmoves = 3 + npass, nopen_max = npass + nkeep;
  ints = malloc(sizeof(int) * (size_t) (3 * nmoves + nopen_max + 1));
  if (!ints) { err = ENOMEM; goto fail; }
  int *msrc = ints, *mdst = ints + nmoves, *mtmp = ints + 2 * nmoves, *open_set = ints + 3 * nmoves;
  msrc[0] = stdin_fd >= 0 ? stdin_fd : devnull; mdst[0] = 0;
  msrc[1] = src_out; mdst[1] = 1;
  msrc[2] = src_err; mdst[2] = 2;
  int maxfd = 2, nopen = 0;
  for (int i = 0; i < npass; i++) {
    if (pass_dst[i] < 3 || pass_src[i] < 0) { err = EINVAL; goto fail; }
    msrc[3 + i] = pass_src[i];
    mdst[3 + i] = pass_dst[i];
    open_set[nopen++] = pass_dst[i];
  }
  for (int i = 0; i < nkeep; i++) {
    if (keep[i] < 3) { err = EINVAL; goto fail; }
    open_set[nopen++] = keep[i];
  }
  qsort(open_set, (size_t) nopen, sizeof(int), cmp_int);
  int u = 0;
  for (int i = 0; i < nopen; i++)
    if (u == 0 || open_set[u - 1] != open_set[i]) open_set[u++] = open_set[i];
  nopen = u;
  if (nopen > 0 && open_set[nopen - 1] > maxfd) maxfd = open_set[nopen - 1];

  struct child_args a = {
    .paths = paths, .argv = argv, .envp = envp, .listen_pid_digits = listen_pid_digits,
    .new_session = new_session, .nmoves = nmoves, .move_src = msrc, .move_dst = mdst,
    .move_tmp = mtmp, .nkeep = nkeep, .keep = keep, .nopen = nopen, .open_sorted = open_set,
    .dup_base = maxfd + 1, .nrl = nrl, .rl_res = rl_res, .rl_soft = rl_soft, .rl_hard = rl_hard,
    .ngroups = ngroups, .groups = (const gid_t *) groups,
    .set_groups = ngroups >= 0 && may_set_groups(), .gid = gid, .uid = uid,
    .cwd = cwd, .after_ids = after_ids, .umask_val = umask_val, .step = PAPA_STEP_NONE, .err = 0,
  };

  stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stack == MAP_FAILED) { err = errno; goto fail; }

  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  /* CLONE_PIDFD: the pidfd comes with the clone, before anyone could reap the child (with
   * CLONE_PARENT the keeper reaps it, so a later pidfd_open could find its pid reused). */
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | CLONE_PIDFD | (clone_parent ? CLONE_PARENT : 0);
  pid = clone(child_main, (char *) stack + CHILD_STACK_SIZE, flags, &a, &pidfd);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);

  if (pid < 0) { step = PAPA_STEP_FORK; err = clone_errno; goto fail; }
  if (a.step != PAPA_STEP_NONE) {
    step = a.step;
    err = a.err;
    goto fail_reap;
  }
  if (pidfd < 0) { /* never: CLONE_PIDFD succeeded with the clone */
    err = EBADF;
    kill(pid, SIGKILL);
    goto fail_reap;
  }

  munmap(stack, CHILD_STACK_SIZE);
  free(ints);
  close(devnull);
  close_if(out[1]);
  close_if(errp[1]);
  result[PAPA_R_PID] = pid;
  result[PAPA_R_PIDFD] = pidfd;
  result[PAPA_R_STDOUT] = out[0];
  result[PAPA_R_STDERR] = errp[0];
  return 0;

fail_reap:
  close_if(pidfd);
  /* a child of the keeper (CLONE_PARENT) is the keeper's to reap: ECHILD here */
  if (!clone_parent) while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
fail:
  if (stack != MAP_FAILED) munmap(stack, CHILD_STACK_SIZE);
  free(ints);
  close_if(devnull);
  close_if(out[0]);
  close_if(out[1]);
  close_if(errp[0]);
  close_if(errp[1]);
  result[PAPA_R_STEP] = step;
  result[PAPA_R_ERRNO] = err;
  return -1;
}

/*
 * papa_exec_fds: replaces this process (same pid, so LISTEN_PID stays true) by path, with
 * fds[i] at 3 + i and every other descriptor from 3 + nfds on closed by the exec. For
 * `ctl exec-with-sockets`, whose caller is a JVM: while the JVM's other threads still run,
 * its signal handlers stay installed (exec drops them anyway) and only dispositions set to
 * SIG_IGN, which would survive the exec, are reset. Returns -errno only while nothing has
 * moved yet; once a descriptor sits at 3 + i the JVM cannot go on, so a failing execve
 * writes why to stderr and _exit(127)s, like a shell.
 */
PAPA_EXPORT int papa_exec_fds(const char *path, char *const *argv, char *const *envp, const int *fds, int nfds) {
  if (!path || !argv || !envp || nfds < 0 || nfds > 253) return -EINVAL;
  int tmp[253];
  int base = 3 + nfds;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  for (int i = 0; i < nfds; i++) {
    tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, base);
    if (tmp[i] < 0) {
      int e = errno;
      for (int j = 0; j < i; j++) close(tmp[j]);
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      return -e;
    }
  }
  /* No way back from here. */
  for (int i = 0; i < nfds; i++) {
    if (dup2(tmp[i], 3 + i) < 0) goto fail;  /* dup2 leaves FD_CLOEXEC clear: inherited */
  }
  close_fds_from(base, (int) (~0u >> 1));
  struct kernel_sigaction ksa, prev;
  memset(&ksa, 0, sizeof ksa);
  ksa.handler = (void *) SIG_DFL;
  for (long s = 1; s < _NSIG; s++) {
    if (syscall(SYS_rt_sigaction, s, NULL, &prev, sizeof prev.mask) == 0 && prev.handler == (void *) SIG_IGN)
      syscall(SYS_rt_sigaction, s, &ksa, NULL, sizeof ksa.mask);
  }
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, (long) SIG_SETMASK, &none, NULL, sizeof none);
  execve(path, argv, envp);
fail:;
  int e = errno;
  char msg[512];
  int n = snprintf(msg, sizeof msg, "papa: cannot execute %s: %s\n", path, strerror(e));
  if (n > 0) {
    ssize_t w = write(2, msg, (size_t) (n < (int) sizeof msg ? n : (int) sizeof msg - 1));
    (void) w;
  }
  _exit(127);
}
