/*
 * papa-keeper: the process the user starts (docs/KEEPER.md). It runs the daemon JVM as its
 * child, restarts it whenever it dies, holds a duplicate of every descriptor the JVM registers
 * (so a JVM's death closes none of them) and hands them all to the next JVM, placed at the
 * numbers the JVM registered them under. It is a subreaper and the parent of the hosted
 * processes (spawned with CLONE_PARENT by the JVM), reaps them, and keeps each exit status
 * until a JVM acknowledges it: exactly once, even when the process ended while no JVM ran.
 * An upgrade starts the next JVM beside the current one, which serves until the next one is
 * ready; then the current one hands over its last state and the next one takes over. Until it
 * has, the next JVM changes nothing the keeper holds, so a failed upgrade leaves the current
 * one serving with everything it had.
 *
 * Under systemd (NOTIFY_SOCKET) it speaks sd_notify itself: READY=1 once the daemon serves,
 * STATUS=, RELOADING=1 and READY=1 around an upgrade, STOPPING=1, and WATCHDOG=1 only while the
 * serving JVM's loop answers its pings (docs/KEEPER.md, "systemd").
 *
 * Rules: one thread, one epoll over five descriptors (signalfd, three timerfds, the channel(s)); every
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
#include <stddef.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
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
#define CMD_TEXT 65536          /* a JVM's command line: bytes of its NUL-terminated arguments, at most */
#define CMD_ARGS 2048           /* and arguments, at most */
#define READY_MS 120000         /* an upgrade's next JVM must be ready within this, */
#define HAND_OVER_MS 30000      /* the current one hand over within this, */
#define TAKE_OVER_MS 60000      /* and the next one take over within this; else the upgrade is cancelled */
/* Reads of 0 bytes in a row that mean the end of a closed channel: an empty message (which no
 * JVM sends but a broken one may) reads as 0 bytes too, and a socket's send buffer holds fewer
 * messages than this (its default, 208 KiB, holds about 300). */
#define EMPTIES_AT_END 4096
#define RETIRE_MS 5000          /* a JVM told to retire is killed if it has not ended by then */
#define STATUS_PING_US 10000000 /* under systemd without a watchdog: how often the loop is asked for STATUS= figures */
#define WATCHDOG_MAX_US ((int64_t) 1 << 40) /* a WATCHDOG_USEC above this (12 days) is not believed */

struct held { int fd; uint8_t kind; uint32_t gen; };  /* fd -1: empty slot; gen: when it was held */
struct exit_entry { int pid; int status; int64_t micros; int sent; };
struct command { char text[CMD_TEXT]; char *argv[CMD_ARGS + 1]; };

/* One daemon JVM and its channel. */
struct jvm {
  pid_t pid;                   /* 0: none */
  int chan;                    /* keeper's end of its channel, -1: none */
  int64_t started_ms;
  int served, ending;
  int standby;                 /* started for an upgrade: waits for KM_TAKE_OVER */
  int cursor;                  /* next id whose KM_HELD / KM_HELD_FD it still needs; table_size: all sent */
  int step;                    /* its start messages: 0 none, 1 KM_STANDBY sent (or not needed), 2 all sent */
  int want_out;                /* EPOLLOUT on its channel: something could not be sent yet */
  int empties;                 /* reads of 0 bytes in a row since its end was closed */
};

/* The upgrade (docs/KEEPER.md, "Upgrading"). */
enum { UP_NONE, UP_STARTING, UP_HANDING, UP_TAKING };

static struct {
  int log_fd;
  char log_path[4096];         /* --log (copied: argv becomes the title): opened once a daemon served */
  int epoll_fd, signal_fd, timer_fd, upgrade_timer_fd;
  struct jvm cur;              /* the JVM that serves (or the one starting after a death) */
  struct jvm next;             /* during an upgrade: the JVM that takes over */
  pid_t retiring;              /* a JVM that handed over (or an upgrade's abandoned one): its end is expected */
  int phase;
  uint32_t gen;                /* counts KM_HOLDs; */
  uint32_t fork_gen;           /* its value when the next JVM started: what it lacks is held later */
  int handover_id;             /* the current JVM's last state, held (KM_HANDED) */
  int hand_over_sent, resume_pending, resume_status;
  struct command *cmds;        /* two: the current JVM's command and an upgrade's */
  int cmd;                     /* index of the current JVM's */
  struct held *held;           /* indexed by id, table_size slots */
  int table_size;              /* ids < table_size; keeper copies live at >= table_size */
  int held_count;
  struct exit_entry *exits;    /* exits[0..exit_count) in use */
  int max_exits, exit_count;
  int restarts, upgrades, quick_deaths;
  int last_death;              /* wait status of the last JVM death, -1: none */
  int64_t started_us, served_ms;
  int ever_served, stopping, stop_signal;
  struct rlimit jvm_nofile;
  /* log rate limit */
  int64_t log_window_start; int log_lines; int log_dropped;
  /* systemd (sd_notify): notify_fd -1 without NOTIFY_SOCKET */
  int notify_fd, notify_timer_fd;
  struct sockaddr_un notify_addr;
  socklen_t notify_len;
  int64_t watchdog_us;         /* WATCHDOG_USEC, 0: no watchdog */
  int64_t alive_us;            /* when the serving JVM's loop last answered (or a JVM started, or took over) */
  int64_t ping_us;             /* when the unanswered KM_PING was sent, 0: none */
  int64_t ticks;
  int ready_sent, stopping_sent;
  int figures_shown;           /* the last STATUS= sent is figures[] */
  int64_t figures[3];          /* processes, sockets, queued bytes of the last KM_ALIVE */
} k;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

