/*
 * papa-keeper: the process the user starts (docs/KEEPER.md). It runs the daemon JVM as its
 * child, restarts it whenever it dies, holds a duplicate of every descriptor the JVM registers
 * (so a JVM's death closes none of them) and hands them all to the next JVM, placed at the
 * numbers the JVM registered them under. It is a subreaper and the parent of the hosted
 * processes (spawned with CLONE_PARENT by the JVM), reaps them, and keeps each exit status
 * until a JVM acknowledges it: exactly once, even when the process ended while no JVM ran.
 *
 * Rules: one thread, one epoll over three descriptors (signalfd, timerfd, the channel); every
 * table is allocated at start and never grows; nothing the JVM sends is trusted (a message is
 * a fixed-size struct, every field is checked, a bad one is logged, rate-limited, and ignored);
 * held descriptors are never polled, so nothing (POLLHUP, EPOLLERR) closes one but a KM_RELEASE.
 *
 * usage: papa-keeper [--log PATH] [--title TITLE] [--max-exits N] -- PROGRAM [ARG...]
 */
#include "papa.h"
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TABLE 524288        /* held descriptors at most, whatever the open-files limit */
#define DEFAULT_MAX_EXITS 65536
#define PAUSE_FIRST_MS 250      /* after the second quick death in a row; the first restarts at once */
#define PAUSE_MAX_MS 10000
#define QUICK_MS 1000           /* a JVM that served less than this long died "quickly" */
#define MSGS_PER_ROUND 256      /* channel messages read per readiness event */
#define LOG_BURST 20            /* log lines per LOG_WINDOW_S, then one line saying how many were left out */
#define LOG_WINDOW_S 10

struct held { int fd; uint8_t kind; };           /* fd -1: empty slot */
struct exit_entry { int pid; int status; int64_t micros; int sent; };

static struct {
  int log_fd;
  int epoll_fd, signal_fd, timer_fd;
  int chan;                    /* keeper's end of the current JVM's channel, -1 while none runs */
  pid_t jvm;                   /* 0 while none runs */
  char **jvm_argv;
  struct held *held;           /* indexed by id, table_size slots */
  int table_size;              /* ids < table_size; keeper copies live at >= table_size */
  int held_count;
  struct exit_entry *exits;    /* exits[0..exit_count) in use */
  int max_exits, exit_count;
  int restarts, quick_deaths;
  int last_death;              /* wait status of the last JVM death, -1: none */
  int64_t started_us, jvm_started_ms, served_ms;
  int ever_served, jvm_served, ending, stopping, stop_signal;
  int hello_cursor;            /* next id whose KM_HELD the current JVM still needs; table_size: all sent */
  int hello_sent;              /* KM_HELLO went out (after every KM_HELD and the exits then known) */
  int want_out;                /* EPOLLOUT on the channel: something could not be sent yet */
  struct rlimit jvm_nofile;
  /* log rate limit */
  int64_t log_window_start; int log_lines; int log_dropped;
} k;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One line to the log, at most LOG_BURST per LOG_WINDOW_S; never allocates. */
__attribute__((format(printf, 1, 2)))
static void klog(const char *fmt, ...) {
  int64_t now = now_ms() / 1000;
  char line[512];
  if (now - k.log_window_start >= LOG_WINDOW_S) {
    if (k.log_dropped > 0) {
      int n = snprintf(line, sizeof line, "papa keeper: %d log lines left out in the last %d s\n", k.log_dropped, LOG_WINDOW_S);
      if (n > 0 && write(k.log_fd, line, (size_t) n) < 0) {}
    }
    k.log_window_start = now;
    k.log_lines = 0;
    k.log_dropped = 0;
  }
  if (k.log_lines >= LOG_BURST) { k.log_dropped++; return; }
  k.log_lines++;
  int n = snprintf(line, sizeof line, "papa keeper: ");
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t) n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  n += m < (int) (sizeof line - (size_t) n - 1) ? m : (int) (sizeof line - (size_t) n - 2);
  line[n++] = '\n';
  if (write(k.log_fd, line, (size_t) n) < 0) {} /* nowhere else to say it */
}

