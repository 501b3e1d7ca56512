#!/usr/bin/env python3
"""Figures of the keeper (docs/KEEPER.md): kill -9 of the daemon JVM to serving again, the cost
of keeping the state per change (`set` latency), and the keeper's own RSS and CPU.

usage: keeper_figures.py JAR PROCESSES KILLS [--no-keeper]
Starts `java -jar JAR [--keeper] -p 0`, makes PROCESSES `sleep` processes (stdout and stderr on
pipes, as by default), times 200 `set` requests, then (under the keeper) kills the daemon JVM
KILLS times, each time measuring until a request is answered again, and reads the keeper's
VmRSS and CPU time over 10 idle seconds. Kills only what it started.
"""
import os, re, signal, socket, statistics, subprocess, sys, tempfile, time
from procfs import cpu, jvm_of, rss_kb

jar, nproc, kills = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keeper = "--no-keeper" not in sys.argv
tmp = tempfile.mkdtemp()
portfile = os.path.join(tmp, "port")
cmd = ["java", "-jar", jar] + (["--keeper"] if keeper else ["--no-keeper"]) + ["-p", "0", "--port-file", portfile, "--log-file", os.path.join(tmp, "log")]
daemon = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
while not os.path.exists(portfile) or not open(portfile).read().strip():
    time.sleep(0.02)
port = int(open(portfile).read())

def connect():
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    assert f.read(len(b"Papa is home. Type \"help\" for commands.\n> ")).startswith(b"Papa is home")
    return s, f

def request(s, f, line):
    s.sendall(line.encode() + b"\n")
    out = b""
    while not out.endswith(b"> "):
        b = f.read(1)
        if not b: raise EOFError
        out += b
    return out.decode()

s, f = connect()
pids = []
t0 = time.time()
for i in range(nproc):
    r = request(s, f, "make process p%d /bin/sleep 100000" % i)
    pids.append(int(re.search(r" pid=(\d+) ", r).group(1)))
print("made %d processes in %.1f s" % (nproc, time.time() - t0))
lat = []
for i in range(200):
    t = time.perf_counter()
    request(s, f, "set v%d %d" % (i % 10, i))
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print("set latency, %d processes, %s: p50 %.2f ms, p90 %.2f ms, max %.2f ms" %
      (nproc, "keeper" if keeper else "no keeper", lat[100], lat[180], lat[-1]))
s.close()

if keeper:
    down = []
    for k in range(kills):
        time.sleep(1.2)  # served over a second: a death that is not "quick" (no restart pause)
        jvm = jvm_of(daemon.pid)
        t = time.perf_counter()
        os.kill(jvm, signal.SIGKILL)
        while True:
            try:
                s, f = connect()
                request(s, f, "version")
                s.close()
                if jvm_of(daemon.pid) != jvm: break
            except (OSError, EOFError, AssertionError):
                time.sleep(0.002)
        down.append((time.perf_counter() - t) * 1000)
    down.sort()
    print("kill -9 to serving again, %d processes, %d kills: p50 %.0f ms, max %.0f ms" % (nproc, kills, down[len(down) // 2], down[-1]))
    c0 = cpu(daemon.pid); time.sleep(10); c1 = cpu(daemon.pid)
    rss = rss_kb(daemon.pid)
    fds = len(os.listdir("/proc/%d/fd" % daemon.pid))
    print("keeper: VmRSS %s kB, CPU %.2f s over 10 idle s, %d descriptors held or open" % (rss, c1 - c0, fds))

for pid in pids:
    try: os.kill(pid, signal.SIGKILL)
    except ProcessLookupError: pass
daemon.send_signal(signal.SIGTERM)
print("daemon exit status", daemon.wait())
