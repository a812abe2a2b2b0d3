#!/usr/bin/python3
"""greenc benchmark: greenc against Gunicorn (sync, gthread), uWSGI, waitress and nginx.

Same WSGI app for every server in a workload (apps/hello.py for hello world,
apps/bench_app.py and apps/flask_hello.py for the others), 2 worker
processes each (waitress: 1 process, 4 threads; it has no worker processes),
loopback only.  Workloads: hello keep-alive and `Connection: close` (with
nginx's `return 200` as the floor), hello keep-alive with 500 connections and
unpinned, 100 KB responses, 1 MB uploads, 1 MB wsgi.file_wrapper downloads,
Flask hello world, a streaming generator, 4 threads per worker, 10,000 idle
keep-alive connections (memory per connection) and a starvation probe (fresh
connections while 50 keep-alive clients hammer); and a 10 KB static file sent
by greenc itself and by nginx (static10k).  Not in the default set: hello
world over TLS against nginx's `return 200` and Gunicorn gthread, keep-alive
(tls-keepalive) and one full handshake per request (tls-handshake), loaded by
h2load --h1 instead of wrk.  The server (all its processes) is pinned to CPU
0, wrk or h2load to CPU 1 (but in keepalive-unpinned).  Runs are interleaved
(run 1: every workload, every server; run 2: ...) and the median over runs is
reported, with each figure's ratio to greenc's, and issue 9's targets
evaluated at the end.

Figures per server and workload:
  req/s       wrk's Requests/sec (h2load's req/s: handshakes/s for tls-handshake)
  p50, p99    wrk --latency percentiles, ms (h2load: mean and max time for request)
  CPU us/req  utime+stime of the server's whole process tree (master and all
              descendants, including reaped children via cutime/cstime),
              sampled right before and right after wrk, divided by the
              requests wrk completed
  procs       the processes of the server's tree
  memory      after the run, VmRSS and Pss (/proc/PID/smaps_rollup) of the
              master and of each worker (the master's direct children):
              worker median RSS/PSS, master RSS/PSS, and the Pss of all summed
  errors      wrk socket errors (connect/read/write/timeout) + non-2xx/3xx
              responses, summed over runs (an h2load round with any failed
              request fails instead)
plus, for idle10k, the worker's RSS without and with the idle connections
and the bytes per idle connection, and for starvation the p50/max latency
of the fresh-connection probes.

Stdlib only; run with Debian's /usr/bin/python3.  See README.md.
"""

import argparse
import errno
import http.client
import json
import os
import platform
import re
import resource
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APPS_DIR = os.path.join(HERE, "apps")
ROOT = os.path.dirname(os.path.dirname(HERE))          # contrib/bench -> repo
GREENC = os.path.join(ROOT, "objs", "greenc")

CLK_TCK = os.sysconf("SC_CLK_TCK")
WSGI_SERVERS = ["greenc", "gunicorn-sync", "gunicorn-gthread", "uwsgi", "waitress"]
ALL_SERVERS = WSGI_SERVERS + ["nginx"]      # nginx only runs the workloads that name it
NGINX = "/usr/sbin/nginx"
SYS_PYTHON = "/usr/bin/python3"             # waitress runs as `python3 -m waitress`
WAITRESS_THREADS = 4                        # waitress's default; it has 1 process, no workers
# hello world keep-alive with nginx's `return 200` as the floor; the 500-connection and the
# unpinned variants against the servers that keep connections open and uWSGI
FLOOR_SERVERS = WSGI_SERVERS + ["nginx"]
C500_SERVERS = ["greenc", "uwsgi", "gunicorn-gthread", "nginx"]
# Not in a default run: greenc with the same app behind its router group (a listener shared
# by two apps), to measure the router's hop against the direct listener.
EXTRA_SERVERS = ["greenc-router"]
KNOWN_SERVERS = ALL_SERVERS + EXTRA_SERVERS

FILE_SIZE = 1 << 20            # file1m: the file served through wsgi.file_wrapper
STATIC_SIZE = 10 * 1024        # static10k: the file the server sends itself
UPLOAD_SIZE = 1 << 20          # upload1m: the POST body
IDLE_CONNS = 10000             # idle10k: idle keep-alive connections held open
IDLE_OPEN_TIMEOUT = 60.0       # idle10k: at most this long to open them all
PROBES = 20                    # starvation: fresh Connection: close requests
PROBE_GAP = 0.05               # starvation: pause between two probes, s
PROBE_START = 0.5              # starvation: first probe this long after wrk starts
PROBE_TIMEOUT = 5.0            # starvation: a probe slower than this counts as failed
HELLO = b"Hello world!\n"
# TLS workloads: the servers that take part (Gunicorn sync keeps no connection alive; uWSGI's
# --https-socket is not tried), h2load's clients (as wrk -c50), the smallest measured h2load
# run, and the least warm-up from which the measured run's request count is sized (see
# h2load_argv)
TLS_SERVERS = ["greenc", "gunicorn-gthread", "nginx"]
H2LOAD_CLIENTS = 50
H2LOAD_MIN_REQUESTS = 1000
CALIBRATE_S = 0.5

# Each workload: the app (module:callable, same for every server), the request
# wrk sends, the servers it makes sense for, the workers/threads, a check of
# one response before measuring, the kind of measurement, and "long": measured
# with the full --duration (the others default to SHORT_DURATION in a full run,
# which keeps the default run under 20 minutes).  "tool" is the load generator (wrk unless it
# says h2load); "extra" keeps a workload out of the default set (--workloads names it).
WORKLOADS = {
    "keepalive": dict(app="hello:application", path="/", long=True, servers=FLOOR_SERVERS,
                      desc="hello world, HTTP/1.1 keep-alive, 50 connections (nginx: "
                           "`return 200`)"),
    "close": dict(app="hello:application", path="/", long=True, servers=FLOOR_SERVERS,
                  headers=["Connection: close"],
                  desc="hello world, `Connection: close` (connect, accept, close per request; "
                       "nginx: `return 200`)"),
    "c500": dict(app="hello:application", path="/", connections=500, servers=C500_SERVERS,
                 desc="hello world, keep-alive, 500 connections (wrk -c500; nginx: "
                      "`return 200`)"),
    "keepalive-unpinned": dict(app="hello:application", path="/", unpinned=True,
                               servers=C500_SERVERS,
                               desc="hello world, keep-alive, 50 connections, nothing pinned "
                                    "(no taskset for the server or wrk; nginx: `return 200`)"),
    "resp100k": dict(app="bench_app:application", path="/100k", check_len=102400,
                     desc="100 KB response body (one bytes object, Content-Length)"),
    "upload1m": dict(app="bench_app:application", path="/upload", method="POST",
                     lua="upload", check_body=str(UPLOAD_SIZE).encode(),
                     desc="1 MB POST body read fully by the app, which answers its length"),
    "file1m": dict(app="bench_app:application", path="/file", check_len=FILE_SIZE,
                   desc="1 MB file through environ['wsgi.file_wrapper']"),
    "flask": dict(app="flask_hello:application", path="/", check_body=HELLO,
                  desc="Flask hello world (Debian's python3-flask)"),
    "stream": dict(app="bench_app:application", path="/stream", check_len=100 * 100,
                   desc="generator of 100 chunks of 100 bytes, no Content-Length"),
    "threads4": dict(app="hello:application", path="/", threads=4,
                     servers=["greenc", "gunicorn-gthread", "uwsgi"],
                     desc="hello world, keep-alive, 2 workers x 4 threads"),
    "idle10k": dict(app="hello:application", path="/", workers=1, kind="idle",
                    servers=["greenc"],
                    desc="hello world keep-alive with %d idle keep-alive connections "
                         "held open, 1 worker" % IDLE_CONNS),
    "starvation": dict(app="hello:application", path="/", kind="starvation",
                       desc="%d fresh `Connection: close` requests, one after another, "
                            "while wrk -c50 keep-alive hammers" % PROBES),
    "static10k": dict(path="/static/f10k.bin", check_len=STATIC_SIZE, static=True,
                      servers=["greenc", "nginx"],
                      desc="a 10 KB file sent by the server itself (no Python), keep-alive: "
                           "greenc `root` location vs nginx `root`, 2 workers each"),
    # Not in the default set: 3 servers x 2 workloads x 3 runs would add about 1.5 minutes
    # to the full run (18.8 -> 20.4 by plan_seconds(), past its 20).
    "tls-keepalive": dict(app="hello:application", path="/", tls=True, tool="h2load",
                          servers=TLS_SERVERS, extra=True,
                          desc="hello world over TLS, keep-alive, %d connections (nginx: "
                               "`return 200`), h2load --h1" % H2LOAD_CLIENTS),
    "tls-handshake": dict(app="hello:application", path="/", tls=True, tool="h2load",
                          headers=["Connection: close"], resumption=False,
                          servers=TLS_SERVERS, extra=True,
                          desc="hello world over TLS, `Connection: close`: one full handshake "
                               "per request (session cache and tickets off), h2load --h1"),
}
ALL_WORKLOADS = list(WORKLOADS)
DEFAULT_WORKLOADS = [w for w in WORKLOADS if not WORKLOADS[w].get("extra")]
# 168 measurements in a default run (56 per run): 8 s for keepalive and close and 3 s for the
# others keep it near 19 minutes by plan_seconds(), under the 20 of issue 9; --quick's 1 s
# without warm-up keeps its 56 near 2.6 minutes, under 3.
LONG_DURATION = 8             # default wrk seconds for keepalive and close
SHORT_DURATION = 3             # default wrk seconds for the workloads not "long"
QUICK_DURATION = 1             # --quick: wrk seconds for every workload
READY_TIMEOUT = 20.0
STOP_GRACE = 5.0
WARMUP_S = 1                   # --quick: 0

