#!/usr/bin/python3
"""qmp.py - one QMP command to a qemu of the e2e-san run, over its unix socket.

    qmp.py SOCKET set_link NAME up|down     cut or restore a NIC's link (the guest sees carrier 0/1)
    qmp.py SOCKET query-status              print the VM's run state
    qmp.py SOCKET quit                      end qemu

Exit status 0 when qemu answered with "return", 1 on an "error" answer, 2 when the socket
could not be reached within the deadline (3 s). Python's standard library only.
"""
import json
import socket
import sys
import time

DEADLINE_S = 3.0


def talk(sock_path, command, arguments=None):
    end = time.monotonic() + DEADLINE_S
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(DEADLINE_S)
    s.connect(sock_path)
    f = s.makefile("rwb", buffering=0)

    def read_reply():
        while time.monotonic() < end:
            line = f.readline()
            if not line:
                raise ConnectionError("qemu closed the QMP socket")
            msg = json.loads(line)
            if "return" in msg or "error" in msg:
                return msg
            # asynchronous events ({"event": ...}) and the greeting are skipped
        raise TimeoutError("no QMP answer within %.0f s" % DEADLINE_S)

    greeting = json.loads(f.readline())
    if "QMP" not in greeting:
        raise ConnectionError("not a QMP greeting: %r" % greeting)
    f.write(json.dumps({"execute": "qmp_capabilities"}).encode() + b"\n")
    read_reply()
    req = {"execute": command}
    if arguments:
        req["arguments"] = arguments
    f.write(json.dumps(req).encode() + b"\n")
    try:
        return read_reply()
    except ConnectionError:
        if command == "quit":
            return {"return": {}}
        raise
    finally:
        s.close()


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    sock, cmd = argv[1], argv[2]
    args = None
    if cmd == "set_link":
        if len(argv) != 5 or argv[4] not in ("up", "down"):
            print("usage: qmp.py SOCKET set_link NAME up|down", file=sys.stderr)
            return 2
        args = {"name": argv[3], "up": argv[4] == "up"}
    try:
        reply = talk(sock, cmd, args)
    except (OSError, ConnectionError, TimeoutError, ValueError) as e:
        print("qmp.py: %s: %s" % (sock, e), file=sys.stderr)
        return 2
    if "error" in reply:
        print("qmp.py: %s" % json.dumps(reply["error"]), file=sys.stderr)
        return 1
    if reply.get("return"):
        print(json.dumps(reply["return"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
