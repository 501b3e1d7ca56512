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
  /* keeper -> JVM */
  KM_HELD = 101,    /* id, a = kind: a held descriptor, placed at number id in this JVM */
  KM_EXITED = 102,  /* a = pid, b = wait status, c = when reaped (µs since the epoch) */
  KM_HELLO = 103,   /* id = restarts so far, a = keeper start (µs), b = last death's wait status (-1: none),
                       c = keeper pid; sent after the KM_HELD and KM_EXITED of a new JVM's start */
};

#endif
