#!/usr/bin/env python3
"""Stands in for systemd's notify socket (NotifyIT): a real AF_UNIX SOCK_DGRAM socket with
SO_PASSCRED, so each datagram comes with its sender's pid, as systemd checks NotifyAccess=main.

usage: fake_systemd.py ADDRESS OUT [PORT_FILE]
  ADDRESS: a path, or @name for an abstract name.
  OUT: one line per KEY=VALUE received: "SEQ MONOTONIC_US PID KEY=VALUE" (SEQ numbers the
  datagrams, MONOTONIC_US is CLOCK_MONOTONIC at receipt). OUT.ready appears once it listens.
  PORT_FILE: at each READY=1, a TCP connection to 127.0.0.1:(the port in PORT_FILE) is made at
  once and "SEQ US PID CONNECT=ok" (the greeting came) or "CONNECT=failed ..." is written.
"""
import os, socket, struct, sys, time

address, out = sys.argv[1], sys.argv[2]
port_file = sys.argv[3] if len(sys.argv) > 3 else None
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + address[1:] if address.startswith("@") else address)
open(out + ".ready", "w").close()

def connect():
    try:
        port = int(open(port_file).read().strip())
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            greeting = b""
            while not greeting.endswith(b"> "):
                chunk = c.recv(100)
                if not chunk: break
                greeting += chunk
        return "ok" if greeting.startswith(b"Papa is home.") else "failed: greeting %r" % greeting
    except Exception as e:
        return "failed: %s" % e

seq = 0
with open(out, "w", buffering=1) as f:
    while True:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        us = time.monotonic_ns() // 1000
        pid = -1
        for level, kind, body in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", body[:12])[0]
        seq += 1
        lines = data.decode("utf-8", "replace").split("\n")
        for line in lines:
            f.write("%d %d %d %s\n" % (seq, us, pid, line))
        if port_file and "READY=1" in lines:
            f.write("%d %d %d CONNECT=%s\n" % (seq, time.monotonic_ns() // 1000, pid, connect()))