/* "signal 9" / "exit status 1", for a wait status. */
static void describe(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status)) snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
}

/* --- held descriptors ------------------------------------------------------------------- */

static void held_close(uint32_t id) {
  if (k.held[id].fd < 0) return;
  if (close(k.held[id].fd) < 0) klog("close of held %u failed: %s", id, strerror(errno));
  k.held[id].fd = -1;
  k.held_count--;
}

/* Keeps fd (received, close-on-exec) as id, moved above the id range so that placing held
 * descriptors at their ids in a new JVM never overwrites another one. Takes fd in every case. */
static void held_put(uint32_t id, int fd, uint8_t kind) {
  int high = fcntl(fd, F_DUPFD_CLOEXEC, k.table_size);
  int saved = errno;
  close(fd);
  if (high < 0) {
    klog("cannot hold descriptor %u: %s", id, strerror(saved));
    return;
  }
  held_close(id); /* a second KM_HOLD of an id replaces the first */
  k.held[id].fd = high;
  k.held[id].kind = kind;
  k.held_count++;
}

/* --- exit statuses ---------------------------------------------------------------------- */

static int exit_find(int pid) {
  for (int i = 0; i < k.exit_count; i++) if (k.exits[i].pid == pid) return i;
  return -1;
}

/* Sends one message to the current JVM; 0, or -1 when it cannot take it now. */
static int send_msg(uint32_t type, uint32_t id, int64_t a, int64_t b, int64_t c) {
  if (k.chan < 0) return -1;
  struct keeper_msg m = {type, id, a, b, c};
  for (;;) {
    ssize_t n = send(k.chan, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == (ssize_t) sizeof m) return 0;
    if (n < 0 && errno == EINTR) continue;
    return -1; /* EAGAIN: resent later; EPIPE: the JVM is going, its death is handled by SIGCHLD */
  }
}

static void want_output(int on) {
  if (k.chan < 0) return;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0), .data.fd = k.chan};
  if (epoll_ctl(k.epoll_fd, EPOLL_CTL_MOD, k.chan, &ev) < 0) klog("epoll_ctl: %s", strerror(errno));
}

/* Sends what the current JVM has not been told yet: at its start every held descriptor, every
 * exit and KM_HELLO; then each exit as it is reaped. What does not fit in the socket's buffer
 * waits for EPOLLOUT (a cursor over the tables: nothing is queued, nothing allocated). */
static void send_pending(void) {
  if (k.chan < 0) return;
  int blocked = 0;
  for (; k.hello_cursor < k.table_size; k.hello_cursor++) {
    int id = k.hello_cursor;
    if (k.held[id].fd >= 0 && send_msg(KM_HELD, (uint32_t) id, k.held[id].kind, 0, 0) < 0) { blocked = 1; break; }
  }
  for (int i = 0; !blocked && i < k.exit_count; i++) {
    struct exit_entry *e = &k.exits[i];
    if (!e->sent && send_msg(KM_EXITED, 0, e->pid, e->status, e->micros) < 0) blocked = 1;
    else e->sent = 1;
  }
  if (!blocked && !k.hello_sent) {
    if (send_msg(KM_HELLO, (uint32_t) k.restarts, k.started_us, k.last_death, getpid()) < 0) blocked = 1;
    else k.hello_sent = 1;
  }
  if (blocked != k.want_out) {
    k.want_out = blocked;
    want_output(blocked);
  }
}

static void ack_exit(int64_t pid) {
  int i = pid > 0 && pid <= INT32_MAX ? exit_find((int) pid) : -1;
  if (i < 0) { klog("acknowledgement of pid %lld, which has no exit status here: ignored", (long long) pid); return; }
  k.exits[i] = k.exits[--k.exit_count];
}

/* --- the JVM ---------------------------------------------------------------------------- */

