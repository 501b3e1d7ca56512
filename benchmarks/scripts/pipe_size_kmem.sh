#!/bin/bash
# Kernel memory of 1,000 hosted processes' pipes: the memory cgroup's kmem usage before and after
# `make process` of 1,000 `sleep` processes (stdout and stderr pipes each), daemon --pipe-size 0 vs 1m.
# The cgroup is shared with other work on this machine: the difference between the two is what counts.
JAR=${1:-papa-core/target/papa-core.jar}
K=/sys/fs/cgroup/memory/memory.kmem.usage_in_bytes
for round in 1 2; do
for size in 0 1m; do
  sock=$(mktemp -u /tmp/papa-kmem-XXXXXX.sock); rm -f $sock
  java -jar $JAR -u $sock --pipe-size $size 2>/dev/null & D=$!
  for i in $(seq 100); do [ -S $sock ] && break; sleep 0.1; done; sleep 1
  python3 - "$sock" "$size" "$K" <<'PY'
import socket, sys, time, re, os, signal
sock, size, K = sys.argv[1:]
s = socket.socket(socket.AF_UNIX); s.connect(sock); f = s.makefile("rb")
def req(line):
    if line: s.sendall(line.encode() + b"\n")
    out = b""
    while not out.endswith(b"> "):
        b = f.read(1)
        if not b: raise EOFError
        out += b
    return out.decode()
req(None)  # the greeting
kmem = lambda: int(open(K).read())
time.sleep(0.5); k0 = kmem()
pids = [int(re.search(r" pid=(\d+) ", req("make process s%d /bin/sleep 600" % i)).group(1)) for i in range(1000)]
time.sleep(0.5); k1 = kmem()
print("--pipe-size %s: kmem +%.1f MiB for 1,000 processes (%.1f KiB each)" % (size, (k1 - k0) / 2**20, (k1 - k0) / 1000 / 1024))
for p in pids: os.kill(p, signal.SIGKILL)
PY
  kill $D; wait $D 2>/dev/null
done
done