UWSGI_PLUGIN_DIR = "/usr/lib/uwsgi/plugins"


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------- /proc ----

def read_stat(pid):
    """(ppid, pgrp, cpu_ticks) of pid, or None if it is gone.

    cpu_ticks = utime + stime + cutime + cstime: the reaped children's time
    keeps a worker that exited mid-run counted (it moves into its parent's
    cutime), and is constant otherwise so it cancels in the delta.
    """
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is field 3 (state): field n is rest[n - 3]
    ppid, pgrp = int(rest[1]), int(rest[2])
    ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
    return ppid, pgrp, ticks


def all_stats():
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st is not None:
                out[int(name)] = st
    return out


def process_tree(root):
    """{pid: cpu_ticks} for root and all its descendants."""
    stats = all_stats()
    children = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in tree:
            tree[pid] = stats[pid][2]
            todo.extend(children.get(pid, ()))
    return tree


def tree_cpu_us(root):
    tree = process_tree(root)
    return sum(tree.values()) * 1e6 / CLK_TCK, len(tree)


def direct_children(root):
    return [pid for pid, (ppid, _, _) in all_stats().items() if ppid == root]


def vm_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def pss_kb(pid):
    """Pss of pid in kB (/proc/PID/smaps_rollup, Linux 4.14+), or None."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def tree_memory(root):
    """VmRSS and Pss (kB) of the server's processes: {"master": {pid, rss, pss} or None,
    "workers": [{pid, rss, pss}, ...]}. The workers are the master's direct children; a
    server whose first process has no children (waitress) is one process, shown as the only
    worker, with no master."""
    def one(pid):
        return {"pid": pid, "rss": vm_rss_kb(pid), "pss": pss_kb(pid)}
    kids = sorted(direct_children(root))
    if not kids:
        return {"master": None, "workers": [one(root)]}
    return {"master": one(root), "workers": [one(pid) for pid in kids]}


def memory_figures(mem):
    """The figures of tree_memory() in MB: worker median RSS and PSS, master RSS and PSS,
    and the PSS of all of them summed (the server's footprint, shared pages counted once)."""
    def mb(kb):
        return None if kb is None else kb / 1024.0
    ws = mem["workers"]
    m = mem["master"] or {}
    pss = [p["pss"] for p in ws + ([m] if m else [])]
    return {"wkr_rss_mb": mb(med([w["rss"] for w in ws])),
            "wkr_pss_mb": mb(med([w["pss"] for w in ws])),
            "mst_rss_mb": mb(m.get("rss")), "mst_pss_mb": mb(m.get("pss")),
            "pss_sum_mb": mb(sum(pss)) if pss and None not in pss else None}


def group_members(pgid):
    return [pid for pid, (_, pgrp, _) in all_stats().items() if pgrp == pgid]


# ---------------------------------------------------------------- helpers ---

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def cmd_output(argv, timeout=10):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        return p.stdout.decode("utf-8", "replace").strip()
    except (OSError, subprocess.SubprocessError) as e:
        return "unavailable (%s)" % e


def first_line(s):
    return s.splitlines()[0] if s else s


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join("    | " + l for l in lines[-n:])
    except OSError:
        return "    | (no %s)" % path


def server_env():
    env = dict(os.environ)
    for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(k, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"     # keep apps/ free of __pycache__
    env["GREENC_BENCH_FILE"] = BENCH_FILE    # the file1m workload's file
    return env


BENCH_FILE = ""     # set in main(): TMP/file1m.bin


# ------------------------------------------------------------------ build ---

def newest_mtime(paths):
    newest = 0.0
    for top in paths:
        if os.path.isfile(top):
            newest = max(newest, os.path.getmtime(top))
            continue
        for dirpath, _, files in os.walk(top):
            for fn in files:
                try:
                    newest = max(newest, os.path.getmtime(os.path.join(dirpath, fn)))
                except OSError:
                    pass
    return newest


def build_greenc(tmp):
    """./configure && make when objs/greenc is missing or stale. True if usable."""
    configure = os.path.join(ROOT, "configure")
    sources = [os.path.join(ROOT, p) for p in ("configure", "auto", "src")]
    sources = [p for p in sources if os.path.exists(p)]
    if os.path.exists(GREENC) and os.path.getmtime(GREENC) >= newest_mtime(sources):
        log("greenc: %s is up to date" % os.path.relpath(GREENC, ROOT))
        return True
    if not os.path.exists(configure):
        log("greenc: no %s and no configure script: skipping greenc" % GREENC)
        return False
    blog = os.path.join(tmp, "build.log")
    log("greenc: building (./configure && make) in %s, log %s" % (ROOT, blog))
    with open(blog, "wb") as out:
        makefile_stale = (not os.path.exists(os.path.join(ROOT, "objs", "Makefile"))
                          or os.path.getmtime(os.path.join(ROOT, "objs", "Makefile"))
                          < newest_mtime([p for p in sources if not p.endswith("src")]))
        steps = (["./configure"] if makefile_stale else []) + ["make"]
        for argv in steps:
            if argv == "make":
                # decided after configure ran: it may write a top-level Makefile
                argv = ["make", "-j%d" % (os.cpu_count() or 1)]
                if not os.path.exists(os.path.join(ROOT, "Makefile")):
                    argv += ["-f", "objs/Makefile"]
            else:
                argv = [argv]
            try:
                rc = subprocess.run(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    timeout=900).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            if rc != 0:
                log("greenc: `%s` failed (%s): skipping greenc; last lines:" % (" ".join(argv), rc))
                log(tail(blog))
                return False
    if not os.path.exists(GREENC):
        log("greenc: build finished but %s is missing: skipping greenc" % GREENC)
        return False
    return True


# ---------------------------------------------------------------- servers ---

def greenc_conf(workload, bind, tmp, router=False):
    """The whole greenc configuration for a workload (one app, one server). With router, a
    second app shares the listener (location /other/), so the router group accepts it and
    forwards every request to the bench app's workers."""
    wl = WORKLOADS[workload]
    main = ['daemon off;',
            'pid "%s/greenc.pid";' % tmp,
            'error_log "%s/error.log" warn;' % tmp]
    if wl.get("static"):
        # No app: the listener is served by the C-only router group, 2 workers like nginx.
        return ('%s\nrouter_workers 2;\nhttp { access_log off; '
                'default_type application/octet-stream; server { listen %s; '
                'location = / { return 200 "Hello world!\\n"; } '
                'location /static/ { root "%s"; } } }\n' % ("\n".join(main), bind, tmp))
    app = ['wsgi %s;' % wl["app"],
           'python_path "%s";' % APPS_DIR,
           'workers %d;' % wl.get("workers", 2)]
    if GREENC_ACCESS_LOG is None:
        http = ['access_log off;']
    else:
        http = ['access_log "%s/access.log" %s;' % (tmp, GREENC_ACCESS_LOG)]
    if wl.get("threads"):
        app.append('threads %d;' % wl["threads"])
    if workload == "upload1m":
        http.append('client_max_body_size 8m;')
    if workload == "idle10k":
        main.append('worker_connections 20000;')
        app.append('limit_nofile %d;' % greenc_nofile())
        http.append('keepalive_timeout 600s;')   # the idle connections must survive the run
    if router:
        main.append('router_workers %d;' % wl.get("workers", 2))
        other = ('app other { wsgi %s; python_path "%s"; workers 1; }\n'
                 % (wl["app"], APPS_DIR))
        routes = 'location /other/ { pass other; } location / { pass bench; }'
    else:
        other = ''
        routes = 'location / { pass bench; }'
    return ('%s\napp bench { %s }\n%shttp { %s server { listen %s; %s%s } }\n'
            % ("\n".join(main), " ".join(app), other, " ".join(http), tls_listen(workload, bind),
               tls_directives(workload), routes))


TLS_CERT = TLS_KEY = ""    # set in main() when a TLS workload runs: TMP/tls-{cert,key}.pem


def make_tls_cert(tmp):
    """A throwaway self-signed ECDSA P-256 certificate for the TLS workloads, made once per
    bench run with the openssl CLI."""
    global TLS_CERT, TLS_KEY
    TLS_CERT = os.path.join(tmp, "tls-cert.pem")
    TLS_KEY = os.path.join(tmp, "tls-key.pem")
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", TLS_KEY, "-out", TLS_CERT, "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("`%s` failed (%d):\n%s" % (shell_quote(argv), p.returncode,
                                                      p.stdout.decode("utf-8", "replace")))
    return argv


def tls_listen(workload, bind):
    return bind + (" ssl" if WORKLOADS[workload].get("tls") else "")


def tls_directives(workload, nginx=False):
    """The TLS lines of the server block, the same for greenc and nginx: the certificate,
    TLS 1.2 and 1.3 (greenc's default; nginx 1.22's lacks 1.3), and for a workload that must
    pay a full handshake every time, no session cache and no tickets (h2load offers the
    session of its previous connection when it reconnects)."""
    wl = WORKLOADS[workload]
    if not wl.get("tls"):
        return ""
    out = 'ssl_certificate "%s"; ssl_certificate_key "%s"; ' % (TLS_CERT, TLS_KEY)
    if nginx:
        out += 'ssl_protocols TLSv1.2 TLSv1.3; '
    if wl.get("resumption") is False:
        out += 'ssl_session_cache off; ssl_session_tickets off; '
    return out


GREENC_ACCESS_LOG = None   # --greenc-access-log: what follows the path in access_log

GREENC_NOFILE = 30000      # idle10k: greenc's limit_nofile, if the hard limit allows


def greenc_nofile():
    """limit_nofile for greenc's idle10k worker: 30000, or the hard RLIMIT_NOFILE this
    process (and so greenc) has when it cannot be raised (no CAP_SYS_RESOURCE in a
    container): greenc sets soft = hard = limit_nofile and cannot go above it either."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= GREENC_NOFILE:
        return GREENC_NOFILE
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, GREENC_NOFILE))
        return GREENC_NOFILE
    except (ValueError, OSError):
        pass
    if hard < IDLE_CONNS + 1000:
        raise RuntimeError("RLIMIT_NOFILE hard limit %d: too low for %d idle connections"
                           % (hard, IDLE_CONNS))
    return hard


def nginx_conf(bind, tmp, workload):
    """nginx serving the static workload's file the way greenc does: 2 workers, sendfile,
    no access log, the same hello on / for the readiness check (and the TLS workloads'
    `return 200`)."""
    return """daemon off;
master_process on;
worker_processes 2;
%s
pid "%s/nginx.pid";
error_log "%s/nginx-error.log" warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    default_type application/octet-stream;
    client_body_temp_path "%s/nginx-body";
    proxy_temp_path "%s/nginx-proxy";
    server {
        listen %s;%s
        location = / { return 200 "Hello world!\\n"; }
        location /static/ { root "%s"; }
    }
}
""" % ("user root;" if os.geteuid() == 0 else "", tmp, tmp, tmp, tmp,
       tls_listen(workload, bind),
       ("\n        " + tls_directives(workload, nginx=True).rstrip()
        if WORKLOADS[workload].get("tls") else ""), tmp)


def server_command(name, port, tmp, workload="keepalive"):
    """(argv, stop_signal) for a server, or raise LookupError(reason)."""
    bind = "127.0.0.1:%d" % port
    wl = WORKLOADS[workload]
    if name in ("greenc", "greenc-router"):
        conf = os.path.join(tmp, "greenc.conf")
        with open(conf, "w") as f:
            f.write(greenc_conf(workload, bind, tmp, router=name == "greenc-router"))
        return [GREENC, "-c", conf], signal.SIGTERM
    if name == "nginx":
        if not os.access(NGINX, os.X_OK):
            raise LookupError("%s missing: apt-get install nginx-light" % NGINX)
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(bind, tmp, workload))
        # -e: the log nginx writes before it has read the config (not /var/log/nginx)
        return ([NGINX, "-p", tmp + "/", "-e", os.path.join(tmp, "nginx-error.log"),
                 "-c", conf], signal.SIGTERM)
    module, callable_ = wl["app"].split(":")
    workers = str(wl.get("workers", 2))
    if name in ("gunicorn-sync", "gunicorn-gthread"):
        if not os.access("/usr/bin/gunicorn", os.X_OK):
            raise LookupError("/usr/bin/gunicorn missing: apt-get install gunicorn")
        # --graceful-timeout 0: on TERM the master sends its workers TERM, then KILL at once.
        # Shutdown only (the figures are taken before the server is stopped): the graceful
        # stop took 1-1.6 s, and now and then the whole 30 s default.
        argv = ["/usr/bin/gunicorn", "-w", workers, "-b", bind, "--chdir", APPS_DIR,
                "--graceful-timeout", "0"]
        if name == "gunicorn-gthread":
            argv += ["-k", "gthread", "--threads", str(wl.get("threads", 4))]
        if wl.get("tls"):
            # Gunicorn 20.1 wraps each connection with ssl.wrap_socket: a new SSL context per
            # connection, so its tickets never resume anything anyway.
            argv += ["--certfile", TLS_CERT, "--keyfile", TLS_KEY]
        return argv + [wl["app"]], signal.SIGTERM
    if name == "uwsgi":
        if not os.access("/usr/bin/uwsgi", os.X_OK):
            raise LookupError("/usr/bin/uwsgi missing: apt-get install uwsgi uwsgi-plugin-python3")
        if not os.path.exists(os.path.join(UWSGI_PLUGIN_DIR, "python3_plugin.so")):
            raise LookupError("uWSGI python3 plugin missing: apt-get install uwsgi-plugin-python3")
        argv = ["/usr/bin/uwsgi", "--plugin", "python3", "--http-socket", bind, "--master",
                "--processes", workers, "--wsgi-file", os.path.join(APPS_DIR, module + ".py"),
                "--callable", callable_, "--disable-logging", "--worker-reload-mercy", "1"]
        if wl.get("threads"):
            argv += ["--threads", str(wl["threads"])]
        if wl.get("connections", 50) > 100:
            # uWSGI's listen queue is 100 by default: 500 clients reconnecting after every
            # response (it closes each connection) would overflow it and wait out SYN retries
            argv += ["--listen", str(min(1024, somaxconn()))]
        # uWSGI treats TERM as "reload"; INT/QUIT stop it.
        return argv, signal.SIGINT
    if name == "waitress":
        if not waitress_available():
            raise LookupError("%s cannot import waitress: apt-get install python3-waitress"
                              % SYS_PYTHON)
        # One process with WAITRESS_THREADS threads: waitress has no worker processes. It
        # imports the app from its working directory (Server.start runs it in APPS_DIR).
        argv = [SYS_PYTHON, "-m", "waitress", "--listen=%s" % bind,
                "--threads=%d" % wl.get("threads", WAITRESS_THREADS), wl["app"]]
        return argv, signal.SIGTERM
    raise LookupError("unknown server %r" % name)


_WAITRESS = None


def waitress_available():
    global _WAITRESS
    if _WAITRESS is None:
        try:
            _WAITRESS = subprocess.run([SYS_PYTHON, "-c", "import waitress"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            _WAITRESS = False
    return _WAITRESS


def waitress_version():
    return cmd_output([SYS_PYTHON, "-c", "import importlib.metadata as m; "
                       "print(m.version('waitress'))"])


def somaxconn():
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 128


def pinned(args, workload):
    """Whether this workload pins the server to CPU 0 and the load generator to CPU 1."""
    return args.pin and not WORKLOADS[workload].get("unpinned")


class Server:
    def __init__(self, name, tmp, pin, workload):
        self.name, self.tmp, self.pin = name, tmp, pin
        self.workload = workload
        self.port = free_port()
        self.argv, self.stop_sig = server_command(name, self.port, tmp, workload)
        self.logpath = os.path.join(tmp, "%s.log" % name)
        self.proc = None

    def start(self):
        argv = (["taskset", "-c", "0"] if self.pin else []) + self.argv
        self.logf = open(self.logpath, "wb")
        # own session => own process group; Ctrl-C in the terminal does not
        # reach it, the finally clause in main() stops it.
        # waitress imports the app from its working directory (it has no --chdir)
        cwd = APPS_DIR if self.name == "waitress" else self.tmp
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=server_env(), start_new_session=True)
        self.pid = self.proc.pid     # taskset execs, so this is the server itself

    def connection(self, timeout):
        if WORKLOADS[self.workload].get("tls"):
            # a TLS port answers plain HTTP with 400 (greenc) or an error page (nginx)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=tls_client_context())
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s before answering"
                                   % (self.name, self.proc.returncode))
            try:
                c = self.connection(2)
                c.request("GET", "/")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200 and body == b"Hello world!\n":
                    return
                last = "status %d, body %r" % (r.status, body[:60])
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.1)
        raise RuntimeError("%s not ready after %.0f s (%s)" % (self.name, READY_TIMEOUT, last))

    def check_workload(self):
        """One request of the workload, checked, before anything is measured."""
        wl = WORKLOADS[self.workload]
        method = wl.get("method", "GET")
        body = b"u" * UPLOAD_SIZE if method == "POST" else None
        c = self.connection(10)
        try:
            c.request(method, wl["path"], body=body,
                      headers={"Content-Type": "application/octet-stream"} if body else {})
            r = c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            raise RuntimeError("%s %s: %r" % (method, wl["path"], e))
        finally:
            c.close()
        want_len = wl.get("check_len")
        want_body = wl.get("check_body", HELLO if wl["path"] == "/" else None)
        if (r.status != 200 or (want_len is not None and len(data) != want_len)
                or (want_body is not None and data != want_body)):
            raise RuntimeError("%s %s: status %d, %d bytes %r... (expected 200, %s)"
                               % (method, wl["path"], r.status, len(data), data[:40],
                                  "%d bytes" % want_len if want_len is not None
                                  else repr(want_body)))
        if wl.get("resumption") is False:
            check_full_handshake(self.port)

    def stop(self):
        if self.proc is None:
            return
        pgid = self.pid
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, self.stop_sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                log("  %s: master %d still running %.0f s after %s: KILL to group"
                    % (self.name, self.pid, STOP_GRACE, signal.Signals(self.stop_sig).name))
        # leftovers (workers that outlived the master, or a hung master)
        deadline = time.monotonic() + STOP_GRACE
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if group_members(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        self.logf.close()

    def log_tail(self):
        out = "  %s output (%s):\n%s" % (self.name, self.logpath, tail(self.logpath))
        if self.name.startswith("greenc"):
            out += "\n  greenc error_log:\n" + tail(os.path.join(self.tmp, "error.log"))
        if self.name == "nginx":
            out += "\n  nginx error_log:\n" + tail(os.path.join(self.tmp, "nginx-error.log"))
        return out


def tls_client_context():
    """The bench's own TLS client (readiness, checks): the certificate is the throwaway one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_get(port, ctx, session=None):
    """One `Connection: close` GET / over TLS offering session: (session, reused, version)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sk = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    except BaseException:
        raw.close()
        raise
    try:
        version = sk.version()
        sk.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        buf = b""
        while True:
            data = sk.recv(65536)
            if not data:
                break
            buf += data
        # read to the end, so that a TLS 1.3 server's tickets have arrived
        if not (buf.startswith(b"HTTP/1.1 200 ") and buf.endswith(HELLO)):
            raise RuntimeError("GET / over TLS: unexpected answer %r" % buf[:60])
        return sk.session, sk.session_reused, version
    finally:
        sk.close()


def check_full_handshake(port):
    """Raise unless a connection offering the session of the one before gets a full
    handshake: what h2load does when it reconnects, which must not resume here."""
    ctx = tls_client_context()
    try:
        session, _, _ = tls_get(port, ctx)
        _, reused, version = tls_get(port, ctx, session)
    except (OSError, ssl.SSLError) as e:
        raise RuntimeError("GET / over TLS: %r" % e)
    if reused:
        raise RuntimeError("%s session offered again was resumed: the handshake workload "
                           "would not measure full handshakes" % version)


# -------------------------------------------------------------------- wrk ---

def wrk_argv(workload, duration, port, pin, tmp=""):
    wl = WORKLOADS[workload]
    # One wrk thread: pinned, wrk has one core, and a second thread on it would only add
    # switches (500 connections are light work for one epoll loop); unpinned, one thread keeps
    # the load generator the same as in the pinned run.
    argv = (["taskset", "-c", "1"] if pin else []) + [
        "wrk", "-t1", "-c%d" % wl.get("connections", 50), "-d%ds" % duration, "--latency"]
    for h in wl.get("headers", ()):
        argv += ["-H", h]
    if wl.get("lua"):
        argv += ["-s", os.path.join(tmp or "TMP", wl["lua"] + ".lua")]
    return argv + ["http://127.0.0.1:%d%s" % (port, wl["path"])]


def write_lua_scripts(tmp):
    # a 1 MB POST body for upload1m; wrk adds Content-Length itself
    with open(os.path.join(tmp, "upload.lua"), "w") as f:
        f.write('wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n'
                'wrk.body = string.rep("u", %d)\n' % UPLOAD_SIZE)


def shell_quote(argv):
    import shlex
    return " ".join(shlex.quote(a) for a in argv)


UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_latency(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", s)
    return float(m.group(1)) * UNIT_MS[m.group(2)] if m else None


def parse_wrk(text):
    r = {"rps": None, "requests": None, "p50": None, "p99": None,
         "socket_errors": {}, "non2xx3xx": 0}
    m = re.search(r"^\s*Requests/sec:\s*([\d.]+)", text, re.M)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"^\s*(\d+) requests in", text, re.M)
    if m:
        r["requests"] = int(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s*%s(?:\.0+)?%%\s+(\S+)" % pct, text, re.M)
        if m:
            r[key] = parse_latency(m.group(1))
    m = re.search(r"Socket errors:\s*(.*)", text)
    if m:
        for k, v in re.findall(r"(\w+) (\d+)", m.group(1)):
            r["socket_errors"][k] = int(v)
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        r["non2xx3xx"] = int(m.group(1))
    r["errors"] = sum(r["socket_errors"].values()) + r["non2xx3xx"]
    return r


def run_wrk(argv, duration):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=duration + 30)
    text = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise RuntimeError("wrk exited %d:\n%s" % (p.returncode, text))
    return text


# ----------------------------------------------------------------- h2load ---

def h2load_argv(workload, port, pin, requests):
    """h2load over HTTP/1.1 and TLS, one thread, 50 clients, one request in flight each.

    A count (-n), not a duration: with `Connection: close` h2load 1.52 (Debian 12) often
    never ends a -D run, a client reconnecting while the run stops (nghttp2 issue 2250, fixed
    upstream in October 2024).  The count is sized from the warm-up's rate.  With
    `Connection: close` it makes a new connection, so a new TLS handshake, for every
    request."""
    wl = WORKLOADS[workload]
    argv = (["taskset", "-c", "1"] if pin else []) + [
        "h2load", "--h1", "-t1", "-c%d" % H2LOAD_CLIENTS, "-m1", "-n%s" % requests]
    for h in wl.get("headers", ()):
        argv += ["-H", h]
    return argv + ["https://127.0.0.1:%d%s" % (port, wl["path"])]


def load_argv_shown(workload, duration, pin):
    """The load generator's command line as the plan prints it."""
    if WORKLOADS[workload].get("tool") == "h2load":
        argv = h2load_argv(workload, 0, pin, "N")
        note = "  (N = the warm-up's req/s x %d s, at least %d)" % (duration, H2LOAD_MIN_REQUESTS)
    else:
        argv, note = wrk_argv(workload, duration, 0, pin), ""
    return shell_quote(argv).replace("127.0.0.1:0/", "127.0.0.1:PORT/") + note


def parse_h2load(text):
    r = {"rps": None, "requests": None, "elapsed": None, "lat_mean": None, "lat_max": None,
         "p50": None, "p99": None, "socket_errors": {}, "non2xx3xx": 0, "tls": None}
    m = re.search(r"^finished in ([\d.]+(?:us|ms|s)), ([\d.]+) req/s", text, re.M)
    if m:
        r["elapsed"] = parse_latency(m.group(1)) / 1e3
        r["rps"] = float(m.group(2))
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text, re.M)
    if m:
        total, _, done, ok, failed, errored, timeout = (int(v) for v in m.groups())
        r["requests"] = ok
        r["socket_errors"] = {k: v for k, v in (("failed", failed), ("errored", errored),
                                                 ("timeout", timeout),
                                                 ("not done", total - done)) if v}
    m = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    if m:
        r["non2xx3xx"] = int(m.group(3)) + int(m.group(4))
    m = re.search(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if m:
        r["lat_max"], r["lat_mean"] = parse_latency(m.group(2)), parse_latency(m.group(3))
    tls = [re.search(r"^%s: (.*)$" % k, text, re.M)
           for k in ("TLS Protocol", "Cipher", "Server Temp Key")]
    if all(tls):
        r["tls"] = ", ".join(t.group(1).strip() for t in tls)
    # "failed" already counts the errored and timed-out requests
    r["errors"] = (r["socket_errors"].get("failed", 0) + r["socket_errors"].get("not done", 0)
                   + r["non2xx3xx"])
    return r


def run_h2load(argv, timeout):
    """(output, parsed) of one h2load run; raises if it fails, hangs, or loses any request."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError("h2load still running after %.0f s, killed: %s\n%s"
                           % (timeout, shell_quote(argv),
                              (e.output or b"").decode("utf-8", "replace")[-2000:]))
    text = "\n".join(l for l in p.stdout.decode("utf-8", "replace").splitlines()
                     if not l.startswith("progress: "))
    if p.returncode != 0:
        raise RuntimeError("h2load exited %d: %s\n%s" % (p.returncode, shell_quote(argv), text))
    r = parse_h2load(text)
    if r["requests"] is None or r["rps"] is None or r["elapsed"] is None:
        raise RuntimeError("could not parse h2load output:\n" + text)
    if r["errors"] or r["socket_errors"]:
        raise RuntimeError("h2load: %s, %d answered 4xx/5xx: %s\n%s"
                           % (", ".join("%d %s" % (v, k) for k, v in r["socket_errors"].items())
                              or "no request failed", r["non2xx3xx"], shell_quote(argv), text))
    return text, r


def h2load_warmup(workload, port, pin, warmup):
    """Unmeasured h2load runs for warmup seconds (at least CALIBRATE_S), each sized from the
    rate of the one before; returns the last one's req/s, which sizes the measured run."""
    want = max(warmup, CALIBRATE_S)
    n, spent = H2LOAD_CLIENTS * 10, 0.0
    for _ in range(6):
        _, r = run_h2load(h2load_argv(workload, port, pin, n), timeout=4 * want + 30)
        spent += r["elapsed"]
        if spent >= 0.9 * want and r["elapsed"] >= 0.2:
            break
        n = max(H2LOAD_CLIENTS * 10, int(r["rps"] * max(want - spent, 0.3)))
    return r["rps"]


# ---------------------------------------------------------------- measure ---

def affinity_note(root, pin):
    if not pin:
        return ""
    bad = []
    for pid in process_tree(root):
        try:
            if os.sched_getaffinity(pid) != {0}:
                bad.append(pid)
        except OSError:
            pass
    return "" if not bad else " (WARNING: pids %s not pinned to CPU 0)" % bad


def worker_rss(root):
    """(pid, VmRSS kB) of the largest direct child of the master, or (None, None)."""
    best = (None, None)
    for pid in direct_children(root):
        kb = vm_rss_kb(pid)
        if kb and (best[1] is None or kb > best[1]):
            best = (pid, kb)
    return best


# ----------------------------------------------------------- idle clients ---

IDLE_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
IDLE_WINDOW = 200          # connections being opened at a time (listen backlogs)


def raise_nofile(need):
    """Raise this process's RLIMIT_NOFILE soft limit (and hard, if root) to need."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            except (ValueError, OSError) as e:
                raise RuntimeError("RLIMIT_NOFILE hard limit %d < %d and cannot be raised (%s)"
                                   % (hard, need, e))
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def response_complete(buf):
    """True once buf holds a whole response with a Content-Length body."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = buf[:end].decode("latin-1")
    if not re.match(r"HTTP/1\.1 200 ", head):
        raise RuntimeError("idle connection: unexpected response %r" % head[:60])
    m = re.search(r"\r\ncontent-length:\s*(\d+)", head, re.I)
    if not m:
        raise RuntimeError("idle connection: no Content-Length in %r" % head[:200])
    return len(buf) - end - 4 >= int(m.group(1))


def open_idle(port, n, timeout):
    """n keep-alive connections, each having sent one request and read its response."""
    sel = selectors.DefaultSelector()
    socks, done = [], []
    started = pending = 0
    deadline = time.monotonic() + timeout
    try:
        while len(done) < n:
            if time.monotonic() > deadline:
                raise RuntimeError("only %d of %d idle connections opened in %.0f s"
                                   % (len(done), n, timeout))
            while started < n and pending < IDLE_WINDOW:
                sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sk)
                sk.setblocking(False)
                err = sk.connect_ex(("127.0.0.1", port))
                if err not in (0, errno.EINPROGRESS):
                    raise RuntimeError("idle connection %d: connect: %s"
                                       % (started, os.strerror(err)))
                sel.register(sk, selectors.EVENT_WRITE, [b""])
                started += 1
                pending += 1
            for key, ev in sel.select(timeout=1.0):
                sk, st = key.fileobj, key.data
                if ev & selectors.EVENT_WRITE:
                    err = sk.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise RuntimeError("idle connection: connect: %s" % os.strerror(err))
                    sk.send(IDLE_REQUEST)       # 35 bytes: always fits
                    sel.modify(sk, selectors.EVENT_READ, st)
                    continue
                data = sk.recv(65536)
                if not data:
                    raise RuntimeError("idle connection closed by the server after %d were open"
                                       % len(done))
                st[0] += data
                if response_complete(st[0]):
                    sel.unregister(sk)
                    done.append(sk)
                    pending -= 1
        return done
    except BaseException:
        close_idle(socks)
        raise
    finally:
        sel.close()