/* The daemon's log file, once a daemon served: it opened the file first, refusing a symbolic
 * link or a special file with its own words, so a bad path is told once, by the daemon. Until
 * then the keeper says what it has to on stderr, as the daemon does. */
static void open_log(void) {
  if (k.log_path[0] == 0) return;
  int fd = open(k.log_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0640);
  if (fd < 0) klog("cannot open %s (%s); logging to stderr", k.log_path, strerror(errno));
  else k.log_fd = fd;
}

/* "signal 9" / "exit status 1", for a wait status. */
static void describe(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status)) snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
}

/* --- systemd (sd_notify) ---------------------------------------------------------------- */

/* One notification: "KEY=VALUE" lines in one datagram to NOTIFY_SOCKET; nothing without it. The
 * socket is nonblocking: a full queue at systemd drops the message (logged), never the keeper. */
__attribute__((format(printf, 1, 2)))
static void sd_notify_fmt(const char *fmt, ...) {
  if (k.notify_fd < 0) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n >= (int) sizeof msg) n = (int) sizeof msg - 1; /* a STATUS= line cut short */
  for (;;) {
    if (sendto(k.notify_fd, msg, (size_t) n, MSG_NOSIGNAL, (struct sockaddr *) &k.notify_addr, k.notify_len) >= 0) return;
    if (errno == EINTR) continue;
    const char *nl = strchr(msg, '\n');
    klog("cannot notify systemd of %.*s: %s", nl ? (int) (nl - msg) : n, msg, strerror(errno));
    return;
  }
}

/* STATUS= of something other than the figures; the next KM_ALIVE shows the figures again. */
#define sd_status(...) do { k.figures_shown = 0; sd_notify_fmt(__VA_ARGS__); } while (0)

/* NOTIFY_SOCKET (a path, or "@name": an abstract name), WATCHDOG_USEC and WATCHDOG_PID, read at
 * start and removed from the environment: a JVM or a process must not notify for the unit. */
static void notify_setup(void) {
  k.notify_fd = -1;
  k.notify_timer_fd = -1;
  const char *path = getenv("NOTIFY_SOCKET"), *usec = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
  if (path != NULL && path[0] != 0) {
    size_t n = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof k.notify_addr.sun_path) {
      klog("NOTIFY_SOCKET is neither an absolute path nor an abstract name (@...) that fits: not notifying systemd");
    } else {
      k.notify_addr.sun_family = AF_UNIX;
      memcpy(k.notify_addr.sun_path, path, n);
      if (path[0] == '@') k.notify_addr.sun_path[0] = 0; /* abstract: the name is the n bytes, no terminator */
      k.notify_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/' ? 1 : 0));
      k.notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (k.notify_fd < 0) klog("cannot notify systemd: socket: %s", strerror(errno));
    }
  }
  if (k.notify_fd >= 0 && usec != NULL) {
    char *end;
    errno = 0;
    long long us = strtoll(usec, &end, 10);
    long long pid = wpid == NULL ? getpid() : strtoll(wpid, NULL, 10);
    if (errno != 0 || *end != 0 || us <= 0 || us > WATCHDOG_MAX_US) klog("WATCHDOG_USEC=%s ignored", usec);
    else if (pid == getpid()) k.watchdog_us = us;
  }
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  if (k.notify_fd < 0) return;
  /* a tick every quarter of the watchdog interval: a ping to the loop each tick, WATCHDOG=1 every second */
  int64_t period = k.watchdog_us > 0 ? k.watchdog_us / 4 : STATUS_PING_US;
  if (period < 1000) period = 1000;
  struct itimerspec t = {{period / 1000000, (period % 1000000) * 1000}, {period / 1000000, (period % 1000000) * 1000}};
  k.notify_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (k.notify_timer_fd < 0 || timerfd_settime(k.notify_timer_fd, 0, &t, NULL) < 0) {
    perror("papa keeper: timerfd for systemd's watchdog");
    exit(1);
  }
}

/* The notify timer: a KM_PING to the serving JVM (unless one is unanswered and not yet older than
 * the watchdog interval: at most one in flight), and every second tick WATCHDOG=1, but only while
 * the loop answered within the interval or the keeper is in a step it bounds itself: the pause
 * before a restart, and an upgrade's hand-over and take-over (the serving loop is held still on
 * purpose; the keeper's deadlines end them). A JVM that starts has the interval to serve and answer. */
