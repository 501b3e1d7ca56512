# Watches processes whose output is already queued exactly the way the reference papa client
# does (issue 9, item 1): one recv() of up to 1024 bytes for the reply line, then select() on the
# socket before reading the batch. Bytes of the batch that came with that recv would be stranded
# in the client's buffer, and select() would never wake.
#
# The daemon sends the first batch once the client has read the reply line, or after CAP_MS even
# if it has not (so a watch never waits for ever). A watch whose recv() returned CAP_MS or more
# after its request was sent may have met that cap: it shows nothing either way and is done
# again with a new process ("late"), so every one of the N counted watches had its line read in
# time, however loaded the machine. (The daemon starts its wait after the request arrived and
# wrote the batch before recv() returned: a recv() sooner than CAP_MS after the send rules the
# cap out.)
# usage: first_batch.py PORT|SOCKET_PATH N CAP_MS ; prints "watch STRANDED TIMEOUTS COUNTED LATE"
# and "make STRANDED TIMEOUTS COUNTED LATE" (COUNTED is N unless over N watches were late), then "gap_ms MEDIAN MAX" (time between the reply line and the
# batch, as seen by this client). TIMEOUTS: no batch within 30 s of the line (a stall).
import select, socket, sys, time

target, n, cap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000
if target.startswith('/'):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(target)
else:
    s = socket.create_connection(('127.0.0.1', int(target)), timeout=60)

def read_until(buf, end):
    while not buf.endswith(end):
        d = s.recv(65536)
        if not d:
            raise SystemExit('daemon closed the connection')
        buf += d
    return buf

read_until(b'', b'> ')

def cmd(line):
    s.sendall(line.encode() + b'\n')
    return read_until(b'', b'\n> ')[:-3].decode()

gaps = []
for path in ('watch', 'make'):
    stranded = timeouts = late = counted = 0
    i = 0
    while counted < n and late <= n:
        name = '%s%d' % (path, i)
        i += 1
        cmd('make process %s /bin/echo hello' % name)
        while 'running=False' not in cmd('list processes ' + name):
            time.sleep(0.002)
        t_sent = time.monotonic()
        if path == 'watch':
            s.sendall(('watch processes %s\n' % name).encode())
        else:  # the same spec again: the existing process, with its output queued
            s.sendall(('make process %s watch=1 /bin/echo hello\n' % name).encode())
        first = s.recv(1024)
        t_line = time.monotonic()
        nl = first.find(b'\n')
        line, rest = first[:nl + 1], first[nl + 1:]
        if path == 'watch' and line != b'Watching 1\n' or path == 'make' and not line.startswith((name + ' pid=').encode()):
            raise SystemExit('unexpected reply line %r' % first)
        in_time = t_line - t_sent < cap
        if in_time:
            counted += 1
        else:
            late += 1
        if rest:
            if in_time:
                stranded += 1
            batch = rest
        else:
            # Bounded only so that a stall is reported instead of hanging; the batch follows the
            # line by milliseconds (gap_ms), or by the cap at most, on an idle daemon.
            r, _, _ = select.select([s], [], [], 30)
            if not r:
                timeouts += 1  # the reference client would stall here for ever
            elif in_time:
                gaps.append((time.monotonic() - t_line) * 1000)
            batch = b''
        # acknowledge until the process has left the watch
        while True:
            batch = read_until(batch, b'] ')
            s.sendall(b'\n')
            after = read_until(b'', b' ')
            if after.startswith(b'Nothing left to watch'):
                read_until(after, b'\n> ')
                break
            batch = after
    print(path, stranded, timeouts, counted, late)
gaps.sort()
print('gap_ms %.2f %.2f' % (gaps[len(gaps) // 2], gaps[-1]) if gaps else 'gap_ms - -')
