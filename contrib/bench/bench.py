#!/usr/bin/python3
"""greenc benchmark: greenc against Gunicorn (sync, gthread) and uWSGI.

Same hello-world WSGI app (apps/hello.py) for every server, 2 worker
processes each, loopback only.  The server (all its processes) is pinned to
CPU 0, wrk to CPU 1.  Runs are interleaved (run 1: every workload, every
server; run 2: ...) and the median over runs is reported.

Figures per server and workload:
  req/s       wrk's Requests/sec
  p50, p99    wrk --latency percentiles, ms
  CPU us/req  utime+stime of the server's whole process tree (master and all
              descendants, including reaped children via cutime/cstime),
              sampled right before and right after wrk, divided by the
              requests wrk completed
  worker RSS  VmRSS of the largest direct child of the master after the run
  errors      wrk socket errors (connect/read/write/timeout) + non-2xx/3xx
              responses, summed over runs

Stdlib only; run with Debian's /usr/bin/python3.  See README.md.
"""

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
APPS_DIR = os.path.join(HERE, "apps")
ROOT = os.path.dirname(os.path.dirname(HERE))          # contrib/bench -> repo
GREENC = os.path.join(ROOT, "objs", "greenc")

CLK_TCK = os.sysconf("SC_CLK_TCK")
ALL_SERVERS = ["greenc", "gunicorn-sync", "gunicorn-gthread", "uwsgi"]
ALL_WORKLOADS = ["keepalive", "close"]
READY_TIMEOUT = 20.0
STOP_GRACE = 5.0
WARMUP_S = 1

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
    return env


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

def server_command(name, port, tmp):
    """(argv, stop_signal) for a server, or raise LookupError(reason)."""
    bind = "127.0.0.1:%d" % port
    if name == "greenc":
        conf = os.path.join(tmp, "greenc.conf")
        with open(conf, "w") as f:
            f.write(
                'daemon off;\n'
                'pid "{tmp}/greenc.pid";\n'
                'error_log "{tmp}/error.log" warn;\n'
                'app hello {{ wsgi hello:application; python_path "{apps}"; workers 2; }}\n'
                'http {{ access_log off; server {{ listen {bind}; location / {{ pass hello; }} }} }}\n'
                .format(tmp=tmp, apps=APPS_DIR, bind=bind))
        return [GREENC, "-c", conf], signal.SIGTERM
    if name in ("gunicorn-sync", "gunicorn-gthread"):
        if not os.access("/usr/bin/gunicorn", os.X_OK):
            raise LookupError("/usr/bin/gunicorn missing: apt-get install gunicorn")
        argv = ["/usr/bin/gunicorn", "-w", "2", "-b", bind, "--chdir", APPS_DIR]
        if name == "gunicorn-gthread":
            argv += ["-k", "gthread", "--threads", "4"]
        return argv + ["hello:application"], signal.SIGTERM
    if name == "uwsgi":
        if not os.access("/usr/bin/uwsgi", os.X_OK):
            raise LookupError("/usr/bin/uwsgi missing: apt-get install uwsgi uwsgi-plugin-python3")
        if not os.path.exists(os.path.join(UWSGI_PLUGIN_DIR, "python3_plugin.so")):
            raise LookupError("uWSGI python3 plugin missing: apt-get install uwsgi-plugin-python3")
        argv = ["/usr/bin/uwsgi", "--plugin", "python3", "--http-socket", bind, "--master",
                "--processes", "2", "--wsgi-file", os.path.join(APPS_DIR, "hello.py"),
                "--disable-logging"]
        # uWSGI treats TERM as "reload"; INT/QUIT stop it.
        return argv, signal.SIGINT
    raise LookupError("unknown server %r" % name)


class Server:
    def __init__(self, name, tmp, pin):
        self.name, self.tmp, self.pin = name, tmp, pin
        self.port = free_port()
        self.argv, self.stop_sig = server_command(name, self.port, tmp)
        self.logpath = os.path.join(tmp, "%s.log" % name)
        self.proc = None

    def start(self):
        argv = (["taskset", "-c", "0"] if self.pin else []) + self.argv
        self.logf = open(self.logpath, "wb")
        # own session => own process group; Ctrl-C in the terminal does not
        # reach it, the finally clause in main() stops it.
        self.proc = subprocess.Popen(argv, cwd=self.tmp, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=server_env(), start_new_session=True)
        self.pid = self.proc.pid     # taskset execs, so this is the server itself

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s before answering"
                                   % (self.name, self.proc.returncode))
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
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
        if self.name == "greenc":
            out += "\n  greenc error_log:\n" + tail(os.path.join(self.tmp, "error.log"))
        return out


