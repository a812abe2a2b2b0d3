#!/usr/bin/python3
"""Instructions per hello-world request, counted by callgrind: a figure that machine noise does
not move, so that the cost of a change on the request path can be compared on a busy machine.

    contrib/bench/instructions.py [--binary objs/greenc] [--requests 2000] [--keep DIR]

greenc runs under `valgrind --tool=callgrind` with one app worker (bench's hello.py,
`access_log off`). Collection is on only inside grn_event_process() (accept, read, parse,
the app call, write, timers), so boot and shutdown are left out. One client sends --requests keep-alive `GET /` on one
connection, then a second run sends as many requests each on its own connection
(`Connection: close`). Printed: user-space instructions per request for each (the kernel's
share, accept/recv/writev/epoll, is not counted). Needs valgrind (apt-get install valgrind).
"""

import argparse
import glob
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

CONFIG = """\
error_log {dir}/error.log info;
pid {dir}/greenc.pid;
app hello {{
    wsgi hello:application;
    python_path {apps};
    workers 1;
}}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location / {{ pass hello; }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, deadline):
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/", headers={"Connection": "close"})
            if conn.getresponse().read() == b"Hello world!\n":
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("instructions.py: greenc under valgrind did not answer within the deadline")


def drive(port, requests, keepalive):
    conn = None
    for _ in range(requests):
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/", headers={} if keepalive else {"Connection": "close"})
        body = conn.getresponse().read()
        if body != b"Hello world!\n":
            sys.exit(f"instructions.py: unexpected body {body!r}")
        if not keepalive:
            conn.close()
            conn = None
    if conn:
        conn.close()


def total_instructions(path):
    """The `summary:` (or `totals:`) line of a callgrind output file."""
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    return 0


def measure(binary, workdir, requests, keepalive):
    port = free_port()
    with open(os.path.join(workdir, "greenc.conf"), "w") as f:
        f.write(CONFIG.format(dir=workdir, apps=os.path.join(HERE, "apps"), port=port))
    for old in glob.glob(os.path.join(workdir, "cg.*")):
        os.unlink(old)
    master = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--trace-children=yes",
         "--toggle-collect=grn_event_process",
         f"--callgrind-out-file={workdir}/cg.%p",
         binary, "-c", os.path.join(workdir, "greenc.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "valgrind.log"), "w"),
        env=dict(os.environ, PYTHONHASHSEED="0"))   # the same dict layouts in every run
    try:
        wait_ready(port, time.monotonic() + 120)
        drive(port, requests, keepalive)
    finally:
        master.send_signal(signal.SIGQUIT)
        try:
            master.wait(timeout=120)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()
    # The worker's file is the one with instructions; the master's handler never runs.
    totals = [total_instructions(p) for p in glob.glob(os.path.join(workdir, "cg.*"))]
    busiest = max(totals, default=0)
    if busiest == 0:
        sys.exit(f"instructions.py: no callgrind output in {workdir}")
    return busiest / (requests + 1)          # +1: the readiness probe went through it too


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(REPO, "objs", "greenc"))
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--keep", help="keep callgrind's files in this directory")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("instructions.py: valgrind is missing (apt-get install valgrind)")

    workdir = args.keep or tempfile.mkdtemp(prefix="greenc-instr-")
    os.makedirs(workdir, exist_ok=True)
    for name, keepalive in (("keep-alive", True), ("close", False)):
        sub = os.path.join(workdir, name)
        os.makedirs(sub, exist_ok=True)
        per = measure(os.path.abspath(args.binary), sub, args.requests, keepalive)
        print(f"{name:<11} {per:>9,.0f} instructions per request "
              f"({args.requests} requests, user space, inside the event loop)")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
