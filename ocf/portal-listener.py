#!/usr/bin/env python3
"""Holds a TCP listener on ADDR:PORT so that a simulated target portal "answers".

Usage: portal-listener.py ADDR PORT PIDFILE
The kernel completes TCP handshakes from the listen backlog; nothing is read or sent.
Stops on SIGTERM; exits by itself after MAX_SECONDS so that nothing is left behind.
"""
import os
import signal
import socket
import sys
import time

MAX_SECONDS = 3600

addr, port, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(128)
with open(pidfile, "w") as f:
    f.write(str(os.getpid()))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
deadline = time.time() + MAX_SECONDS
s.settimeout(1.0)
while time.time() < deadline:
    try:
        conn, _ = s.accept()
        conn.close()
    except socket.timeout:
        pass
