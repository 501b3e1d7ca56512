#!/usr/bin/env python3
"""A stand-in for the daemon JVM under papa-keeper (KeeperTest): reads what the keeper hands
it at start, writes that down, then runs the steps of a plan file. Python, so that the test
controls every byte the keeper receives (the fuzz steps send malformed messages on purpose).

usage: fake_jvm.py DIR   (DIR/plan: one step per line; DIR/jvm-N.txt: what start N received)
"""
import array, ctypes, fcntl, os, random, signal, socket, struct, sys, time

FMT = "=IIqqq"  # struct keeper_msg (src-c/keeper.h)
SIZE = struct.calcsize(FMT)
HOLD, RELEASE, ACK_EXIT, SERVING, ENDING = 1, 2, 3, 4, 5
UPGRADE, READY, HANDED, TAKEN, ALIVE = 6, 7, 8, 9, 10
HELD, EXITED, HELLO = 101, 102, 103
STANDBY, HAND_OVER, HELD_FD, TAKE_OVER, RESUME, RETIRE = 104, 105, 106, 107, 108, 109

d = sys.argv[1]
chan = socket.socket(fileno=3)
held, exits, hello, standby = [], [], None, False
while hello is None:
    data = chan.recv(64)
    t, i, a, b, c = struct.unpack(FMT, data)
    if t == HELD: held.append((i, a))
    elif t == EXITED: exits.append((a, b))
    elif t in (HELLO, STANDBY): hello, standby = (i, b, c), t == STANDBY
n = 0
while os.path.exists(os.path.join(d, "jvm-%d.txt" % n)): n += 1
with open(os.path.join(d, "jvm-%d.tmp" % n), "w") as f:
    f.write("pid %d\nrestarts %d\nlast_death %d\nkeeper %d\nstandby %d\n" % (os.getpid(), hello[0], hello[1], hello[2], standby))
    f.write("argv %s\n" % " ".join(sys.argv[1:]))
    for i, kind in held:
        # the descriptor must be open at its id; report what it is
        try: target = os.readlink("/proc/self/fd/%d" % i)
        except OSError: target = "CLOSED"
        f.write("held %d %d %s\n" % (i, kind, target))
    for pid, status in exits: f.write("exited %d %d\n" % (pid, status))
os.rename(os.path.join(d, "jvm-%d.tmp" % n), os.path.join(d, "jvm-%d.txt" % n))

def send(t, i=0, a=0, b=0, c=0, fds=()):
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
    chan.sendmsg([struct.pack(FMT, t, i, a, b, c)], anc)

libc = ctypes.CDLL(None, use_errno=True)
CLONE_PARENT = 0x8000
SYS_CLONE = {"x86_64": 56, "aarch64": 220}[os.uname().machine]