def count_open(socks):
    """How many of socks the server has not closed (nothing readable: no EOF, no data)."""
    sel = selectors.DefaultSelector()
    try:
        for sk in socks:
            sel.register(sk, selectors.EVENT_READ)
        return len(socks) - len(sel.select(timeout=0))
    finally:
        sel.close()


def close_idle(socks):
    for sk in socks:
        try:
            # RST instead of FIN: no TIME_WAIT left holding 10,000 local ports
            sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        sk.close()
    del socks[:]


# ------------------------------------------------------------ starvation ---

PROBE_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def probe_once(port):
    """(seconds, ok) of one fresh connection: connect, request, read to EOF."""
    t0 = time.monotonic()
    deadline = t0 + PROBE_TIMEOUT
    buf = b""
    sk = None
    try:
        sk = socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT)
        sk.sendall(PROBE_REQUEST)
        while True:
            sk.settimeout(max(0.001, deadline - time.monotonic()))
            data = sk.recv(65536)
            if not data:
                break
            buf += data
        ok = buf.startswith(b"HTTP/1.1 200 ") and buf.endswith(b"\r\n\r\n" + HELLO)
    except OSError:
        ok = False
    finally:
        if sk is not None:
            sk.close()
    return time.monotonic() - t0, ok


def run_wrk_with_probes(argv, duration, port):
    """wrk, and meanwhile PROBES fresh Connection: close requests one after another."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    probes = []
    try:
        time.sleep(PROBE_START)
        while len(probes) < PROBES and p.poll() is None:
            probes.append(probe_once(port))
            time.sleep(PROBE_GAP)
        out, _ = p.communicate(timeout=duration + 30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = out.decode("utf-8", "replace")
    if p.returncode != 0:
        raise RuntimeError("wrk exited %d:\n%s" % (p.returncode, text))
    return text, probes


# ---------------------------------------------------------------- measure ---

def workload_duration(args, workload):
    if args.duration:
        d = args.duration
    elif args.quick:
        d = QUICK_DURATION
    else:
        d = LONG_DURATION if WORKLOADS[workload].get("long") else SHORT_DURATION
    if WORKLOADS[workload].get("kind") == "starvation":
        d = max(d, 3)       # room for PROBE_START + PROBES x (PROBE_GAP + latency)
    return d


def measure(name, workload, args, tmp, running):
    wl = WORKLOADS[workload]
    kind = wl.get("kind", "wrk")
    tool = wl.get("tool", "wrk")
    duration = workload_duration(args, workload)
    pin = pinned(args, workload)
    srv = Server(name, tmp, pin, workload)
    running.append(srv)
    idle = []
    try:
        srv.start()
        srv.wait_ready()
        srv.check_workload()
        # short unmeasured warm-up: every worker up, caches warm
        if tool == "h2load":
            rate = h2load_warmup(workload, srv.port, pin, args.warmup)
        elif args.warmup:
            run_wrk(wrk_argv(workload, args.warmup, srv.port, pin, tmp), args.warmup)
        extra = {}
        if kind == "idle":
            raise_nofile(IDLE_CONNS + 200)
            wpid, rss0 = worker_rss(srv.pid)
            t0 = time.monotonic()
            idle = open_idle(srv.port, IDLE_CONNS, IDLE_OPEN_TIMEOUT)
            opened_s = time.monotonic() - t0
            time.sleep(0.5)
            rss1 = vm_rss_kb(wpid)
            if rss0 is None or rss1 is None:
                raise RuntimeError("worker %s gone while the idle connections were opened" % wpid)
            extra = {"rss_noidle_mb": rss0 / 1024.0, "rss_idle_mb": rss1 / 1024.0,
                     "bytes_per_idle": (rss1 - rss0) * 1024.0 / IDLE_CONNS,
                     "idle_open_s": opened_s}
        if tool == "h2load":
            argv = h2load_argv(workload, srv.port, pin,
                               max(H2LOAD_MIN_REQUESTS, int(rate * duration)))
        else:
            argv = wrk_argv(workload, duration, srv.port, pin, tmp)
        note = affinity_note(srv.pid, pin)
        cpu0, n0 = tree_cpu_us(srv.pid)
        if tool == "h2load":
            text, res = run_h2load(argv, 4 * duration + 30)
        elif kind == "starvation":
            text, probes = run_wrk_with_probes(argv, duration, srv.port)
        else:
            text = run_wrk(argv, duration)
        cpu1, n1 = tree_cpu_us(srv.pid)
        if tool != "h2load":
            res = parse_wrk(text)
        if not res["requests"] or res["rps"] is None:
            raise RuntimeError("could not parse %s output:\n%s" % (tool, text))
        res["cpu_us_per_req"] = (cpu1 - cpu0) / res["requests"]
        res["memory"] = tree_memory(srv.pid)
        res.update(memory_figures(res["memory"]))
        res["worker_rss_mb"] = res["wkr_rss_mb"]     # the key older JSON files have
        if kind == "idle":
            extra["idle_kept"] = count_open(idle)
        if kind == "starvation":
            lat = [t * 1000.0 for t, _ in probes]
            extra = {"probe_p50": statistics.median(lat) if lat else None,
                     "probe_max": max(lat) if lat else None,
                     "probe_fails": sum(1 for _, ok in probes if not ok),
                     "probes": len(probes), "probe_ms": lat}
            if len(probes) < PROBES:
                note += " (only %d of %d probes done before wrk ended)" % (len(probes), PROBES)
        res.update(extra)
        res["procs"] = n1
        res["duration"] = res.get("elapsed") or duration
        res["tool"] = tool
        # the keys keep wrk's name for the h2load workloads too
        res["wrk_cmd"] = shell_quote(argv)
        res["wrk_output"] = text
        res["note"] = note
        return res
    except Exception:
        log(srv.log_tail())
        raise
    finally:
        close_idle(idle)
        srv.stop()
        running.remove(srv)


# ----------------------------------------------------------------- report ---

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


# extra columns of a kind of workload: (header, result key, format, aggregate over runs)
EXTRA_COLUMNS = {
    "idle": [("RSS 0 MB", "rss_noidle_mb", ".1f", "median"),
             ("RSS idle MB", "rss_idle_mb", ".1f", "median"),
             ("B/idle conn", "bytes_per_idle", ".0f", "median"),
             ("idle kept", "idle_kept", "d", "min")],
    "starvation": [("probe p50 ms", "probe_p50", ".2f", "median"),
                   ("probe max ms", "probe_max", ".2f", "max"),
                   ("probe fails", "probe_fails", "d", "sum")],
}


# the two latency columns: wrk's percentiles, or h2load's mean and max "time for request"
# (h2load prints no percentiles; its --log-file would cost the client CPU that sets req/s)
LATENCY_COLUMNS = {"wrk": (("p50 ms", "p50"), ("p99 ms", "p99")),
                   "h2load": (("mean ms", "lat_mean"), ("max ms", "lat_max"))}


def aggregate(vals, how):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median, "min": min, "max": max, "sum": sum}[how](vals)


def mb_pair(rss, pss):
    """'RSS/PSS' in MB, '-' when neither is known."""
    if rss is None and pss is None:
        return "-"
    return "%s/%s" % (fmt(rss, ".1f"), fmt(pss, ".1f"))


def proc_mb(p):
    """'RSS/PSS' in MB of one process of tree_memory()."""
    if not p:
        return "-"
    return mb_pair(p["rss"] and p["rss"] / 1024.0, p["pss"] and p["pss"] / 1024.0)


def print_rows(hdr, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
    line = lambda cells: "  " + "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    log(line(hdr))
    log(line(["-" * w for w in widths]))
    for r in rows:
        log(line(r))


# the ratio table: (header, summary key), each this server's figure / greenc's; None: the
# workload's two latency columns
RATIO_COLUMNS = [("req/s", "rps"), None, ("CPU us/req", "cpu"), ("wkr RSS", "wkr_rss_mb"),
                 ("wkr PSS", "wkr_pss_mb"), ("PSS sum", "pss_sum_mb")]


def print_table(workload, servers, results):
    wl = WORKLOADS[workload]
    extra = EXTRA_COLUMNS.get(wl.get("kind"), [])
    (lat1, key1), (lat2, key2) = LATENCY_COLUMNS[wl.get("tool", "wrk")]
    log()
    log("== workload: %s  (median of %d run(s)) ==" % (
        workload, max((len(results.get((s, workload), [])) for s in servers), default=0)))
    log("   %s" % wl["desc"])
    hdr = ("server", "req/s", lat1, lat2, "CPU us/req", "procs", "wkr RSS/PSS MB",
           "mst RSS/PSS MB", "PSS sum MB", "errors") + tuple(c[0] for c in extra)
    rows = []
    summary = {}
    for s in servers:
        runs = results.get((s, workload), [])
        if not runs:
            continue
        summary[s] = {
            "rps": med([r["rps"] for r in runs]),
            key1: med([r[key1] for r in runs]),
            key2: med([r[key2] for r in runs]),
            "cpu": med([r["cpu_us_per_req"] for r in runs]),
            "rss": med([r["wkr_rss_mb"] for r in runs]),
            "procs": med([r["procs"] for r in runs]),
            "errors": sum(r["errors"] for r in runs),
        }
        for key in ("wkr_rss_mb", "wkr_pss_mb", "mst_rss_mb", "mst_pss_mb", "pss_sum_mb"):
            summary[s][key] = med([r.get(key) for r in runs])
        for _, key, _, how in extra:
            summary[s][key] = aggregate([r.get(key) for r in runs], how)
    notes = []
    for s in summary:
        runs = results[(s, workload)]
        reads = sum(r["socket_errors"].get("read", 0) for r in runs)
        reqs = sum(r["requests"] for r in runs)
        if reads > reqs // 2:
            notes.append("  note: %s: %d read errors for %d requests: it closes the connection "
                         "after each response\n        without sending `Connection: close`; "
                         "wrk counts each close as a read error\n        (the responses are "
                         "still counted)." % (s, reads, reqs))
        if all(r["memory"]["master"] is None for r in runs):
            notes.append("  note: %s is 1 process%s (no master, no worker processes): it is "
                         "in the wkr columns." % (s, " with %d threads" % WAITRESS_THREADS
                                                  if s == "waitress" else ""))
    if wl.get("tls"):
        # what each server negotiated with h2load: a difference here is a difference in cost
        tls = {s: ", ".join(sorted({r["tls"] or "?" for r in results[(s, workload)]}))
               for s in summary}
        if len(set(tls.values())) == 1:
            notes.append("  TLS (every server): %s" % next(iter(tls.values())))
        else:
            notes += ["  TLS %s: %s" % (s, t) for s, t in tls.items()]
    for s, m in summary.items():
        rows.append((s, fmt(m["rps"], ".0f"), fmt(m[key1], ".2f"), fmt(m[key2], ".2f"),
                     fmt(m["cpu"], ".1f"), fmt(m["procs"], ".0f"),
                     mb_pair(m["wkr_rss_mb"], m["wkr_pss_mb"]),
                     mb_pair(m["mst_rss_mb"], m["mst_pss_mb"]),
                     fmt(m["pss_sum_mb"], ".1f"), str(m["errors"]))
                    + tuple(fmt(m[key], f) for _, key, f, _ in extra))
    if not rows:
        log("  (no results)")
        return summary
    print_rows(hdr, rows)
    for n in notes:
        log(n)
    g = summary.get("greenc")
    others = [s for s in summary if s != "greenc"]
    if g and others:
        cols = []
        for c in RATIO_COLUMNS:
            cols += [(lat1.split()[0], key1), (lat2.split()[0], key2)] if c is None else [c]
        log("  ratio to greenc (this server's figure / greenc's: req/s below 1 = fewer "
            "requests, the others above 1 = more):")
        ratio_rows = []
        for s in others:
            cells = [s]
            for _, key in cols:
                a, b = summary[s].get(key), g.get(key)
                cells.append(fmt(a / b if a is not None and b else None, ".2f"))
            ratio_rows.append(tuple(cells))
        print_rows(tuple(["x greenc"] + [h for h, _ in cols]), ratio_rows)
    return summary


# Issue 9's targets, evaluated from the medians of a run: (workload, the target, the key of
# the figure in the workload's summary, the server compared with greenc or None (greenc's own
# figure), the comparison, the limit, the unit: "x" for greenc's figure / the other's).
# Hello world, 2 workers, keep-alive, pinned, unless the workload says otherwise.
TARGETS = [
    ("keepalive", "greenc CPU/request <= 1.25 x nginx `return 200`'s", "cpu", "nginx",
     "<=", 1.25, "x"),
    ("keepalive", "greenc req/s >= 4 x uWSGI's", "rps", "uwsgi", ">=", 4.0, "x"),
    ("keepalive", "greenc req/s >= 8 x Gunicorn gthread's", "rps", "gunicorn-gthread",
     ">=", 8.0, "x"),
    ("keepalive", "greenc p99 < 2 ms at 50 connections", "p99", None, "<", 2.0, "ms"),
    ("c500", "greenc p99 < 10 ms at 500 connections", "p99", None, "<", 10.0, "ms"),
    ("close", "greenc CPU/request <= 1.2 x nginx's", "cpu", "nginx", "<=", 1.2, "x"),
    ("flask", "greenc req/s >= 1.5 x Gunicorn gthread's", "rps", "gunicorn-gthread",
     ">=", 1.5, "x"),
    ("static10k", "greenc CPU/request <= 1.2 x nginx's", "cpu", "nginx", "<=", 1.2, "x"),
    ("starvation", "greenc's worst probe of all runs < 100 ms", "probe_max", None,
     "<", 100.0, "ms"),
    ("keepalive", "greenc worker RSS <= 11 MB with the hello app", "wkr_rss_mb", None,
     "<=", 11.0, "MB"),
    ("idle10k", "greenc <= 2 KB (worker RSS) per idle keep-alive connection", "bytes_per_idle",
     None, "<=", 2048.0, "B"),
]
TARGET_UNITS = {"cpu": ("us", ".1f"), "rps": ("req/s", ".0f")}


def print_targets(summaries, args):
    """Each target met or missed (and by how much), from this run's medians; a target whose
    workload or servers were not in the run is listed as not measured. Returns them for
    --json."""
    log()
    log("== targets (issue 9), from this run's medians ==")
    if not args.pin:
        log("   (unpinned run: the targets are for pinned runs)")
    met = missed = 0
    out = []
    for workload, what, key, other, op, limit, unit in TARGETS:
        entry = {"workload": workload, "target": what, "op": op, "limit": limit,
                 "unit": unit, "value": None, "met": None}
        out.append(entry)
        label = "%s: %s" % (workload, what)
        if workload not in summaries:
            log("  %-7s %s  (%s not in this run)" % ("-", label, workload))
            continue
        summary = summaries[workload]
        lacking = [s for s in ("greenc", other) if s and s not in summary]
        g = summary.get("greenc", {}).get(key)
        o = summary.get(other, {}).get(key) if other else None
        if lacking or g is None or (other and not o):
            log("  %-7s %s  (no %s figure)" % ("-", label, " or ".join(lacking) or key))
            continue
        if other:
            v = g / o
            u, f = TARGET_UNITS[key]
            shown = "%.2f x (greenc %s, %s %s %s)" % (v, format(g, f), other, format(o, f), u)
        else:
            v = g
            shown = "%.0f B" % v if unit == "B" else "%.2f %s" % (v, unit)
            if key == "probe_max" and summary["greenc"].get("probe_fails"):
                v = float("inf")
                shown += ", %d probe(s) failed" % summary["greenc"]["probe_fails"]
        ok = {"<=": v <= limit, "<": v < limit, ">=": v >= limit}[op]
        entry.update(value=g / o if other else g, met=ok)
        by = ""
        if ok:
            met += 1
        else:
            missed += 1
            if v == float("inf"):
                pass
            elif op == ">=":
                by = ", %.0f %% short" % ((1 - v / limit) * 100)
            else:
                by = ", %.0f %% over" % ((v / limit - 1) * 100)
        log("  %-7s %s: %s; limit %s %g%s%s"
            % ("met" if ok else "MISSED", label, shown, op, limit,
               "" if unit == "x" else " " + unit, by))
    log("  %d met, %d missed, %d not measured" % (met, missed, len(TARGETS) - met - missed))
    return out


def machine_info(pin):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    cpu = l.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = [
        ("nproc", str(os.cpu_count())),
        ("cpu", cpu),
        ("kernel", platform.release()),
        ("os", cmd_output(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"])),
        ("python (bench)", platform.python_version()),
        ("wrk", first_line(cmd_output(["wrk", "--version"]))),
        ("h2load", first_line(cmd_output(["h2load", "--version"]))
         if shutil.which("h2load") else "not installed"),
        ("openssl", first_line(cmd_output(["openssl", "version"]))
         if shutil.which("openssl") else "not installed"),
        ("gunicorn", cmd_output(["/usr/bin/gunicorn", "--version"])
         if os.path.exists("/usr/bin/gunicorn") else "not installed"),
        ("uwsgi", cmd_output(["/usr/bin/uwsgi", "--version"])
         if os.path.exists("/usr/bin/uwsgi") else "not installed"),
        ("greenc", first_line(cmd_output([GREENC, "-v"], timeout=5))
         if os.path.exists(GREENC) else "not built"),
        ("waitress", waitress_version() if waitress_available() else "not installed"),
        ("nginx", first_line(cmd_output([NGINX, "-v"]))
         if os.path.exists(NGINX) else "not installed"),
        ("pinning", "server on CPU 0 (taskset -c 0), wrk and h2load on CPU 1 (taskset -c 1), "
         "but in keepalive-unpinned" if pin else "none (--no-pin)"),
    ]
    w = max(len(k) for k, _ in info)
    for k, v in info:
        log("  %s  %s" % (k.ljust(w), v))


# ------------------------------------------------------------------- main ---

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="1 run of %d s per server and workload (smoke test)" % QUICK_DURATION)
    ap.add_argument("--duration", type=int,
                    help="seconds per wrk or h2load run, every workload (default %d for "
                         "keepalive and close, %d for the others)"
                         % (LONG_DURATION, SHORT_DURATION))
    ap.add_argument("--warmup", type=int,
                    help="seconds of unmeasured wrk or h2load before each run, 0 for "
                         "none (h2load: at least %.1f, to size its run) (default %d, "
                         "--quick 0)" % (CALIBRATE_S, WARMUP_S))
    ap.add_argument("--runs", type=int, help="interleaved runs, median reported (default 3)")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS),
                    help="comma list from %s (default: %s)"
                    % (",".join(KNOWN_SERVERS), ",".join(ALL_SERVERS)))
    ap.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS),
                    help="comma list from %s (default: all but %s)"
                    % (",".join(ALL_WORKLOADS),
                       ",".join(w for w in ALL_WORKLOADS if w not in DEFAULT_WORKLOADS)))
    ap.add_argument("--no-build", action="store_true", help="do not build greenc")
    ap.add_argument("--plan", action="store_true",
                    help="print the machine, the plan and its estimated duration, and stop")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin server and wrk or h2load to CPUs")
    ap.add_argument("--json", metavar="FILE", help="also write raw per-run results as JSON")
    ap.add_argument("--greenc-access-log", metavar="ARGS",
                    help="give greenc an access log in its temporary directory: "
                         "'access_log TMP/access.log ARGS;' (e.g. 'combined' or "
                         "'combined buffer=64k'); default: access_log off")
    a = ap.parse_args()
    a.runs = a.runs or (1 if a.quick else 3)
    if a.warmup is None:
        a.warmup = 0 if a.quick else WARMUP_S
    if (a.duration is not None and a.duration < 1) or a.runs < 1 or a.warmup < 0:
        ap.error("--duration and --runs must be >= 1, --warmup >= 0")
    a.servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    for s in a.servers:
        if s not in KNOWN_SERVERS:
            ap.error("unknown server %r (choose from %s)" % (s, ", ".join(KNOWN_SERVERS)))
    for w in a.workloads:
        if w not in ALL_WORKLOADS:
            ap.error("unknown workload %r (choose from %s)" % (w, ", ".join(ALL_WORKLOADS)))
    return a


# Seconds a measurement takes besides wrk's runs: start, readiness, the checked request, wrk's
# own start, and stopping the server; measured on the 2-core development machine while it was
# busy (Python's imports and Gunicorn's arbiter make up most of it), rounded up.  A --quick
# run there took 127 s against the 158 s this predicts.
SERVER_OVERHEAD = {"greenc": 1.0, "greenc-router": 1.5, "nginx": 0.5, "uwsgi": 2.0,
                   "gunicorn-sync": 2.5, "gunicorn-gthread": 2.0, "waitress": 1.0}
IDLE_OVERHEAD = 5.0        # idle10k: opening the idle connections


def plan_seconds(plan, args):
    """The plan's estimated duration in seconds."""
    total = 0.0
    for w, ss in plan:
        warmup = args.warmup
        if WORKLOADS[w].get("tool") == "h2load":
            warmup = max(warmup, CALIBRATE_S)
        for s in ss:
            per = workload_duration(args, w) + warmup + SERVER_OVERHEAD.get(s, 1.5)
            if WORKLOADS[w].get("kind") == "idle":
                per += IDLE_OVERHEAD
            total += args.runs * per
    return total


