#!/usr/bin/env python3
# test/proto.py SOCKET ACTION...: speak evbus's wire protocol by hand, for
# tests of protocol words that no client program sends yet.  Each action,
# in order; what comes back is printed one line per frame:
#   hello [KEY=VALUE]   HELLO 2 proto ..., prints the reply's features= word
#   sub JSON            SUB with that body, prints the reply (OK n / ERR ...)
#   read N              reads N frames: an EVENT prints "SEQ NAME PAYLOAD"
#                       (SEQ "-" for a notice without one), INFO its body,
#                       others the line
#   cursor N            CURSOR N (no reply)
#   ping                PING, prints what comes until PONG, and PONG
#   raw TEXT            sends TEXT and a newline
#   wait                waits for standard input to end (stays connected)
# Exits 0, or 1 when the bus hangs up early (prints "EOF").
import json
import os
import socket
import sys


def frame(f):
    line = f.readline()
    if not line:
        print("EOF")
        sys.exit(1)
    line = line.decode().rstrip("\n")
    w = line.split(" ")
    if w[0] in ("EVENT", "INFO"):
        body = f.read(int(w[1]) + 1).decode().rstrip("\n")
        return line, body
    return line, None


def show(line, body):
    if line.startswith("INFO"):
        print(body)
        return
    if body is None or not line.startswith("EVENT"):
        print(line)
        return
    ev = json.loads(body)
    print(ev.get("seq", "-"), ev["name"],
          json.dumps(ev.get("payload"), separators=(",", ":")))


def main():
    s = socket.socket(socket.AF_UNIX)
    # A reply that never comes fails the test rather than hanging it.
    s.settimeout(float(os.environ.get("EV_PROTO_TIMEOUT", "60")))
    s.connect(sys.argv[1])
    f = s.makefile("rb")
    args = sys.argv[2:]
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "hello":
            s.sendall(b"HELLO 2 proto\n")
            line, _ = frame(f)
            print(next((w for w in line.split(" ")
                        if w.startswith("features=")), line))
        elif a == "sub":
            body = args[i].encode()
            i += 1
            s.sendall(b"SUB %d\n%s\n" % (len(body), body))
            print(frame(f)[0])
        elif a == "read":
            n = int(args[i])
            i += 1
            for _ in range(n):
                show(*frame(f))
        elif a == "cursor":
            s.sendall(b"CURSOR %s\n" % args[i].encode())
            i += 1
        elif a == "ping":
            s.sendall(b"PING\n")
            while True:
                line, body = frame(f)
                show(line, body)
                if line == "PONG":
                    break
        elif a == "wait":
            sys.stdout.flush()
            sys.stdin.read()
        elif a == "raw":
            s.sendall(args[i].encode() + b"\n")
            i += 1
        else:
            sys.exit("proto.py: unknown action " + a)
    sys.stdout.flush()


main()