static void reset_signals_in_child(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
}

/* In the forked child: the channel at KEEPER_CHANNEL_FD, every held descriptor at its id
 * (sources are all >= table_size, targets below: no move overwrites a source), then exec. */
static void jvm_child(int chan, pid_t keeper) {
  reset_signals_in_child();
  /* the keeper is papa: a JVM whose keeper was killed stops as on SIGTERM (its processes run on) */
  if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != keeper) _exit(126);
  if (dup2(chan, KEEPER_CHANNEL_FD) < 0) _exit(126);
  for (int id = KEEPER_MIN_ID; id < k.table_size; id++) {
    if (k.held[id].fd >= 0 && dup2(k.held[id].fd, id) < 0) _exit(126);
  }
  /* the keeper's low oom_score_adj is for itself only: the JVM is what the OOM killer may take */
  int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (oom >= 0) { if (write(oom, "0", 1) < 0) {} close(oom); }
  if (setrlimit(RLIMIT_NOFILE, &k.jvm_nofile) < 0) _exit(126);
  execvp(k.jvm_argv[0], k.jvm_argv);
  char line[256];
  int n = snprintf(line, sizeof line, "papa keeper: cannot execute %s: %s\n", k.jvm_argv[0], strerror(errno));
  if (n > 0 && write(2, line, (size_t) n) < 0) {}
  _exit(127);
}

static int start_jvm(void) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
    klog("socketpair: %s", strerror(errno));
    return -1;
  }
  pid_t self = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    klog("fork: %s", strerror(errno));
    close(pair[0]);
    close(pair[1]);
    return -1;
  }
  if (pid == 0) jvm_child(pair[1], self);
  close(pair[1]);
  if (fcntl(pair[0], F_SETFL, O_NONBLOCK) < 0) klog("fcntl: %s", strerror(errno));
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = pair[0]};
  if (epoll_ctl(k.epoll_fd, EPOLL_CTL_ADD, pair[0], &ev) < 0) klog("epoll_ctl: %s", strerror(errno));
  k.chan = pair[0];
  k.jvm = pid;
  k.jvm_started_ms = now_ms();
  k.jvm_served = 0;
  k.ending = 0;
  k.want_out = 0;
  /* what the new JVM takes back: every held descriptor, every unacknowledged exit, then hello */
  k.hello_cursor = KEEPER_MIN_ID;
  k.hello_sent = 0;
  for (int i = 0; i < k.exit_count; i++) k.exits[i].sent = 0;
  send_pending();
  return 0;
}

static void arm_timer(int64_t ms) {
  struct itimerspec t = {{0, 0}, {ms / 1000, (ms % 1000) * 1000000 + (ms == 0 ? 1 : 0)}};
  if (timerfd_settime(k.timer_fd, 0, &t, NULL) < 0) klog("timerfd_settime: %s", strerror(errno));
}

static void close_channel(void) {
  if (k.chan < 0) return;
  epoll_ctl(k.epoll_fd, EPOLL_CTL_DEL, k.chan, NULL);
  close(k.chan);
  k.chan = -1;
}

static void read_all(void);

/* The JVM ended: the keeper ends with it (a stop, an exit on purpose, a first start that never
 * served), or starts the next one: at once, or after a pause that doubles while JVMs die quickly. */
static int jvm_died(int status) {
  char cause[96];
  describe(status, cause, sizeof cause);
  int64_t lived = now_ms() - k.jvm_started_ms;
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  pid_t pid = k.jvm;
  read_all();
  close_channel();
  k.jvm = 0;
  if (k.stopping || k.ending) return code;
  if (!k.ever_served) {
    klog("the daemon ended before it served (%s); not restarting a daemon that never started", cause);
    return code;
  }
  k.restarts++;
  k.last_death = status;
  int quick = !k.jvm_served || now_ms() - k.served_ms < QUICK_MS;
  k.quick_deaths = quick ? k.quick_deaths + 1 : 0;
  int64_t pause = 0;
  if (k.quick_deaths >= 2) {
    pause = PAUSE_FIRST_MS;
    for (int i = 2; i < k.quick_deaths && pause < PAUSE_MAX_MS; i++) pause *= 2;
    if (pause > PAUSE_MAX_MS) pause = PAUSE_MAX_MS;
  }
  klog("the daemon (pid %d) died of %s after %lld ms; restart %d in %lld ms", (int) pid, cause, (long long) lived, k.restarts,
       (long long) pause);
  arm_timer(pause);
  return -1;
}

