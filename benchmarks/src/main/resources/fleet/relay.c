/* The raw limit of the fleet scenario: the least a relay of papa's watch protocol must do per
 * line, in C. One thread, level-triggered epoll over the listener, N sessions and N stdout
 * pipes. Speaks exactly the subset the fleet uses: greeting, "make process NAME watch=1 PATH ARG",
 * reply "NAME pid=PID\n", then per captured read one batch "out:NAME:SECS.MICROS:LEN\n<bytes>\n] "
 * (items captured while a batch is unacknowledged wait for the next), an empty line acknowledges.
 * Spawns run on a second thread, as papa's do, so the loop keeps relaying during a start-up burst.
 * Listens on 127.0.0.1 (an ephemeral port), or on the unix socket argv[1] when given.
 * Prints "port N" (0 for a unix socket) on stdout; runs until killed. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>

extern char **environ;
enum { MAXFD = 65536, QCAP = 1 << 16 };
struct sess { int fd, pipe, watching, inflight, inlen, qlen; char name[64]; char in[4096]; char *q; };
static struct sess *by_fd[MAXFD]; /* session by its socket and by its pipe */
static int is_pipe[MAXFD];
static int ep;
/* loop -> spawner: struct spawn_req; spawner -> loop: the same struct, filled in */
struct spawn_req { struct sess *s; char path[256]; char arg[64]; int pipe; pid_t pid; };
static int to_spawner[2], from_spawner[2];

static void *spawner(void *unused) {
  (void) unused;
  struct spawn_req r;
  while (read(to_spawner[0], &r, sizeof r) == sizeof r) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) { r.pipe = -1; r.pid = -1; }
    else {
      posix_spawn_file_actions_t fa; posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_adddup2(&fa, p[1], 1);
      char *argv[] = {r.path, r.arg, NULL};
      if (posix_spawn(&r.pid, r.path, &fa, NULL, argv, environ) != 0) r.pid = -1;
      posix_spawn_file_actions_destroy(&fa);
      close(p[1]);
      r.pipe = p[0];
    }
    if (write(from_spawner[1], &r, sizeof r) != sizeof r) return NULL;
  }
  return NULL;
}
static const char GREETING[] = "Papa is home. Type \"help\" for commands.\n> ";

static void sendall(int fd, const char *p, size_t n) {
  while (n > 0) { ssize_t w = send(fd, p, n, MSG_NOSIGNAL); if (w <= 0) { if (errno == EAGAIN) continue; return; } p += w; n -= w; }
}

static void flush_batch(struct sess *s) {
  if (s->inflight || s->qlen == 0) return;
  sendall(s->fd, s->q, s->qlen);
  s->qlen = 0;
  s->inflight = 1;
}

static void capture(struct sess *s) {
  char buf[65536];
  ssize_t n = read(s->pipe, buf, sizeof buf);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { epoll_ctl(ep, EPOLL_CTL_DEL, s->pipe, NULL); by_fd[s->pipe] = NULL; close(s->pipe); return; }
  if (n < 0) return;
  struct timespec now; clock_gettime(CLOCK_REALTIME, &now);
  char hdr[160];
  int h = snprintf(hdr, sizeof hdr, "out:%s:%ld.%06ld:%zd\n", s->name, (long) now.tv_sec, now.tv_nsec / 1000, n);
  if (s->qlen > 0) s->qlen -= 2; /* reopen the batch: drop its "] " */
  if (s->qlen + h + n + 3 > QCAP) return; /* the fleet never queues that much */
  memcpy(s->q + s->qlen, hdr, h); s->qlen += h;
  memcpy(s->q + s->qlen, buf, n); s->qlen += n;
  memcpy(s->q + s->qlen, "\n] ", 3); s->qlen += 3;
  flush_batch(s);
}

static void request(struct sess *s) {
  ssize_t n = recv(s->fd, s->in + s->inlen, sizeof s->in - s->inlen, 0);
  if (n <= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL); close(s->fd); by_fd[s->fd] = NULL; s->fd = -1; return; }
  s->inlen += n;
  char *nl;
  while ((nl = memchr(s->in, '\n', s->inlen)) != NULL) {
    *nl = 0;
    if (s->watching) {
      s->inflight = 0; /* an acknowledgement */
      flush_batch(s);
    } else { /* make process NAME watch=1 PATH ARG */
      struct spawn_req r = {.s = s};
      char name[64];
      if (sscanf(s->in, "make process %63s watch=1 %255s %63s", name, r.path, r.arg) == 3) {
        strcpy(s->name, name);
        if (write(to_spawner[1], &r, sizeof r) != sizeof r) abort();
      } else sendall(s->fd, "Error: not the fleet\n> ", 23);
    }
    size_t used = nl + 1 - s->in; memmove(s->in, nl + 1, s->inlen - used); s->inlen -= used;
  }
}

int main(int argc, char **argv) {
  signal(SIGCHLD, SIG_IGN);
  int l, one = 1, port = 0;
  if (argc > 1) {
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    strncpy(u.sun_path, argv[1], sizeof u.sun_path - 1);
    l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(l, (void *) &u, sizeof u) || listen(l, 4096)) { perror("listen"); return 1; }
  } else {
    l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(l, (void *) &a, sizeof a) || listen(l, 4096)) { perror("listen"); return 1; }
    getsockname(l, (void *) &a, &al);
    port = ntohs(a.sin_port);
  }
  printf("port %d\n", port); fflush(stdout);
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  if (pipe2(to_spawner, O_CLOEXEC) || pipe2(from_spawner, O_CLOEXEC)) { perror("pipe"); return 1; }
  fcntl(to_spawner[1], F_SETPIPE_SZ, 1 << 20); /* a burst of requests must not block the loop */
  struct epoll_event sev = {.events = EPOLLIN, .data.fd = from_spawner[0]};
  epoll_ctl(ep, EPOLL_CTL_ADD, from_spawner[0], &sev);
  pthread_t t;
  if (pthread_create(&t, NULL, spawner, NULL)) { perror("pthread_create"); return 1; }
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0 || c >= MAXFD) { if (c >= 0) close(c); continue; }
        if (argc == 1) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct sess *s = calloc(1, sizeof *s); s->fd = c; s->pipe = -1; s->q = malloc(QCAP);
        by_fd[c] = s; is_pipe[c] = 0;
        struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        sendall(c, GREETING, sizeof GREETING - 1);
      } else if (fd == from_spawner[0]) {
        struct spawn_req r;
        if (read(fd, &r, sizeof r) != sizeof r) abort();
        struct sess *s = r.s;
        if (r.pid < 0 || s->fd < 0) { if (r.pipe >= 0) close(r.pipe); continue; }
        s->pipe = r.pipe; s->watching = 1;
        by_fd[r.pipe] = s; is_pipe[r.pipe] = 1;
        struct epoll_event e = {.events = EPOLLIN, .data.fd = r.pipe};
        epoll_ctl(ep, EPOLL_CTL_ADD, r.pipe, &e);
        char reply[160]; int len = snprintf(reply, sizeof reply, "%s pid=%d\n", s->name, r.pid);
        sendall(s->fd, reply, len);
      } else if (by_fd[fd] != NULL) {
        if (is_pipe[fd]) { if (by_fd[fd]->fd >= 0) capture(by_fd[fd]); else { epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); close(fd); by_fd[fd] = NULL; } }
        else request(by_fd[fd]);
      }
    }
  }
}