static int send_msg(struct jvm *j, uint32_t type, uint32_t id, int64_t a, int64_t b, int64_t c, int fd);

static void notify_tick(void) {
  int64_t now = mono_us();
  int64_t stale = k.watchdog_us > 0 ? k.watchdog_us : 4 * STATUS_PING_US;
  int asking = k.cur.pid > 0 && k.cur.served && (k.phase == UP_NONE || k.phase == UP_STARTING);
  if (asking && (k.ping_us == 0 || now - k.ping_us > stale) && send_msg(&k.cur, KM_PING, 0, 0, 0, 0, -1) == 0) k.ping_us = now;
  if (k.watchdog_us == 0 || ++k.ticks % 2 != 0 || k.stopping) return;
  int excused = k.cur.pid == 0 || k.phase == UP_TAKING || (k.phase == UP_HANDING && k.hand_over_sent);
  if (excused || now - k.alive_us <= k.watchdog_us) sd_notify_fmt("WATCHDOG=1");
}

/* The loop's answer: it lives; the figures go to STATUS= when they changed. */
static void loop_alive(const int64_t figures[3]) {
  k.alive_us = mono_us();
  k.ping_us = 0;
  if (k.figures_shown && memcmp(figures, k.figures, sizeof k.figures) == 0) return;
  memcpy(k.figures, figures, sizeof k.figures);
  sd_notify_fmt("STATUS=serving: %lld processes, %lld sockets, %lld bytes queued", (long long) figures[0],
                (long long) figures[1], (long long) figures[2]);
  k.figures_shown = 1;
}

/* A JVM to be asked afresh: the one just started, or one that took over or serves again. */
static void loop_new(void) {
  k.alive_us = mono_us();
  k.ping_us = 0;
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
  k.held[id].gen = ++k.gen;
  k.held_count++;
}

/* --- exit statuses ---------------------------------------------------------------------- */

static int exit_find(int pid) {
  for (int i = 0; i < k.exit_count; i++) if (k.exits[i].pid == pid) return i;
  return -1;
}

/* The JVM that is told of exits: the current one, or, once the current one handed over, the next. */
static struct jvm *exits_to(void) {
  return k.phase == UP_TAKING ? &k.next : &k.cur;
}

/* Every unacknowledged exit is told (again) to whoever is told of exits now. */
static void exits_unsent(void) {
  for (int i = 0; i < k.exit_count; i++) k.exits[i].sent = 0;
}

static void ack_exit(int64_t pid) {
  int i = pid > 0 && pid <= INT32_MAX ? exit_find((int) pid) : -1;
  if (i < 0) { klog("acknowledgement of pid %lld, which has no exit status here: ignored", (long long) pid); return; }
  k.exits[i] = k.exits[--k.exit_count];
}

/* --- the channels ----------------------------------------------------------------------- */

/* Sends one message, with fd attached unless it is -1; 0, or -1 when the JVM cannot take it now. */
static int send_msg(struct jvm *j, uint32_t type, uint32_t id, int64_t a, int64_t b, int64_t c, int fd) {
  if (j->chan < 0) return -1;
  struct keeper_msg m = {type, id, a, b, c};
  struct iovec iov = {&m, sizeof m};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&control, 0, sizeof control);
    mh.msg_control = control.buf;
    mh.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  for (;;) {
    ssize_t n = sendmsg(j->chan, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == (ssize_t) sizeof m) return 0;
    if (n < 0 && errno == EINTR) continue;
    return -1; /* EAGAIN: resent later; EPIPE: the JVM is going, its death is handled by SIGCHLD */
  }
}

static void want_output(struct jvm *j, int on) {
  if (j->chan < 0 || on == j->want_out) return;
  j->want_out = on;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0), .data.fd = j->chan};
  if (epoll_ctl(k.epoll_fd, EPOLL_CTL_MOD, j->chan, &ev) < 0) klog("epoll_ctl: %s", strerror(errno));
}

/* Sends a JVM what it has not been told yet. A JVM's start: every held descriptor (KM_HELD,
 * placed at its id), the exits (not to a standby), KM_STANDBY for an upgrade's, KM_HELLO. An
 * upgrade's take-over: every descriptor held since the next JVM started (KM_HELD_FD), the exits,
 * KM_TAKE_OVER. Then each exit as it is reaped, and the upgrade's KM_HAND_OVER or KM_RESUME. What
 * does not fit in the socket's buffer waits for EPOLLOUT: cursors over the tables, nothing queued. */