/* --- messages from the JVM -------------------------------------------------------------- */

static void close_fds_of(struct msghdr *mh) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *fds = (int *) CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) close(fds[i]);
  }
}

/* The one descriptor a message carries, or -1 (none, several, or cut: all closed). */
static int single_fd(struct msghdr *mh) {
  int fd = -1, count = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    count += (int) n;
    if (n >= 1) memcpy(&fd, CMSG_DATA(c), sizeof fd);
  }
  if (count == 1 && !(mh->msg_flags & MSG_CTRUNC)) return fd;
  close_fds_of(mh);
  return -1;
}

static void handle(const struct keeper_msg *m, struct msghdr *mh) {
  switch (m->type) {
    case KM_HOLD: {
      int fd = single_fd(mh);
      if (fd < 0) { klog("hold of %u without exactly one descriptor: ignored", m->id); return; }
      if (m->id < KEEPER_MIN_ID || m->id >= (uint32_t) k.table_size || m->a < 0 || m->a > 255) {
        klog("hold of id %u kind %lld: out of range, ignored", m->id, (long long) m->a);
        close(fd);
        return;
      }
      held_put(m->id, fd, (uint8_t) m->a);
      return;
    }
    case KM_RELEASE:
      close_fds_of(mh);
      if (m->id < KEEPER_MIN_ID || m->id >= (uint32_t) k.table_size) { klog("release of id %u: out of range, ignored", m->id); return; }
      held_close(m->id);
      return;
    case KM_ACK_EXIT:
      close_fds_of(mh);
      ack_exit(m->a);
      return;
    case KM_SERVING:
      close_fds_of(mh);
      if (!k.jvm_served) { k.jvm_served = 1; k.served_ms = now_ms(); }
      k.ever_served = 1;
      return;
    case KM_ENDING:
      close_fds_of(mh);
      k.ending = 1;
      return;
    default:
      close_fds_of(mh);
      klog("message of unknown type %u: ignored", m->type);
  }
}

/* Reads what the JVM sent, MSGS_PER_ROUND at most (the rest on the next round); returns how
 * many it read. A read of 0 bytes is an empty message, unless the JVM's end is closed (hup):
 * then it is the end of the channel. */
static int read_channel(int hup) {
  int i = 0;
  for (; i < MSGS_PER_ROUND && k.chan >= 0; i++) {
    struct keeper_msg m;
    union { char buf[CMSG_SPACE(sizeof(int) * 4)]; struct cmsghdr align; } control;
    struct iovec iov = {&m, sizeof m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(k.chan, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) { klog("channel: %s; waiting for the daemon to end", strerror(errno)); close_channel(); }
      return i;
    }
    if (n == 0 && hup) { close_fds_of(&mh); close_channel(); return i; } /* the JVM closed it: its death follows */
    if (n != (ssize_t) sizeof m || (mh.msg_flags & MSG_TRUNC)) {
      close_fds_of(&mh);
      klog("message of %s%zd bytes (not %zu): ignored", (mh.msg_flags & MSG_TRUNC) ? "more than " : "", n, sizeof m);
      continue;
    }
    handle(&m, &mh);
  }
  return i;
}

/* Everything a JVM sent before it died (its last state among it); its end is closed, so a
 * read of 0 bytes is the end. */
static void read_all(void) {
  while (k.chan >= 0 && read_channel(1) == MSGS_PER_ROUND) {}
}

/* --- children and signals --------------------------------------------------------------- */

