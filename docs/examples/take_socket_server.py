#!/usr/bin/env python3
"""Serve on a listening socket that papa holds, without papa starting this program.

    take_socket_server.py CONTROL_SOCKET NAME

Takes socket NAME over papa's unix control socket (SCM_RIGHTS), then answers every
connection with one line. Kill it and start it again at will: papa keeps the socket
listening in between, so clients queue in its backlog instead of being refused.
"""
import os
import socket
import sys


def read_reply(ctl, fds):
    """Reads up to papa's prompt; descriptors that come with the data go to fds."""
    reply = b""
    while not reply.endswith(b"\n> "):
        data, got, _flags, _addr = socket.recv_fds(ctl, 65536, 253)
        fds.extend(got)
        if not data:
            raise ConnectionError("papa closed the connection")
        reply += data
    return reply[:-3].decode()


def take_socket(control_path, name):
    """Our own descriptor for papa's socket NAME, as a socket object, and papa's line for it."""
    fds = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as ctl:
        ctl.connect(control_path)
        read_reply(ctl, fds)  # the greeting
        ctl.sendall(b"take sockets " + name.encode() + b"\n")
        line = read_reply(ctl, fds)
    if line.startswith("Error:") or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise RuntimeError(line)
    return socket.socket(fileno=fds[0]), line


def main():
    server, line = take_socket(sys.argv[1], sys.argv[2])
    print("serving on", line, flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"hello from %d\n" % os.getpid())


if __name__ == "__main__":
    main()