# -------------------------------------------------------------------- wrk ---

def wrk_argv(workload, duration, port, pin):
    argv = (["taskset", "-c", "1"] if pin else []) + [
        "wrk", "-t1", "-c50", "-d%ds" % duration, "--latency"]
    if workload == "close":
        argv += ["-H", "Connection: close"]
    return argv + ["http://127.0.0.1:%d/" % port]


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


def measure(name, workload, args, tmp, running):
    srv = Server(name, tmp, args.pin)
    running.append(srv)
    try:
        srv.start()
        srv.wait_ready()
        # short unmeasured warm-up: every worker up, caches warm
        run_wrk(wrk_argv(workload, WARMUP_S, srv.port, args.pin), WARMUP_S)
        argv = wrk_argv(workload, args.duration, srv.port, args.pin)
        note = affinity_note(srv.pid, args.pin)
        cpu0, n0 = tree_cpu_us(srv.pid)
        text = run_wrk(argv, args.duration)
        cpu1, n1 = tree_cpu_us(srv.pid)
        res = parse_wrk(text)
        if not res["requests"] or res["rps"] is None:
            raise RuntimeError("could not parse wrk output:\n" + text)
        res["cpu_us_per_req"] = (cpu1 - cpu0) / res["requests"]
        rss = [vm_rss_kb(p) for p in direct_children(srv.pid)]
        rss = [x for x in rss if x]
        res["worker_rss_mb"] = max(rss) / 1024.0 if rss else None
        res["procs"] = n1
        res["wrk_cmd"] = shell_quote(argv)
        res["wrk_output"] = text
        res["note"] = note
        return res
    except Exception:
        log(srv.log_tail())
        raise
    finally:
        srv.stop()
        running.remove(srv)


# ----------------------------------------------------------------- report ---

def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def print_table(workload, servers, results):
    log()
    log("== workload: %s  (median of %d run(s)) ==" % (
        workload, max((len(results.get((s, workload), [])) for s in servers), default=0)))
    hdr = ("server", "req/s", "p50 ms", "p99 ms", "CPU us/req", "wkr RSS MB", "errors",
           "greenc x rps", "CPU / greenc")
    rows = []
    summary = {}
    for s in servers:
        runs = results.get((s, workload), [])
        if not runs:
            continue
        summary[s] = {
            "rps": med([r["rps"] for r in runs]),
            "p50": med([r["p50"] for r in runs]),
            "p99": med([r["p99"] for r in runs]),
            "cpu": med([r["cpu_us_per_req"] for r in runs]),
            "rss": med([r["worker_rss_mb"] for r in runs]),
            "errors": sum(r["errors"] for r in runs),
        }
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
    g = summary.get("greenc")
    for s, m in summary.items():
        rps_ratio = (g["rps"] / m["rps"]) if g and m["rps"] else None
        cpu_ratio = (m["cpu"] / g["cpu"]) if g and g["cpu"] else None
        rows.append((s, fmt(m["rps"], ".0f"), fmt(m["p50"], ".2f"), fmt(m["p99"], ".2f"),
                     fmt(m["cpu"], ".1f"), fmt(m["rss"], ".1f"), str(m["errors"]),
                     fmt(rps_ratio, ".2f"), fmt(cpu_ratio, ".2f")))
    if not rows:
        log("  (no results)")
        return summary
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
    line = lambda cells: "  " + "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    log(line(hdr))
    log(line(["-" * w for w in widths]))
    for r in rows:
        log(line(r))
    for n in notes:
        log(n)
    return summary


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
        ("gunicorn", cmd_output(["/usr/bin/gunicorn", "--version"])
         if os.path.exists("/usr/bin/gunicorn") else "not installed"),
        ("uwsgi", cmd_output(["/usr/bin/uwsgi", "--version"])
         if os.path.exists("/usr/bin/uwsgi") else "not installed"),
        ("greenc", first_line(cmd_output([GREENC, "-v"], timeout=5))
         if os.path.exists(GREENC) else "not built"),
        ("pinning", "server on CPU 0 (taskset -c 0), wrk on CPU 1 (taskset -c 1)"
         if pin else "none (--no-pin)"),
    ]
    w = max(len(k) for k, _ in info)
    for k, v in info:
        log("  %s  %s" % (k.ljust(w), v))