static void send_pending(struct jvm *j) {
  if (j->chan < 0) return;
  int taking = j == &k.next && k.phase == UP_TAKING;
  int blocked = 0;
  for (; j->cursor < k.table_size; j->cursor++) {
    struct held *h = &k.held[j->cursor];
    if (h->fd < 0 || (taking && h->gen <= k.fork_gen)) continue;
    if (send_msg(j, taking ? KM_HELD_FD : KM_HELD, (uint32_t) j->cursor, h->kind, 0, 0, taking ? h->fd : -1) < 0) { blocked = 1; break; }
  }
  for (int i = 0; !blocked && j == exits_to() && i < k.exit_count; i++) {
    struct exit_entry *e = &k.exits[i];
    if (e->sent) continue;
    if (send_msg(j, KM_EXITED, 0, e->pid, e->status, e->micros, -1) < 0) blocked = 1;
    else e->sent = 1;
  }
  if (!blocked && j->step == 0) {
    if (send_msg(j, KM_STANDBY, (uint32_t) k.restarts, k.started_us, k.last_death, getpid(), -1) < 0) blocked = 1;
    else j->step = 1;
  }
  if (!blocked && j->step == 1 && (!j->standby || taking)) {
    int r = taking ? send_msg(j, KM_TAKE_OVER, (uint32_t) k.handover_id, 0, 0, 0, -1)
                   : send_msg(j, KM_HELLO, (uint32_t) k.restarts, k.started_us, k.last_death, getpid(), -1);
    if (r < 0) blocked = 1;
    else j->step = 2;
  }
  if (!blocked && j == &k.cur && k.phase == UP_HANDING && !k.hand_over_sent) {
    if (send_msg(j, KM_HAND_OVER, 0, 0, 0, 0, -1) < 0) blocked = 1;
    else k.hand_over_sent = 1;
  }
  if (!blocked && j == &k.cur && k.resume_pending) {
    if (send_msg(j, KM_RESUME, 0, k.resume_status, 0, 0, -1) < 0) blocked = 1;
    else k.resume_pending = 0;
  }
  want_output(j, blocked);
}

static void close_channel(struct jvm *j) {
  if (j->chan < 0) return;
  epoll_ctl(k.epoll_fd, EPOLL_CTL_DEL, j->chan, NULL);
  close(j->chan);
  j->chan = -1;
  j->want_out = 0;
}

/* --- starting a JVM --------------------------------------------------------------------- */

static void reset_signals_in_child(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
}

/* In the forked child: the channel at KEEPER_CHANNEL_FD, every held descriptor at its id
 * (sources are all >= table_size, targets below: no move overwrites a source), then exec. */
static void jvm_child(int chan, pid_t keeper, char **argv) {
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
  execvp(argv[0], argv);
  char line[256];
  int n = snprintf(line, sizeof line, "papa keeper: cannot execute %s: %s\n", argv[0], strerror(errno));
  if (n > 0 && write(2, line, (size_t) n) < 0) {}
  _exit(127);
}

/* Starts a JVM into slot j: the current one (restarts) or, standby, an upgrade's next one. */
static int start_jvm(struct jvm *j, char **argv, int standby) {
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
  if (pid == 0) jvm_child(pair[1], self, argv);
  close(pair[1]);
  if (fcntl(pair[0], F_SETFL, O_NONBLOCK) < 0) klog("fcntl: %s", strerror(errno));
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = pair[0]};
  if (epoll_ctl(k.epoll_fd, EPOLL_CTL_ADD, pair[0], &ev) < 0) klog("epoll_ctl: %s", strerror(errno));
  *j = (struct jvm) {.pid = pid, .chan = pair[0], .started_ms = now_ms(), .standby = standby, .cursor = KEEPER_MIN_ID,
                     .step = standby ? 0 : 1};
  if (!standby) {
    exits_unsent(); /* a new current JVM is told every unacknowledged exit */
    loop_new();
  }
  send_pending(j);
  return 0;
}

static void arm(int timer, int64_t ms) {
  struct itimerspec t = {{0, 0}, {ms / 1000, (ms % 1000) * 1000000 + (ms == 0 ? 1 : 0)}};
  if (timerfd_settime(timer, 0, &t, NULL) < 0) klog("timerfd_settime: %s", strerror(errno));
}

static void disarm(int timer) {
  struct itimerspec t = {{0, 0}, {0, 0}};
  if (timerfd_settime(timer, 0, &t, NULL) < 0) klog("timerfd_settime: %s", strerror(errno));
}

static void read_all(struct jvm *j);

/* --- the upgrade ------------------------------------------------------------------------ */

/* The next JVM's command from a sealed memfd (its contents cannot change while read): NUL-terminated
 * arguments, the first not empty. Into k.cmds[1 - k.cmd]; 0, or -1 with the reason logged. */
static int read_command(int fd) {
  struct command *c = &k.cmds[1 - k.cmd];
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_WRITE)) { klog("upgrade: the command is not in a sealed memfd"); return -1; }
  ssize_t n = pread(fd, c->text, CMD_TEXT, 0);
  if (n <= 0 || n >= CMD_TEXT || c->text[n - 1] != 0) { klog("upgrade: a command of %zd bytes is refused", n); return -1; }
  int argc = 0;
  for (char *p = c->text; p < c->text + n; p += strlen(p) + 1) {
    if (argc == CMD_ARGS) { klog("upgrade: more than %d arguments refused", CMD_ARGS); return -1; }
    c->argv[argc++] = p;
  }
  c->argv[argc] = NULL;
  if (c->argv[0][0] == 0) { klog("upgrade: an empty program name refused"); return -1; }
  return 0;
}

