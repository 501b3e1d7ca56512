/*
 * Small I/O helpers for the daemon's hot path. They take a base address plus an
 * offset (JNA direct mapping passes a direct ByteBuffer's base address, not its
 * position) and return -errno instead of setting errno, so the Java side never
 * allocates to learn about EAGAIN.
 */
#include "papa.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

PAPA_EXPORT long papa_read(int fd, void *base, long off, long len) {
  for (;;) {
    ssize_t n = read(fd, (char *) base + off, (size_t) len);
    if (n >= 0) return (long) n;
    if (errno != EINTR) return -errno;
  }
}

/* send(MSG_NOSIGNAL) so a vanished socket peer gives EPIPE, not SIGPIPE;
 * write() for everything that is not a socket. */
PAPA_EXPORT long papa_write(int fd, const void *base, long off, long len) {
  const char *p = (const char *) base + off;
  for (;;) {
    ssize_t n = send(fd, p, (size_t) len, MSG_NOSIGNAL);
    if (n >= 0) return (long) n;
    if (errno == ENOTSOCK) break;
    if (errno != EINTR) return -errno;
  }
  for (;;) {
    ssize_t n = write(fd, p, (size_t) len);
    if (n >= 0) return (long) n;
    if (errno != EINTR) return -errno;
  }
}

PAPA_EXPORT int papa_epoll_ctl(int epfd, int op, int fd, int events, long long data) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = (uint32_t) events;
  ev.data.u64 = (uint64_t) data;
  return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/*
 * epoll_wait into buf (at least 16 * max bytes), then rewrite the entries in a
 * fixed layout {int32 events; int32 pad; int64 data} per 16 bytes, so Java does
 * not care that struct epoll_event is packed on x86-64 and not elsewhere.
 */
PAPA_EXPORT int papa_epoll_wait(int epfd, void *buf, int max, int timeout) {
  struct epoll_event *ev = buf;
  int n = epoll_wait(epfd, ev, max, timeout);
  if (n < 0) return -errno;
  for (int i = n - 1; i >= 0; i--) {  /* backwards: destination never overtakes source */
    uint32_t e = ev[i].events;
    uint64_t d = ev[i].data.u64;
    char *slot = (char *) buf + 16 * (size_t) i;
    int32_t e32 = (int32_t) e, pad = 0;
    memcpy(slot, &e32, 4);
    memcpy(slot + 4, &pad, 4);
    memcpy(slot + 8, &d, 8);
  }
  return n;
}

/* The kernel's SCM_MAX_FD: the most descriptors one message may carry. */
#define PAPA_SCM_MAX_FD 253

/* sendmsg(MSG_NOSIGNAL) of base+off..len with nfds descriptors attached (SCM_RIGHTS) to
 * its first byte. Blocking or not as the socket is; the control buffer is on the stack. */
PAPA_EXPORT long papa_sendmsg(int sock, const void *base, long off, long len, const int *fds, int nfds) {
  if (nfds < 0 || nfds > PAPA_SCM_MAX_FD || len <= 0) return -EINVAL;
  union { char buf[CMSG_SPACE(sizeof(int) * PAPA_SCM_MAX_FD)]; struct cmsghdr align; } ctl;
  struct iovec iov = {.iov_base = (char *) base + off, .iov_len = (size_t) len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0) {
    memset(ctl.buf, 0, CMSG_SPACE(sizeof(int) * (size_t) nfds));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t) nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t) nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t) nfds);
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return (long) n;
    if (errno != EINTR) return -errno;
  }
}

/*
 * recvmsg(MSG_CMSG_CLOEXEC) into base+off..len. out[0] gets the number of descriptors
 * received (at most maxfds: the control buffer holds exactly that many, so a message with
 * more is cut and the kernel discards the rest), out[1] the message flags (MSG_CTRUNC),
 * out[2...] the descriptors. The control buffer is on the stack: the plain path (no
 * descriptors) costs what read() costs plus an empty loop.
 */
PAPA_EXPORT long papa_recvmsg(int sock, void *base, long off, long len, int *out, int maxfds) {
  if (maxfds < 0 || maxfds > PAPA_SCM_MAX_FD) return -EINVAL;
  union { char buf[CMSG_SPACE(sizeof(int) * PAPA_SCM_MAX_FD)]; struct cmsghdr align; } ctl;
  struct iovec iov = {.iov_base = (char *) base + off, .iov_len = (size_t) len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (maxfds > 0) {
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_LEN(sizeof(int) * (size_t) maxfds);  /* room for exactly maxfds */
  }
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  out[0] = 0;
  out[1] = 0;
  if (n < 0) return -errno;
  out[1] = msg.msg_flags;
  if (msg.msg_controllen == 0) return (long) n;
  int got = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int count = (int) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t) i, sizeof fd);
      if (got < maxfds) out[2 + got++] = fd;
      else close(fd);  /* cannot happen with an exact control buffer; never leak it anyway */
    }
  }
  out[0] = got;
  return (long) n;
}

PAPA_EXPORT int papa_set_thread_name(const char *name) {
  return prctl(PR_SET_NAME, (unsigned long) name, 0, 0, 0) < 0 ? -errno : 0;
}

/* strerror_r (GNU flavour) into buf; always NUL-terminated. */
PAPA_EXPORT void papa_strerror(int err, char *buf, int len) {
  if (len <= 0) return;
  char tmp[256];
  const char *s = strerror_r(err, tmp, sizeof tmp);
  strncpy(buf, s, (size_t) len - 1);
  buf[len - 1] = '\0';
}