def on_term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    args = parse_args()
    global GREENC_ACCESS_LOG
    GREENC_ACCESS_LOG = args.greenc_access_log
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    tools = {WORKLOADS[w].get("tool", "wrk") for w in args.workloads}
    if any(WORKLOADS[w].get("tls") for w in args.workloads):
        tools.add("openssl")                # the TLS workloads' certificate
    for tool, package in (("wrk", "wrk"), ("h2load", "nghttp2-client"), ("openssl", "openssl")):
        if tool in tools and not shutil.which(tool):
            log("%s not found: apt-get install %s" % (tool, package))
            return 2
    if args.pin and (os.cpu_count() or 1) < 2:
        log("fewer than 2 CPUs: running unpinned")
        args.pin = False
    if args.pin and not shutil.which("taskset"):
        log("taskset not found (package util-linux): running unpinned")
        args.pin = False

    tmp = tempfile.mkdtemp(prefix="greenc-bench-")
    running = []
    results = {}
    failures = []
    broken = set()
    try:
        servers = []
        for s in args.servers:
            if s.startswith("greenc"):
                ok = build_greenc(tmp) if not args.no_build else os.path.exists(GREENC)
                if not ok:
                    if args.no_build:
                        log("greenc: %s missing (--no-build): skipping greenc" % GREENC)
                    continue
            else:
                try:
                    server_command(s, 0, tmp)
                except LookupError as e:
                    log("%s: skipped: %s" % (s, e))
                    continue
            servers.append(s)
        if not servers:
            log("no server to benchmark")
            return 2

        global BENCH_FILE
        BENCH_FILE = os.path.join(tmp, "file1m.bin")
        with open(BENCH_FILE, "wb") as f:
            f.write(os.urandom(FILE_SIZE))
        os.mkdir(os.path.join(tmp, "static"))
        with open(os.path.join(tmp, "static", "f10k.bin"), "wb") as f:
            f.write(os.urandom(STATIC_SIZE))
        write_lua_scripts(tmp)
        if "openssl" in tools:
            try:
                argv = make_tls_cert(tmp)
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                log("no certificate for the TLS workloads: %s" % e)
                return 2
            log("TLS certificate (self-signed, for this run): %s" % shell_quote(argv))

        plan = [(w, [s for s in servers
                     if s in WORKLOADS[w].get("servers", WSGI_SERVERS)
                     or (s == "greenc-router"
                         and "greenc" in WORKLOADS[w].get("servers", WSGI_SERVERS))])
                for w in args.workloads]
        log()
        log("machine:")
        machine_info(args.pin)
        total = plan_seconds(plan, args)
        log()
        log("plan: %d run(s) x %d workload(s), %d measurements in all, each on a freshly "
            "started server\n      (+%d s warm-up each); roughly %d s (%.1f min) in all"
            % (args.runs, len(plan), args.runs * sum(len(ss) for _, ss in plan), args.warmup,
               total, total / 60.0))
        log("workloads, servers and wrk or h2load command lines (PORT is a fresh free port per"
            " run, TMP the temporary directory):")
        for w, ss in plan:
            log("  %-18s %s" % (w, WORKLOADS[w]["desc"]))
            log("  %-18s servers: %s" % ("", ", ".join(ss) or "(none selected)"))
            log("  %-18s %s" % ("", load_argv_shown(w, workload_duration(args, w),
                                                        pinned(args, w))))
        log()
        if args.plan:
            return 0
        conns = max(WORKLOADS[w].get("connections", 50) for w, _ in plan) if plan else 50
        if conns > 100:
            # c500: wrk and the servers (which inherit it) need a descriptor per connection
            # and then some; a soft limit of 1024 would do, this leaves room
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            want = 8 * conns if hard == resource.RLIM_INFINITY else min(hard, 8 * conns)
            if soft != resource.RLIM_INFINITY and soft < want:
                resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

        for run in range(1, args.runs + 1):
            for w, ss in plan:
                for s in ss:
                    if (s, w) in broken:
                        continue
                    t0 = time.monotonic()
                    try:
                        r = measure(s, w, args, tmp, running)
                    except KeyboardInterrupt:
                        raise
                    except Exception as e:
                        log("run %d %-18s %-16s FAILED: %s" % (run, w, s, e))
                        log("  (skipping %s for the rest of %s)" % (s, w))
                        failures.append((run, w, s, str(e)))
                        broken.add((s, w))
                        continue
                    results.setdefault((s, w), []).append(r)
                    errs = ""
                    if r["errors"]:
                        errs = "  ERRORS: socket %s, non-2xx/3xx %d" % (
                            ", ".join("%s %d" % kv for kv in r["socket_errors"].items()),
                            r["non2xx3xx"])
                    more = ""
                    for hdr, key, f, _ in EXTRA_COLUMNS.get(WORKLOADS[w].get("kind"), []):
                        more += "  %s %s" % (hdr, fmt(r.get(key), f))
                    (lat1, key1), (lat2, key2) = LATENCY_COLUMNS[r["tool"]]
                    log("run %d %-18s %-16s %8.0f req/s  %s %6.2f ms  %s %7.2f ms  "
                        "%7.1f us/req  RSS/PSS MB wkr %s mst %s  (%d procs, %.0f s)%s%s%s"
                        % (run, w, s, r["rps"], lat1.split()[0], r[key1] or 0,
                           lat2.split()[0], r[key2] or 0, r["cpu_us_per_req"],
                           ",".join(proc_mb(p) for p in r["memory"]["workers"]),
                           proc_mb(r["memory"]["master"]), r["procs"],
                           time.monotonic() - t0, more, errs, r["note"]))

        summaries = {}
        for w, ss in plan:
            summaries[w] = print_table(w, ss, results)
        log()
        log("req/s, p50, p99, CPU, RSS, PSS: medians over runs; errors: wrk socket errors +")
        log("non-2xx/3xx, summed over runs. 'procs' = the server's processes; 'wkr RSS/PSS' =")
        log("the median over its worker processes (the master's direct children) of VmRSS and")
        log("Pss (smaps_rollup) after the run; 'mst' = the master's; 'PSS sum' = Pss of all its")
        log("processes, shared pages counted once. 'x greenc' tables: each figure / greenc's in")
        log("the same workload.")
        if any(WORKLOADS[w].get("tool") == "h2load" for w in summaries):
            log("TLS workloads (h2load): 'mean', 'max' = h2load's time for request (from sending")
            log("it to the end of the response; no percentiles); any failed request fails the")
            log("run. tls-handshake: one full handshake per request, so req/s = handshakes/s")
            log("and CPU us/req = server CPU per handshake (and its request).")
        if "idle10k" in summaries:
            log("idle10k: 'RSS 0' = the worker's VmRSS before the idle connections are opened,")
            log("'RSS idle' = with them open (before wrk); 'B/idle conn' = the difference / %d;"
                % IDLE_CONNS)
            log("'idle kept' = idle connections still open after wrk (least over runs).")
        if "starvation" in summaries:
            log("starvation: latency of each fresh Connection: close request (connect to last")
            log("byte) made while wrk runs; p50 = median of runs' medians, max over all runs;")
            log("a probe slower than %.0f s or not answered 200 counts in 'probe fails'."
                % PROBE_TIMEOUT)
        targets = print_targets(summaries, args)
        if failures:
            log()
            log("FAILED measurements:")
            for f in failures:
                log("  run %d %s %s: %s" % f)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "summary": summaries, "targets": targets,
                           "runs": {"%s/%s" % k: [{kk: vv for kk, vv in r.items()}
                                                  for r in v]
                                    for k, v in results.items()},
                           "failures": failures}, f, indent=1)
            log("raw results written to %s" % args.json)
        return 1 if failures else 0
    except KeyboardInterrupt:
        log("\ninterrupted: stopping servers")
        return 130
    finally:
        # cleanup is bounded (STOP_GRACE per server); do not let a second
        # Ctrl-C / TERM cut it short and leave servers behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for srv in list(running):
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