/* Ends the upgrade's next JVM (never pid 0: kill(0) would signal the keeper's process group). */
static void kill_next(void) {
  if (k.next.pid > 0 && kill(k.next.pid, SIGKILL) < 0) klog("kill %d: %s", (int) k.next.pid, strerror(errno));
}

/* The upgrade did not happen: the current JVM serves on (KM_RESUME), told every exit again. */
static void upgrade_failed(int status) {
  char cause[96];
  if (status == -1) snprintf(cause, sizeof cause, "the keeper could not start the new daemon");
  else describe(status, cause, sizeof cause);
  sd_status("READY=1\nSTATUS=upgrade failed (%s); the daemon (pid %d) serves on", cause, (int) k.cur.pid);
  k.ready_sent = 1;
  loop_new(); /* a ping sent before its hand-over was read by the hand-over's wait, not answered */
  k.phase = UP_NONE;
  k.resume_pending = 1;
  k.resume_status = status;
  exits_unsent();
  disarm(k.upgrade_timer_fd);
  send_pending(&k.cur);
}

/* KM_UPGRADE: fd holds the next JVM's command (-1: the message carried none). */
static void upgrade_start(int fd) {
  if (k.phase != UP_NONE) {
    klog("upgrade refused: one is in progress");
    if (fd >= 0) close(fd);
    return; /* the current JVM asked twice: the first one goes on */
  }
  int ok = fd >= 0 && k.retiring == 0 && k.cur.served;
  if (fd < 0) klog("upgrade without exactly one descriptor: refused");
  else if (!ok) klog("upgrade refused: %s", k.retiring ? "the previous daemon has not ended yet" : "the daemon does not serve yet");
  ok = ok && read_command(fd) == 0;
  if (fd >= 0) close(fd);
  if (ok) {
    k.fork_gen = k.gen;
    ok = start_jvm(&k.next, k.cmds[1 - k.cmd].argv, 1) == 0;
  }
  if (!ok) { upgrade_failed(-1); return; }
  k.phase = UP_STARTING;
  k.hand_over_sent = 0;
  arm(k.upgrade_timer_fd, READY_MS);
  k.ready_sent = 0;
  sd_status("RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=upgrading: the new daemon (pid %d) starts beside pid %d",
            (long long) mono_us(), (int) k.next.pid, (int) k.cur.pid);
  klog("upgrade: the new daemon (pid %d) starts beside the current one (pid %d)", (int) k.next.pid, (int) k.cur.pid);
}

/* The next JVM ended before it took over: the current one serves on. */
static void next_died(int status) {
  char cause[96];
  describe(status, cause, sizeof cause);
  klog("upgrade failed: the new daemon (pid %d) ended (%s) before it took over; the daemon (pid %d) serves on", (int) k.next.pid,
       cause, (int) k.cur.pid);
  close_channel(&k.next);
  k.next.pid = 0;
  upgrade_failed(status);
}

/* The next JVM took over: it becomes the current one, the previous one retires. */
static void took_over(void) {
  pid_t old = k.cur.pid;
  if (send_msg(&k.cur, KM_RETIRE, 0, 0, 0, 0, -1) < 0) kill(old, SIGKILL);
  close_channel(&k.cur);
  k.retiring = old;
  k.cur = k.next;
  k.cur.standby = 0;
  k.next = (struct jvm) {.chan = -1};
  k.cmd = 1 - k.cmd;
  k.upgrades++;
  k.phase = UP_NONE;
  arm(k.upgrade_timer_fd, RETIRE_MS);
  klog("upgrade: the new daemon (pid %d) took over from pid %d", (int) k.cur.pid, (int) old);
  loop_new();
  sd_status("READY=1\nSTATUS=upgraded: the new daemon (pid %d) took over from pid %d", (int) k.cur.pid, (int) old);
  k.ready_sent = 1;
}

/* A phase took too long: the next JVM is killed (the current one then serves on), or a retiring one. */
static void upgrade_deadline(void) {
  if (k.phase != UP_NONE && k.next.pid > 0) {
    klog("upgrade: the %s took too long; cancelled", k.phase == UP_STARTING ? "new daemon's start"
         : k.phase == UP_HANDING ? "hand-over" : "take-over");
    kill_next();
  } else if (k.retiring > 0) {
    if (kill(k.retiring, SIGKILL) < 0 && errno != ESRCH) klog("kill %d: %s", (int) k.retiring, strerror(errno));
  }
}

/* --- deaths ----------------------------------------------------------------------------- */

/* The current JVM ended: the keeper ends with it (a stop, an exit on purpose, a first start that
 * never served), or starts the next one: at once, or after a pause that doubles while JVMs die
 * quickly. An upgrade in progress is abandoned: the previous version comes back. */
