#!/usr/bin/env python3
"""The keeper's own cost while output flows (issue 22: "near zero: it is not on the output path").

usage: keeper_under_load.py JAR PROCESSES LINES_PER_SECOND SECONDS
Starts `java -jar JAR -p 0` (the keeper, by default), makes PROCESSES writers of LINES_PER_SECOND
lines each (100-byte lines, Python), one session per writer watching and acknowledging it
(`make process` then `watch processes NAME`, the Circus shape), and reads over SECONDS the CPU
time (utime + stime, the process itself, not its children) and VmRSS of the keeper and of the
daemon JVM, and the lines delivered. Kills only what it started.
"""
import os, re, selectors, signal, socket, subprocess, sys, tempfile, time
from procfs import cpu, jvm_of, rss_kb as rss

jar, nproc, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
tmp = tempfile.mkdtemp()
portfile = os.path.join(tmp, "port")
writer = os.path.join(tmp, "writer.py")
open(writer, "w").write(
    "import sys, time\n"
    "rate = float(sys.argv[1]); n = 0; t0 = time.time()\n"
    "while True:\n"
    "    n += 1; sys.stdout.write('%09d ' % n + 'x' * 90 + '\\n'); sys.stdout.flush()\n"
    "    d = t0 + n / rate - time.time()\n"
    "    if d > 0: time.sleep(d)\n")
daemon = subprocess.Popen(["java", "-jar", jar, "-p", "0", "--port-file", portfile, "--log-file", os.path.join(tmp, "log")],
                          stderr=subprocess.DEVNULL)
while not os.path.exists(portfile) or not open(portfile).read().strip():
    time.sleep(0.02)
port = int(open(portfile).read())
GREETING = b"Papa is home. Type \"help\" for commands.\n> "

def connect():
    s = socket.create_connection(("127.0.0.1", port))
    buf = b""
    while len(buf) < len(GREETING): buf += s.recv(4096)
    return s

def request(s, line):
    s.sendall(line.encode() + b"\n")
    out = b""
    while not out.endswith(b"> "): out += s.recv(65536)
    return out.decode()

sel = selectors.DefaultSelector()
pids = []
for i in range(nproc):
    s = connect()
    r = request(s, "make process w%d python3 -u %s %s" % (i, writer, rate))
    pids.append(int(re.search(r" pid=(\d+) ", r).group(1)))
    s.sendall(b"watch processes w%d\n" % i)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, [b""])
jvm = jvm_of(daemon.pid)
lines = 0

def pump(until):
    """Reads every watcher; acknowledges each batch (a batch ends with "] ")."""
    global lines
    while time.time() < until:
        for key, _ in sel.select(0.1):
            s, state = key.fileobj, key.data
            data = s.recv(1 << 20)
            if not data: raise SystemExit("a session ended")
            buf = state[0] + data
            while b"\n] " in buf:
                batch, buf = buf.split(b"\n] ", 1)
                lines += batch.count(b" xxxxxxxxxx")
                s.sendall(b"\n")
            state[0] = buf

pump(time.time() + 3)  # settle
k0, j0, l0, t0 = cpu(daemon.pid), cpu(jvm), lines, time.time()
pump(t0 + seconds)
k1, j1, l1, t1 = cpu(daemon.pid), cpu(jvm), lines, time.time()
print("%d writers x %.0f lines/s for %.0f s: %d lines delivered (%.0f/s)" % (nproc, rate, t1 - t0, l1 - l0, (l1 - l0) / (t1 - t0)))
print("keeper (pid %d): CPU %.2f s (%.2f%% of one core), VmRSS %d kB" % (daemon.pid, k1 - k0, 100 * (k1 - k0) / (t1 - t0), rss(daemon.pid)))
print("daemon JVM (pid %d): CPU %.2f s (%.1f%% of one core), VmRSS %d kB" % (jvm, j1 - j0, 100 * (j1 - j0) / (t1 - t0), rss(jvm)))
for pid in pids:
    try: os.kill(pid, signal.SIGKILL)
    except ProcessLookupError: pass
daemon.send_signal(signal.SIGTERM)
print("daemon exit status", daemon.wait())