def spawn_sibling(argv, stdout=None):
    """fork with CLONE_PARENT: the child's parent is the keeper, as a hosted process's is."""
    pid = libc.syscall(SYS_CLONE, CLONE_PARENT | signal.SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        try:
            os.closerange(3, 4)  # the channel is not the child's
            if stdout is not None: os.dup2(stdout, 1)
            os.execvp(argv[0], argv)
        finally: os._exit(127)
    return pid

def receive():
    """One message and the descriptor it carries (or -1)."""
    fds = array.array("i")
    data, anc, _, _ = chan.recvmsg(64, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, body in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(body[:len(body) - len(body) % fds.itemsize])
    return struct.unpack(FMT, data), (fds[0] if fds else -1)

def sealed_memfd(data):
    fd = os.memfd_create("fake-jvm", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK)
    return fd

plan = open(os.path.join(d, "plan")).read().splitlines()
for line in plan:
    w = line.split()
    if not w: continue
    if w[0] == "only-start" and int(w[1]) != n: continue  # "only-start N STEP...": a step of start N only
    if w[0] == "only-start": w = w[2:]
    op = w[0]
    if op == "serve": send(SERVING)
    elif op == "ending": send(ENDING)
    elif op == "hold-file":  # hold-file ID PATH: open PATH and register it as ID (dup'd to ID here too)
        fd = os.open(w[2], os.O_RDWR | os.O_CREAT, 0o600)
        send(HOLD, int(w[1]), 7, fds=[fd])
        os.close(fd)
    elif op == "hold-pipe":  # hold-pipe ID NAME: a writer (keeper's child) into a pipe whose read end is held as ID
        r, wr = os.pipe()
        send(HOLD, int(w[1]), 2, fds=[r])
        os.close(r)
        pid = spawn_sibling(["sh", "-c", "while :; do echo tick; sleep 0.01; done"], stdout=wr)
        os.close(wr)
        with open(os.path.join(d, w[2] + ".pid"), "w") as f: f.write(str(pid))
    elif op == "read":  # read ID NAME: 5 bytes from descriptor ID (a held pipe) into DIR/NAME
        data = os.read(int(w[1]), 5)
        with open(os.path.join(d, w[2]), "wb") as f: f.write(data)
    elif op == "release": send(RELEASE, int(w[1]))
    elif op == "ack-all":
        for pid, _ in exits: send(ACK_EXIT, a=pid)
    elif op == "spawn":  # spawn NAME ARGV...: pid written to DIR/NAME.pid
        pid = spawn_sibling(w[2:])
        with open(os.path.join(d, w[1] + ".pid"), "w") as f: f.write(str(pid))
    elif op == "fuzz":  # fuzz COUNT SEED: random messages, valid and not
        rnd = random.Random(int(w[2]) + n)
        for _ in range(int(w[1])):
            kind = rnd.randrange(7)
            fds = []
            for _ in range(rnd.choice([0, 0, 1, 1, 2, 5])):
                fds.append(os.open("/dev/null", os.O_RDONLY))
            if kind == 0: body = os.urandom(rnd.randrange(0, 80))
            elif kind == 1:  # right size, random fields
                body = struct.pack(FMT, rnd.choice([0, 1, 2, 3, 4, 6, 101, 0xffffffff, rnd.getrandbits(32)]),
                                   rnd.choice([0, 1, 3, 2**31, 2**32 - 1, rnd.getrandbits(32) | 2**20]),
                                   rnd.choice([-1, 0, 256, 2**63 - 1, -2**63, rnd.getrandbits(63)]), 0, 0)
            elif kind == 2: body = struct.pack(FMT, RELEASE, rnd.choice([0, 2**32 - 1, 1 << 30, 5]), 0, 0, 0)
            elif kind == 3: body = struct.pack(FMT, ACK_EXIT, 0, rnd.choice([-1, 0, 1, 2**62, os.getpid()]), 0, 0)
            elif kind == 4: body = struct.pack(FMT, HOLD, rnd.choice([0, 3, 2**32 - 1, 1 << 30]), 0, 0, 0)
            elif kind == 5: body = struct.pack(FMT, HOLD, 40, rnd.choice([-5, 300]), 0, 0)
            else: body = struct.pack(FMT, ALIVE, rnd.getrandbits(32), rnd.choice([-1, 0, 2**31, 2**63 - 1, -2**63]),
                                     rnd.choice([-1, 3, 2**31, -2**63]), rnd.choice([-1, 0, 2**63 - 1, -2**63]))
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
            try: chan.sendmsg([body], anc)
            except OSError: pass  # an empty seqpacket body with no data is refused by some kernels
            for fd in fds: os.close(fd)
    elif op == "alive":  # alive PROCESSES SOCKETS QUEUED [FDS]: a KM_ALIVE as the loop answers a ping, FDS /dev/null attached
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(int(w[4]) if len(w) > 4 else 0)]
        send(ALIVE, 0, int(w[1]), int(w[2]), int(w[3]), fds=fds)
        for fd in fds: os.close(fd)
    elif op == "empty":  # a message of no bytes (valid for SOCK_SEQPACKET: not the end of the channel)
        chan.sendmsg([b""])
    elif op == "mark":  # mark NAME: a file saying the plan got here
        open(os.path.join(d, w[1]), "w").close()
    elif op == "wait-file":  # wait-file NAME: until the test creates DIR/NAME
        while not os.path.exists(os.path.join(d, w[1])): time.sleep(0.005)
    elif op == "upgrade":  # upgrade [unsealed] ARG...: ask for a next JVM running python3 fake_jvm.py DIR ARG...
        argv = ["python3", sys.argv[0], d] + [x for x in w[1:] if x != "unsealed"]
        data = b"".join(x.encode() + b"\0" for x in argv)
        if "unsealed" in w:
            fd = os.memfd_create("fake-jvm", os.MFD_CLOEXEC)
            os.write(fd, data)
        else:
            fd = sealed_memfd(data)
        send(UPGRADE, fds=[fd])
        os.close(fd)
    elif op == "hold-memfd":  # hold-memfd ID KIND: a sealed memfd held as ID of KIND
        fd = sealed_memfd(b"state")
        send(HOLD, int(w[1]), int(w[2]), fds=[fd])
        os.close(fd)
    elif op in ("ready", "handed", "taken"):  # handed ID: the state held as ID
        send({"ready": READY, "handed": HANDED, "taken": TAKEN}[op], int(w[1]) if len(w) > 1 else 0)
    elif op == "await":  # await TYPE NAME: messages until one of TYPE; DIR/NAME lists what came ("type id a target")
        with open(os.path.join(d, w[2] + ".tmp"), "w") as f:
            while True:
                (t, i, a, b, c), fd = receive()
                target = os.readlink("/proc/self/fd/%d" % fd) if fd >= 0 else "-"
                if fd >= 0: os.close(fd)
                f.write("%d %d %d %s\n" % (t, i, a, target))
                if t == int(w[1]): break
        os.rename(os.path.join(d, w[2] + ".tmp"), os.path.join(d, w[2]))
    elif op == "exit": sys.exit(int(w[1]))
    elif op == "kill-self": os.kill(os.getpid(), int(w[1]))
    elif op == "sleep": time.sleep(float(w[1]))
    elif op == "wait-term":  # until SIGTERM, then exit 143 as the daemon does
        signal.signal(signal.SIGTERM, lambda *_: (send(ENDING), os._exit(143)))
        signal.signal(signal.SIGINT, lambda *_: (send(ENDING), os._exit(130)))
        while True: signal.pause()