static int cur_died(int status) {
  char cause[96];
  describe(status, cause, sizeof cause);
  int64_t lived = now_ms() - k.cur.started_ms;
  int code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  pid_t pid = k.cur.pid;
  read_all(&k.cur);
  close_channel(&k.cur);
  k.cur.pid = 0;
  if (k.phase != UP_NONE) {
    klog("upgrade abandoned: the daemon (pid %d) ended during it", (int) pid);
    kill_next();
    close_channel(&k.next);
    k.retiring = k.next.pid;
    k.next.pid = 0;
    k.phase = UP_NONE;
    disarm(k.upgrade_timer_fd);
    if (!k.stopping && !k.cur.ending) {
      sd_status("READY=1\nSTATUS=upgrade abandoned: the daemon (pid %d) ended during it", (int) pid);
      k.ready_sent = 1;
    }
  }
  if (k.stopping || k.cur.ending) return code;
  if (!k.ever_served) {
    /* an exit status: the daemon said why itself (bad options, port in use); a signal it could not */
    if (WIFSIGNALED(status)) klog("the daemon ended before it served (%s); not restarting a daemon that never started", cause);
    return code;
  }
  k.restarts++;
  k.last_death = status;
  int quick = !k.cur.served || now_ms() - k.served_ms < QUICK_MS;
  k.quick_deaths = quick ? k.quick_deaths + 1 : 0;
  int64_t pause = 0;
  if (k.quick_deaths >= 2) {
    pause = PAUSE_FIRST_MS;
    for (int i = 2; i < k.quick_deaths && pause < PAUSE_MAX_MS; i++) pause *= 2;
    if (pause > PAUSE_MAX_MS) pause = PAUSE_MAX_MS;
  }
  klog("the daemon (pid %d) died of %s after %lld ms; restart %d in %lld ms", (int) pid, cause, (long long) lived, k.restarts,
       (long long) pause);
  arm(k.timer_fd, pause);
  sd_status("STATUS=restarting: the daemon (pid %d) died of %s; restart %d in %lld ms", (int) pid, cause, k.restarts, (long long) pause);
  return -1;
}

/* --- messages from the JVMs ------------------------------------------------------------- */

/* Closes the descriptors a message carries; returns how many. */
static size_t close_fds_of(struct msghdr *mh) {
  size_t closed = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *fds = (int *) CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) close(fds[i]);
    closed += n;
  }
  return closed;
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

static int valid_id(uint32_t id) {
  return id >= KEEPER_MIN_ID && id < (uint32_t) k.table_size;
}

/* A message of the next JVM: only its two steps count. It changes nothing held before it took
 * over, so a next JVM that fails leaves the current one exactly what it had. */
static void handle_next(const struct keeper_msg *m, struct msghdr *mh) {
  close_fds_of(mh);
  if (m->type == KM_READY && k.phase == UP_STARTING) {
    k.phase = UP_HANDING;
    arm(k.upgrade_timer_fd, HAND_OVER_MS);
    send_pending(&k.cur);
  } else if (m->type == KM_TAKEN && k.phase == UP_TAKING) {
    took_over();
  } else {
    klog("message of type %u from the new daemon before it took over: ignored", m->type);
  }
}

static void handle(const struct keeper_msg *m, struct msghdr *mh) {
  if (k.phase == UP_TAKING && m->type != KM_ACK_EXIT) {
    close_fds_of(mh); /* it handed over: nothing it sends changes what the next JVM takes */
    klog("message of type %u from the daemon after it handed over: ignored", m->type);
    return;
  }
  switch (m->type) {
    case KM_HOLD: {
      int fd = single_fd(mh);
      if (fd < 0) { klog("hold of %u without exactly one descriptor: ignored", m->id); return; }
      if (!valid_id(m->id) || m->a < 0 || m->a > 255) {
        klog("hold of id %u kind %lld: out of range, ignored", m->id, (long long) m->a);
        close(fd);
        return;
      }
      held_put(m->id, fd, (uint8_t) m->a);
      return;
    }
    case KM_RELEASE:
      close_fds_of(mh);
      if (!valid_id(m->id)) { klog("release of id %u: out of range, ignored", m->id); return; }
      held_close(m->id);
      return;
    case KM_ACK_EXIT:
      close_fds_of(mh);
      ack_exit(m->a);
      return;
    case KM_SERVING:
      close_fds_of(mh);
      if (!k.cur.served) { k.cur.served = 1; k.served_ms = now_ms(); loop_new(); }
      if (!k.ever_served) open_log();
      k.ever_served = 1;
      sd_status("%sSTATUS=serving (daemon pid %d)", k.ready_sent ? "" : "READY=1\n", (int) k.cur.pid);
      k.ready_sent = 1;
      return;
    case KM_ENDING:
      close_fds_of(mh);
      k.cur.ending = 1;
      if (!k.stopping_sent) sd_status("STOPPING=1\nSTATUS=stopping: the daemon ends");
      k.stopping_sent = 1;
      return;
    case KM_ALIVE: {
      size_t fds = close_fds_of(mh);
      if (fds > 0 || m->a < 0 || m->a > INT32_MAX || m->b < 0 || m->b > INT32_MAX || m->c < 0) {
        klog("alive with figures %lld, %lld, %lld and %zu descriptors: ignored", (long long) m->a, (long long) m->b, (long long) m->c, fds);
        return;
      }
      int64_t figures[3] = {m->a, m->b, m->c};
      loop_alive(figures);
      return;
    }
    case KM_UPGRADE:
      upgrade_start(single_fd(mh));
      return;
    case KM_HANDED:
      close_fds_of(mh);
      if (k.phase != UP_HANDING) { klog("hand-over outside an upgrade: ignored"); return; }
      if (!valid_id(m->id) || k.held[m->id].fd < 0 || k.held[m->id].kind != KEEPER_KIND_HANDOVER) {
        klog("hand-over naming id %u, which holds no hand-over state: upgrade cancelled", m->id);
        kill_next();
        return; /* its death resumes the current JVM */
      }
      k.handover_id = (int) m->id;
      k.phase = UP_TAKING;
      k.next.cursor = KEEPER_MIN_ID;
      k.next.step = 1;
      exits_unsent();
      arm(k.upgrade_timer_fd, TAKE_OVER_MS);
      send_pending(&k.next);
      return;
    default:
      close_fds_of(mh);
      klog("message of unknown type %u: ignored", m->type);
  }
}