/* Reaps every child that ended. A hosted process's status goes into the table, unless the
 * table is full: then it stays a zombie (the kernel keeps its status) until acknowledgements
 * make room. Returns the keeper's exit code once it must end, else -1. */
static int reap(void) {
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
      if (errno == EINTR) continue;
      return -1; /* ECHILD */
    }
    if (si.si_pid == 0) return -1;
    pid_t pid = si.si_pid;
    if (pid != k.jvm && k.exit_count >= k.max_exits) return -1;
    int status;
    if (waitpid(pid, &status, WNOHANG) != pid) return -1;
    if (pid == k.jvm) {
      int code = jvm_died(status);
      if (code >= 0) return code;
      continue;
    }
    struct exit_entry *e = &k.exits[k.exit_count++];
    e->pid = pid;
    e->status = status;
    e->micros = wall_us();
    e->sent = 0;
  }
}

static int on_signal(void) {
  struct signalfd_siginfo si;
  int code = -1;
  for (;;) {
    ssize_t n = read(k.signal_fd, &si, sizeof si);
    if (n != (ssize_t) sizeof si) break;
    switch (si.ssi_signo) {
      case SIGCHLD: break;
      case SIGTERM: case SIGINT:
        k.stopping = 1;
        k.stop_signal = (int) si.ssi_signo;
        if (k.jvm > 0) {
          if (kill(k.jvm, (int) si.ssi_signo) < 0) klog("kill %d: %s", k.jvm, strerror(errno));
        } else {
          code = 128 + (int) si.ssi_signo; /* between two JVMs: nothing to stop */
        }
        break;
      default: break; /* SIGHUP, SIGPIPE: a keeper does not end of them */
    }
  }
  int reaped = reap();
  if (code < 0) code = reaped;
  send_pending();
  return code;
}

/* --- start ------------------------------------------------------------------------------ */

/* The process title: argv's memory overwritten (ps shows it), and the thread name. */
static void set_title(int argc, char **argv, const char *title) {
  char *start = argv[0], *end = argv[argc - 1] + strlen(argv[argc - 1]);
  size_t room = (size_t) (end - start);
  size_t len = strlen(title);
  if (len > room) len = room;
  memmove(start, title, len);
  memset(start + len, 0, room - len + 1);
  prctl(PR_SET_NAME, "papa keeper", 0, 0, 0);
}

static void usage(void) {
  fprintf(stderr, "usage: papa-keeper [--log PATH] [--title TITLE] [--max-exits N] -- PROGRAM [ARG...]\n");
  exit(2);
}

/* Copies the JVM's command out of argv (whose memory becomes the title). */
static char **copy_command(int argc, char **argv) {
  size_t bytes = 0;
  for (int i = 0; i < argc; i++) bytes += strlen(argv[i]) + 1;
  char **copy = calloc((size_t) argc + 1, sizeof *copy);
  char *text = malloc(bytes);
  if (copy == NULL || text == NULL) { perror("papa keeper"); exit(1); }
  for (int i = 0; i < argc; i++) {
    size_t n = strlen(argv[i]) + 1;
    memcpy(text, argv[i], n);
    copy[i] = text;
    text += n;
  }
  return copy;
}