# ------------------------------------------------------------------- main ---

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="1 run of 3 s per server and workload (smoke test)")
    ap.add_argument("--duration", type=int, help="seconds per wrk run (default 10)")
    ap.add_argument("--runs", type=int, help="interleaved runs, median reported (default 3)")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS),
                    help="comma list from %s" % ",".join(ALL_SERVERS))
    ap.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                    help="comma list from %s" % ",".join(ALL_WORKLOADS))
    ap.add_argument("--no-build", action="store_true", help="do not build greenc")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin server and wrk to CPUs")
    ap.add_argument("--json", metavar="FILE", help="also write raw per-run results as JSON")
    a = ap.parse_args()
    a.duration = a.duration or (3 if a.quick else 10)
    a.runs = a.runs or (1 if a.quick else 3)
    if a.duration < 1 or a.runs < 1:
        ap.error("--duration and --runs must be >= 1")
    a.servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    for s in a.servers:
        if s not in ALL_SERVERS:
            ap.error("unknown server %r (choose from %s)" % (s, ", ".join(ALL_SERVERS)))
    for w in a.workloads:
        if w not in ALL_WORKLOADS:
            ap.error("unknown workload %r (choose from %s)" % (w, ", ".join(ALL_WORKLOADS)))
    return a


def on_term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    if not shutil.which("wrk"):
        log("wrk not found: apt-get install wrk")
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
            if s == "greenc":
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

        log()
        log("machine:")
        machine_info(args.pin)
        per = args.duration + WARMUP_S + 2
        log()
        log("plan: %d run(s) x %d workload(s) x %d server(s), wrk %d s each "
            "(+%d s warm-up); roughly %d s in all"
            % (args.runs, len(args.workloads), len(servers), args.duration, WARMUP_S,
               args.runs * len(args.workloads) * len(servers) * per))
        log("wrk command lines (PORT is a fresh free port per run):")
        for w in args.workloads:
            log("  %-9s %s" % (w, shell_quote(wrk_argv(w, args.duration, 0, args.pin))
                               .replace("127.0.0.1:0/", "127.0.0.1:PORT/")))
        log()

        for run in range(1, args.runs + 1):
            for w in args.workloads:
                for s in servers:
                    if s in broken:
                        continue
                    t0 = time.monotonic()
                    try:
                        r = measure(s, w, args, tmp, running)
                    except KeyboardInterrupt:
                        raise
                    except Exception as e:
                        log("run %d %-9s %-17s FAILED: %s" % (run, w, s, e))
                        log("  (skipping %s for the rest of the benchmark)" % s)
                        failures.append((run, w, s, str(e)))
                        broken.add(s)
                        continue
                    results.setdefault((s, w), []).append(r)
                    errs = ""
                    if r["errors"]:
                        errs = "  ERRORS: socket %s, non-2xx/3xx %d" % (
                            ", ".join("%s %d" % kv for kv in r["socket_errors"].items()),
                            r["non2xx3xx"])
                    log("run %d %-9s %-17s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  "
                        "%7.1f us/req  rss %s MB  (%d procs, %.0f s)%s%s"
                        % (run, w, s, r["rps"], r["p50"] or 0, r["p99"] or 0,
                           r["cpu_us_per_req"], fmt(r["worker_rss_mb"], ".1f"), r["procs"],
                           time.monotonic() - t0, errs, r["note"]))

        summaries = {}
        for w in args.workloads:
            summaries[w] = print_table(w, servers, results)
        log()
        log("req/s, p50, p99, CPU, RSS: medians over runs; errors: wrk socket errors +")
        log("non-2xx/3xx, summed over runs. 'greenc x rps' = greenc req/s / this server's;")
        log("'CPU / greenc' = this server's CPU per request / greenc's.")
        if failures:
            log()
            log("FAILED measurements:")
            for f in failures:
                log("  run %d %s %s: %s" % f)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "summary": summaries,
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