/* Reads what a JVM sent, MSGS_PER_ROUND at most (the rest on the next round); returns how many
 * it read. A read of 0 bytes is an empty message, unless the JVM's end is closed (hup): then it
 * is the end of the channel once it repeats EMPTIES_AT_END times. */
static int read_channel(struct jvm *j, int hup) {
  int i = 0;
  for (; i < MSGS_PER_ROUND && j->chan >= 0; i++) {
    struct keeper_msg m;
    union { char buf[CMSG_SPACE(sizeof(int) * 4)]; struct cmsghdr align; } control;
    struct iovec iov = {&m, sizeof m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(j->chan, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) close_channel(j); /* the JVM ended with messages of ours unread: its death follows */
      else if (errno != EAGAIN) { klog("channel: %s; waiting for the daemon to end", strerror(errno)); close_channel(j); }
      return i;
    }
    if (n == 0 && hup) {
      /* The end, or an empty message queued before it: the end repeats, the queue is bounded. */
      close_fds_of(&mh);
      if (++j->empties > EMPTIES_AT_END) { close_channel(j); return i; }
      continue;
    }
    if (n > 0) j->empties = 0;
    if (n != (ssize_t) sizeof m || (mh.msg_flags & MSG_TRUNC)) {
      close_fds_of(&mh);
      klog("message of %s%zd bytes (not %zu): ignored", (mh.msg_flags & MSG_TRUNC) ? "more than " : "", n, sizeof m);
      continue;
    }
    if (j == &k.next) handle_next(&m, &mh);
    else handle(&m, &mh);
    if (j->chan < 0 || (j == &k.next && k.next.pid == 0)) return i + 1; /* took over: j is another JVM now */
  }
  return i;
}

/* Everything a JVM sent before it died (its last state among it); its end is closed, so a
 * read of 0 bytes is the end. */
static void read_all(struct jvm *j) {
  while (j->chan >= 0 && read_channel(j, 1) == MSGS_PER_ROUND) {}
}

/* --- children and signals --------------------------------------------------------------- */

/* One JVM's death, if pid is one: returns 1 (and the keeper's exit code in *code, or -1), else 0. */
static int jvm_reaped(pid_t pid, int status, int *code) {
  *code = -1;
  if (pid == k.cur.pid) { *code = cur_died(status); return 1; }
  if (pid == k.next.pid) {
    read_all(&k.next); /* a KM_TAKEN among what it sent made it the current JVM */
    if (pid == k.cur.pid) *code = cur_died(status);
    else next_died(status);
    return 1;
  }
  if (pid == k.retiring) {
    k.retiring = 0;
    if (k.phase == UP_NONE) disarm(k.upgrade_timer_fd);
    return 1;
  }
  return 0;
}

/* Reaps every child that ended. A JVM's death is handled first; a hosted process's status goes
 * into the table, unless the table is full: then it stays a zombie (the kernel keeps its status)
 * until acknowledgements make room. Returns the keeper's exit code once it must end, else -1. */
static int reap(void) {
  pid_t jvms[3] = {k.cur.pid, k.next.pid, k.retiring};
  for (int i = 0; i < 3; i++) {
    int status, code;
    if (jvms[i] > 0 && waitpid(jvms[i], &status, WNOHANG) == jvms[i] && jvm_reaped(jvms[i], status, &code) && code >= 0) return code;
  }
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
      if (errno == EINTR) continue;
      return -1; /* ECHILD */
    }
    if (si.si_pid == 0) return -1;
    pid_t pid = si.si_pid;
    int jvm = pid == k.cur.pid || pid == k.next.pid || pid == k.retiring;
    if (!jvm && k.exit_count >= k.max_exits) return -1;
    int status, code;
    if (waitpid(pid, &status, WNOHANG) != pid) return -1;
    if (jvm_reaped(pid, status, &code)) {
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
        if (!k.stopping_sent) sd_status("STOPPING=1\nSTATUS=stopping: %s", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        k.stopping_sent = 1;
        k.stopping = 1;
        k.stop_signal = (int) si.ssi_signo;
        kill_next();
        if (k.cur.pid > 0) {
          if (kill(k.cur.pid, (int) si.ssi_signo) < 0) klog("kill %d: %s", (int) k.cur.pid, strerror(errno));
        } else {
          code = 128 + (int) si.ssi_signo; /* between two JVMs: nothing to stop */
        }
        break;
      default: break; /* SIGHUP, SIGPIPE: a keeper does not end of them */
    }
  }
  int reaped = reap();
  if (code < 0) code = reaped;
  send_pending(&k.cur);
  send_pending(&k.next);
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