static void setup(int argc, char **argv) {
  const char *log_path = NULL, *title = "papa keeper";
  k.max_exits = DEFAULT_MAX_EXITS;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--log") == 0) log_path = argv[++i];
    else if (strcmp(argv[i], "--title") == 0) title = argv[++i];
    else if (strcmp(argv[i], "--max-exits") == 0) {
      char *end;
      long n = strtol(argv[++i], &end, 10);
      if (*end != 0 || n < 1 || n > 1 << 20) usage();
      k.max_exits = (int) n;
    } else usage();
  }
  if (i >= argc) usage();
  k.log_fd = 2;
  if (log_path != NULL) {
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) fprintf(stderr, "papa keeper: cannot open %s (%s); logging to stderr\n", log_path, strerror(errno));
    else k.log_fd = fd;
  }
  k.jvm_argv = copy_command(argc - i, argv + i);

  /* Held descriptors live at [table_size, 2 * table_size); the JVM's limit is table_size, so
   * every number it can register is an id below table_size. */
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) < 0) { perror("papa keeper: getrlimit"); exit(1); }
  rlim_t hard = nofile.rlim_max == RLIM_INFINITY ? (rlim_t) 2 * MAX_TABLE + 64 : nofile.rlim_max;
  struct rlimit raised = {hard, hard};
  if (setrlimit(RLIMIT_NOFILE, &raised) < 0) { perror("papa keeper: setrlimit"); exit(1); }
  k.table_size = hard / 2 - 32 > MAX_TABLE ? MAX_TABLE : (int) (hard / 2 - 32);
  if (k.table_size < 64) { fprintf(stderr, "papa keeper: open-files limit %lu is too low\n", (unsigned long) hard); exit(1); }
  k.jvm_nofile.rlim_max = (rlim_t) k.table_size;
  k.jvm_nofile.rlim_cur = nofile.rlim_cur < (rlim_t) k.table_size ? nofile.rlim_cur : (rlim_t) k.table_size;

  k.held = mmap(NULL, sizeof(struct held) * (size_t) k.table_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  k.exits = mmap(NULL, sizeof(struct exit_entry) * (size_t) k.max_exits, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (k.held == MAP_FAILED || k.exits == MAP_FAILED) { perror("papa keeper: mmap"); exit(1); }
  for (int id = 0; id < k.table_size; id++) k.held[id].fd = -1;

  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) { perror("papa keeper: PR_SET_CHILD_SUBREAPER"); exit(1); }
  if (geteuid() == 0) {
    int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (oom < 0 || write(oom, "-900", 4) != 4) klog("cannot lower oom_score_adj: %s", strerror(errno));
    if (oom >= 0) close(oom);
  }

  sigset_t mask;
  sigemptyset(&mask);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE};
  for (size_t s = 0; s < sizeof sigs / sizeof sigs[0]; s++) sigaddset(&mask, sigs[s]);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) { perror("papa keeper: sigprocmask"); exit(1); }
  k.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  k.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  k.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (k.signal_fd < 0 || k.timer_fd < 0 || k.epoll_fd < 0) { perror("papa keeper: signalfd/timerfd/epoll"); exit(1); }
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = k.signal_fd};
  struct epoll_event tv = {.events = EPOLLIN, .data.fd = k.timer_fd};
  if (epoll_ctl(k.epoll_fd, EPOLL_CTL_ADD, k.signal_fd, &ev) < 0 || epoll_ctl(k.epoll_fd, EPOLL_CTL_ADD, k.timer_fd, &tv) < 0) {
    perror("papa keeper: epoll_ctl");
    exit(1);
  }
  k.chan = -1;
  k.last_death = -1;
  k.started_us = wall_us();
  set_title(argc, argv, title);
}

int main(int argc, char **argv) {
  setup(argc, argv);
  if (start_jvm() < 0) return 1;
  for (;;) {
    struct epoll_event evs[8];
    int n = epoll_wait(k.epoll_fd, evs, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      klog("epoll_wait: %s", strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == k.signal_fd) {
        int code = on_signal();
        if (code >= 0) return code;
      } else if (fd == k.timer_fd) {
        uint64_t ticks;
        if (read(k.timer_fd, &ticks, sizeof ticks) < 0) {}
        if (k.jvm == 0 && start_jvm() < 0) arm_timer(PAUSE_MAX_MS); /* fork failed: try again later */
      } else if (fd == k.chan) {
        if (evs[i].events & EPOLLOUT) send_pending();
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) read_channel((evs[i].events & (EPOLLHUP | EPOLLRDHUP)) != 0);
        /* acknowledgements may have made room for zombies the full exit table left waiting */
        int code = reap();
        if (code >= 0) return code;
        send_pending();
      }
    }
  }
}
