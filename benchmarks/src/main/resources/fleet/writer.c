/* The fleet's writer: one line "SEQ MICROS\n" per period (argv[1], microseconds), on an absolute
 * schedule (no drift), with write(2). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long period = atol(argv[1]);
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  char buf[64];
  for (unsigned long seq = 0;; seq++) {
    clock_gettime(CLOCK_REALTIME, &now);
    int n = snprintf(buf, sizeof buf, "%lu %ld%06ld\n", seq, (long) now.tv_sec, now.tv_nsec / 1000);
    if (write(1, buf, n) != n) return 1;
    next.tv_nsec += period * 1000;
    while (next.tv_nsec >= 1000000000) { next.tv_nsec -= 1000000000; next.tv_sec++; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
}
