/*
 * The keeper's channel with the daemon JVM (docs/KEEPER.md): a SOCK_SEQPACKET socketpair, the
 * JVM's end at descriptor KEEPER_CHANNEL_FD. Every message is exactly one struct keeper_msg
 * (host byte order); anything else is malformed and ignored by the keeper.
 * dev.papa.daemon.keeper.KeeperMessage mirrors these numbers: keep them in sync.
 */
#ifndef PAPA_KEEPER_H
#define PAPA_KEEPER_H

#include <stdint.h>

#define KEEPER_CHANNEL_FD 3
/* Held descriptors are placed at their id in a new JVM: ids start above the channel. */
#define KEEPER_MIN_ID 4
/* Kinds of held descriptors the keeper tells apart (the JVM's own kinds are 0..255). */
#define KEEPER_KIND_HANDOVER 2

struct keeper_msg {
  uint32_t type;
  uint32_t id;
  int64_t a;
  int64_t b;
  int64_t c;
};

enum keeper_msg_type {
  /* JVM -> keeper */
  KM_HOLD = 1,      /* id, a = kind (0..255); exactly one descriptor attached: keep a duplicate as id */
  KM_RELEASE = 2,   /* id: the object is gone, close the duplicate */
  KM_ACK_EXIT = 3,  /* a = pid: its exit status is recorded, forget it */
  KM_SERVING = 4,   /* the JVM serves: it started properly (resets the restart pause) */
  KM_ENDING = 5,    /* the JVM exits on purpose (exit-if-idle, a signal): the keeper ends with it */
  /* the upgrade (docs/KEEPER.md, "Upgrading"): the serving JVM ("current") asks, a new JVM
     ("next") starts beside it, the current one hands over, the next one takes over */
  KM_UPGRADE = 6,   /* current; one descriptor attached: a sealed memfd holding the next JVM's
                       command, NUL-terminated arguments. Start it beside the current one */
  KM_READY = 7,     /* next: started, waiting to take over */
  KM_HANDED = 8,    /* current: stopped serving; id = its last state (held, kind KEEPER_KIND_HANDOVER) */
  KM_TAKEN = 9,     /* next: the state is read and in its tables: the upgrade is done */
  KM_ALIVE = 10,    /* the serving JVM's loop answers a KM_PING: a = processes, b = sockets, c = bytes of
                       output queued (each >= 0, a and b at most INT32_MAX); systemd's STATUS= and watchdog */
  /* keeper -> JVM */
  KM_HELD = 101,    /* id, a = kind: a held descriptor, placed at number id in this JVM */
  KM_EXITED = 102,  /* a = pid, b = wait status, c = when reaped (µs since the epoch) */
  KM_HELLO = 103,   /* id = restarts so far, a = keeper start (µs), b = last death's wait status (-1: none),
                       c = keeper pid; sent after the KM_HELD and KM_EXITED of a new JVM's start */
  KM_STANDBY = 104, /* instead of KM_HELLO (same fields), to a JVM started for an upgrade: it gets no
                       exits, sends KM_READY and waits for KM_TAKE_OVER; it does not serve before */
  KM_HAND_OVER = 105, /* to current: the next JVM is ready; stop serving, hold the last state, KM_HANDED */
  KM_HELD_FD = 106, /* to next, one descriptor attached: id, a = kind; held since the next JVM started */
  KM_TAKE_OVER = 107, /* to next, after its KM_HELD_FDs and the exits: id = the state to take */
  KM_RESUME = 108,  /* to current: the upgrade failed (a = the next JVM's wait status, -1: none); serve on */
  KM_RETIRE = 109,  /* to current: the next JVM took over; exit now, touching nothing */
  KM_PING = 110,    /* to current, serving, only under systemd (NOTIFY_SOCKET): answer KM_ALIVE from the loop */
};

#endif
