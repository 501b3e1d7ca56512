"""A socket-activated test server: sd_listen_fds_with_names(3) as systemd defines it, a report
of what it received, and with the argument "serve" an accept loop on its first socket that
answers every connection with "NAME PID"."""
import os
import socket
import sys

SD_LISTEN_FDS_START = 3


def sd_listen_fds_with_names():
    """[(fd, name)], or [] when the variables are missing, malformed or meant for another pid."""
    try:
        pid = int(os.environ['LISTEN_PID'])
        n = int(os.environ['LISTEN_FDS'])
    except (KeyError, ValueError):
        return []
    if pid != os.getpid() or n <= 0:
        return []
    names = os.environ.get('LISTEN_FDNAMES', '').split(':')
    if len(names) != n:
        names = ['unknown'] * n
    return [(SD_LISTEN_FDS_START + i, names[i]) for i in range(n)]


def describe(fd):
    s = socket.socket(fileno=fd)
    try:
        listening = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        return 'port=%d listening=%d blocking=%d' % (s.getsockname()[1], listening, os.get_blocking(fd))
    finally:
        s.detach()


fds = sd_listen_fds_with_names()
print('pid=%d listen_pid=%s' % (os.getpid(), os.environ.get('LISTEN_PID', '-')))
if not fds:
    print('ignored')
for fd, name in fds:
    print('fd=%d name=%s %s' % (fd, name, describe(fd)))
try:
    print('stdin %s' % describe(0))
except OSError:
    print('stdin not a socket')
sys.stdout.flush()

if len(sys.argv) > 1 and sys.argv[1] == 'serve' and fds:
    fd, name = fds[0]
    server = socket.socket(fileno=fd)
    while True:
        conn, _ = server.accept()
        conn.sendall(('%s %d\n' % (name, os.getpid())).encode())
        conn.close()