/* Copies the JVM's command out of argv (whose memory becomes the title) into k.cmds[0]. */
static void copy_command(int argc, char **argv) {
  struct command *c = &k.cmds[0];
  size_t used = 0;
  if (argc > CMD_ARGS) { fprintf(stderr, "papa keeper: more than %d arguments\n", CMD_ARGS); exit(2); }
  for (int i = 0; i < argc; i++) {
    size_t n = strlen(argv[i]) + 1;
    if (used + n > CMD_TEXT) { fprintf(stderr, "papa keeper: a command over %d bytes\n", CMD_TEXT); exit(2); }
    memcpy(c->text + used, argv[i], n);
    c->argv[i] = c->text + used;
    used += n;
  }
  c->argv[argc] = NULL;
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
    if (strlen(log_path) >= sizeof k.log_path) { fprintf(stderr, "papa keeper: --log path too long\n"); exit(2); }
    strcpy(k.log_path, log_path);
  }
  k.cmds = mmap(NULL, sizeof(struct command) * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (k.cmds == MAP_FAILED) { perror("papa keeper: mmap"); exit(1); }
  copy_command(argc - i, argv + i);

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
    /* without CAP_SYS_RESOURCE (a container) it cannot be lowered; nothing to tell the user then */
    if ((oom < 0 || write(oom, "-900", 4) != 4) && errno != EACCES && errno != EPERM) klog("cannot lower oom_score_adj: %s", strerror(errno));
    if (oom >= 0) close(oom);
  }

  sigset_t mask;
  sigemptyset(&mask);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE};
  for (size_t s = 0; s < sizeof sigs / sizeof sigs[0]; s++) sigaddset(&mask, sigs[s]);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) { perror("papa keeper: sigprocmask"); exit(1); }
  k.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  k.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  k.upgrade_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  k.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (k.signal_fd < 0 || k.timer_fd < 0 || k.upgrade_timer_fd < 0 || k.epoll_fd < 0) {
    perror("papa keeper: signalfd/timerfd/epoll");
    exit(1);
  }
  notify_setup();
  int polled[] = {k.signal_fd, k.timer_fd, k.upgrade_timer_fd, k.notify_timer_fd};
  for (size_t p = 0; p < sizeof polled / sizeof polled[0]; p++) {
    if (polled[p] < 0) continue; /* no notify timer without NOTIFY_SOCKET */
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = polled[p]};
    if (epoll_ctl(k.epoll_fd, EPOLL_CTL_ADD, polled[p], &ev) < 0) { perror("papa keeper: epoll_ctl"); exit(1); }
  }
  k.cur.chan = -1;
  k.next.chan = -1;
  k.last_death = -1;
  k.started_us = wall_us();
  set_title(argc, argv, title);
}

int main(int argc, char **argv) {
  setup(argc, argv);
  if (start_jvm(&k.cur, k.cmds[k.cmd].argv, 0) < 0) return 1;
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
      uint32_t events = evs[i].events;
      if (fd == k.signal_fd) {
        int code = on_signal();
        if (code >= 0) return code;
        continue;
      }
      if (fd == k.timer_fd || fd == k.upgrade_timer_fd || fd == k.notify_timer_fd) {
        uint64_t ticks;
        if (read(fd, &ticks, sizeof ticks) < 0) continue; /* disarmed since it fired */
        if (fd == k.notify_timer_fd) notify_tick();
        else if (fd == k.upgrade_timer_fd) upgrade_deadline();
        else if (k.cur.pid == 0 && start_jvm(&k.cur, k.cmds[k.cmd].argv, 0) < 0) arm(k.timer_fd, PAUSE_MAX_MS); /* fork failed */
        continue;
      }
      /* a channel: the current JVM's or the next one's (an earlier event of this round may have closed it) */
      struct jvm *j = fd == k.cur.chan ? &k.cur : fd == k.next.chan ? &k.next : NULL;
      if (j == NULL) continue;
      if (events & EPOLLOUT) send_pending(j);
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) read_channel(j, (events & (EPOLLHUP | EPOLLRDHUP)) != 0);
      /* acknowledgements may have made room for zombies the full exit table left waiting */
      int code = reap();
      if (code >= 0) return code;
      send_pending(&k.cur);
      send_pending(&k.next);
    }
  }
}
