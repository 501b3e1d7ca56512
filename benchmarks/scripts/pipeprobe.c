/* pipeprobe N SIZE: makes N pipes, asks F_SETPIPE_SZ SIZE of each read end (0: leaves them), prints
 * how many got it, the size of a pipe made afterwards and the memory cgroup's kmem usage per pipe
 * (cgroup v1 memory.kmem.usage_in_bytes; shared with whatever else runs in the cgroup).
 * cc -O2 -o pipeprobe pipeprobe.c; ulimit -n 10000; ./pipeprobe 2000 1048576 (docs/KEEPER.md, "Output pipes") */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
static long kmem(void) {
  FILE *f = fopen("/sys/fs/cgroup/memory/memory.kmem.usage_in_bytes", "r");
  long v = -1; if (f) { if (fscanf(f, "%ld", &v) != 1) v = -1; fclose(f); }
  return v;
}
int main(int argc, char **argv) {
  int n = atoi(argv[1]), size = atoi(argv[2]), ok = 0, fail = 0, lasterr = 0;
  long k0 = kmem();
  for (int i = 0; i < n; i++) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) { perror("pipe2"); return 1; }
    if (size > 0) { if (fcntl(p[0], F_SETPIPE_SZ, size) >= 0) ok++; else { fail++; lasterr = errno; } }
  }
  long k1 = kmem();
  int q[2]; pipe2(q, O_CLOEXEC);
  printf("pipes %d size %d: enlarged %d, refused %d (%s); a pipe made afterwards: %d bytes; kmem delta %.1f KiB/pipe\n",
         n, size, ok, fail, fail ? strerror(lasterr) : "-", fcntl(q[0], F_GETPIPE_SZ), (k1 - k0) / 1024.0 / n);
  return 0;
}
