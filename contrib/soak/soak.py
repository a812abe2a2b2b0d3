#!/usr/bin/python3
"""soak.py: run greenc for a bounded time under mixed load while reloading it and killing its
workers, then report what it did to the server.

    contrib/soak/soak.py                      # 10 minutes, HUP every 30 s, kill -9 every 45 s
    contrib/soak/soak.py --duration 60 --hup-every 10 --kill-every 15 --json report.json

It writes a config, an app and a self-signed certificate (openssl) into a work directory and
starts greenc (--greenc, default objs/greenc of this tree) with two apps: "soak" (2 workers
x 2 threads) on a plain and a TLS listener, and, on a third listener shared with app "b", the
C-only router in front of both. Client threads (standard library only) run these kinds:

    keepalive   GET / on one connection, reused
    close       GET / with "Connection: close", a connection each
    upload      POST of 1 MiB (over client_body_buffer_size: a temp file), length checked
    stream      GET of a 1 MiB chunked generator response, length checked
    slow        the request head trickled over ~1 s, a streamed response read at ~256 KB/s
    tls         GET / over TLS, reused, a new handshake every 20 requests
    router      GET through the router to app "b" and to app "soak", keep-alive and close

Every 30 s the master gets HUP (a new generation replaces every worker); every 45 s one app
worker, chosen at random, gets SIGKILL. A failure is attributed to a killed worker when the
request was in flight at the kill, or its connection had last been answered by the victim
(the app sends its pid in X-Pid). A keep-alive request that meets a connection the server
closed while idle is retried once on a new connection, as HTTP clients do (RFC 9112 9.3.1),
and counted apart.

The report: requests by kind, failures by kind and cause, RSS and open descriptors of every
process at the start and at the end (after the load stops and the last generation settles)
with the growth per 100k requests, and the error log's lines by level. The exit status is 0
when no failure is unexplained, the master's and the router's descriptors did not grow, and
the log has no [emerg], [crit] or [alert] line other than the killed workers' exits.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KINDS = ("keepalive", "close", "upload", "stream", "slow", "tls", "router")
UPLOAD = 1 << 20
STREAM_CHUNKS, STREAM_CHUNK = 64, 16384

APP = '''\
import os
import time

def application(environ, start_response):
    path = environ["PATH_INFO"]
    pid = ("X-Pid", str(os.getpid()))
    if path.endswith("/upload"):
        n = 0
        while True:
            chunk = environ["wsgi.input"].read(65536)
            if not chunk:
                break
            n += len(chunk)
        body = str(n).encode()
        start_response("200 OK", [pid, ("Content-Length", str(len(body)))])
        return [body]
    if path.endswith("/stream"):
        q = dict(p.split("=") for p in environ["QUERY_STRING"].split("&") if "=" in p)
        chunks, size = int(q.get("chunks", 64)), int(q.get("size", 16384))
        start_response("200 OK", [pid, ("Content-Type", "application/octet-stream")])
        return (b"s" * size for _ in range(chunks))
    body = b"hello from " + environ["SCRIPT_NAME"].encode() + path.encode() + b"\\n"
    start_response("200 OK", [pid, ("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# the server


class Server:
    def __init__(self, binary, workdir):
        self.binary, self.dir = binary, Path(workdir)
        self.port, self.tls_port, self.router_port = free_port(), free_port(), free_port()
        self.log = self.dir / "error.log"
        self.proc = None

    def write(self):
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        (self.dir / "soak_app.py").write_text(APP)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-days", "2", "-subj", "/CN=localhost",
                        "-keyout", str(self.dir / "key.pem"), "-out", str(self.dir / "cert.pem")],
                       check=True, capture_output=True, timeout=60)
        d = self.dir
        (d / "greenc.conf").write_text(f"""\
daemon off;
pid {d}/greenc.pid;
error_log {d}/error.log info;
graceful_timeout 10s;
router_workers 1;
app soak {{ wsgi soak_app:application; python_path {d}; workers 2; threads 2; }}
app b    {{ wsgi soak_app:application; python_path {d}; workers 1; }}
http {{
    access_log off;
    client_max_body_size 4m;
    client_body_buffer_size 256k;
    client_body_temp_path {d}/tmp;
    server {{
        listen 127.0.0.1:{self.port};
        location = /healthz {{ return 200 "ok\\n"; }}
        location / {{ pass soak; }}
    }}
    server {{
        listen 127.0.0.1:{self.tls_port} ssl;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        location / {{ pass soak; }}
    }}
    server {{
        listen 127.0.0.1:{self.router_port};
        location /b/ {{ pass b; }}
        location / {{ pass soak; }}
    }}
}}
""")

    def start(self):
        self.out = open(self.dir / "stderr.log", "ab")
        self.proc = subprocess.Popen([self.binary, "-c", str(self.dir / "greenc.conf")],
                                     stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.out)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.out.close()

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def children(self):
        kids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        data = f.read()
                except OSError:
                    continue
                fields = data[data.rindex(")") + 2:].split()
                if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                    kids.append(int(entry))
        return sorted(kids)

    def roles(self):
        """pid -> "master", "router" or "app <name>", from the master's log lines."""
        roles = {self.proc.pid: "master"}
        for m in re.finditer(r'start worker process (\d+) for (app|group) "([^"]+)"',
                             self.log_text()):
            roles[int(m.group(1))] = "router" if m.group(2) == "group" else f"app {m.group(3)}"
        return roles

    def expected(self):
        return 2 + 1 + 1            # soak, b, router

    def settle(self, timeout=60):
        """Wait until the current generation alone runs, all of it (no draining worker)."""
        deadline = time.monotonic() + timeout
        stable_since = None
        while time.monotonic() < deadline:
            if len(self.children()) == self.expected() and self.ready():
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since > 1.0:
                    return True
            else:
                stable_since = None
            time.sleep(0.1)
        return False

    def ready(self):
        try:
            for port, path in ((self.port, "/"), (self.router_port, "/b/")):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", path, headers={"Connection": "close"})
                if c.getresponse().status != 200:
                    return False
                c.close()
            return True
        except OSError:
            return False


def _unix_inodes():
    with open("/proc/net/unix") as f:
        next(f)
        return {line.split()[6] for line in f}


def snapshot(server):
    """{pid: {"role", "rss_kb", "fds", "unix_fds"}} for the master and every worker alive
    now. unix_fds (unix sockets: the master's channels, the router's pooled connections to
    the apps, which it keeps up to a bound) are counted apart from the rest."""
    roles = server.roles()
    unix = _unix_inodes()
    out = {}
    for pid in [server.proc.pid] + server.children():
        try:
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            links = []
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    pass
        except (OSError, StopIteration):
            continue
        kinds = Counter()
        for link in links:
            if link.startswith("socket:["):
                kinds["unix" if link[8:-1] in unix else "socket"] += 1
            elif link.startswith("anon_inode:"):
                kinds[link] += 1
            else:
                kinds["file " + link] += 1
        out[pid] = {"role": roles.get(pid, "?"), "rss_kb": rss, "fds": len(links),
                    "unix_fds": kinds["unix"], "fd_kinds": dict(kinds)}
    return out


# ---------------------------------------------------------------------------
# the clients


class Failure(Exception):
    def __init__(self, kind, detail="", got_bytes=False):
        super().__init__(kind, detail)
        self.kind, self.detail, self.got_bytes = kind, detail, got_bytes


class Conn:
    """One client connection (plain or TLS) speaking HTTP/1.1 by hand."""

    def __init__(self, port, tls=None, timeout=15.0):
        self.opened = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except ConnectionRefusedError as e:
            raise Failure("refused", repr(e))
        except socket.timeout as e:
            raise Failure("timeout", "connect")
        except OSError as e:
            raise Failure("reset", "connect: " + repr(e))
        if tls:
            try:
                s = tls.wrap_socket(s, server_hostname="localhost")
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ConnectionResetError,
                    BrokenPipeError) as e:
                s.close()
                raise Failure("reset", "handshake: " + repr(e))     # the connection was cut
            except socket.timeout:
                s.close()
                raise Failure("timeout", "handshake")
            except (ssl.SSLError, OSError) as e:
                s.close()
                raise Failure("tls", repr(e))
        self.sock, self.buf, self.served, self.pid = s, b"", 0, None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv(self, size=65536):
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            raise Failure("timeout", "response", bool(self.buf))
        except (ConnectionResetError, ssl.SSLError, OSError) as e:
            raise Failure("reset", repr(e), self.got)
        if not data:
            raise Failure("reset", "closed by the server", self.got)
        self.got = True
        self.buf += data
        return data

    def send(self, data, trickle=0.0):
        try:
            if trickle:
                step = max(1, len(data) // 20)
                for i in range(0, len(data), step):
                    self.sock.sendall(data[i:i + step])
                    time.sleep(trickle / 20)
            else:
                self.sock.sendall(data)
        except socket.timeout:
            raise Failure("timeout", "send")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
            raise Failure("reset", "send: " + repr(e))

    def exchange(self, head, body=b"", trickle=0.0, slow_read=0.0):
        """Send a request, read its response; returns (status, headers, body, close)."""
        self.got = False
        self.send(head + body, trickle)
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self._recv()
            data, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                while b"\r\n" not in self.buf:
                    self._recv()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    if slow_read:
                        time.sleep(slow_read)
                    self._recv(16384 if slow_read else 65536)
                data += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
            data = bytes(data)
        else:
            while True:
                try:
                    self._recv()
                except Failure as f:
                    if f.detail == "closed by the server":
                        break
                    raise
            data, self.buf = self.buf, b""
        self.served += 1
        self.pid = headers.get("x-pid", self.pid)
        return status, headers, data, headers.get("connection", "").lower() == "close"


class Load:
    def __init__(self, server, threads_per_kind, deadline, max_requests, tls_ctx):
        self.server, self.deadline, self.max_requests = server, deadline, max_requests
        self.tls = tls_ctx
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.ok = Counter()
        self.failures = Counter()              # (kind, cause) -> n
        self.attributed = Counter()            # kind -> n, failures a kill explains
        self.idle_retries = Counter()
        self.samples = []
        self.kills = []                        # (monotonic time, pid)
        self.count = 0
        self.threads = [threading.Thread(target=self.run, args=(kind, i), daemon=True)
                        for kind in KINDS for i in range(threads_per_kind)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(60)

    def total(self):
        return self.count

    def explained(self, conn_pid, started, ended):
        for when, pid in list(self.kills):
            if started - 0.05 <= when <= ended + 0.05:
                return True
            if conn_pid is not None and str(pid) == str(conn_pid) and when <= ended:
                return True
        return False

    def record(self, kind, failure, conn_pid, started):
        ended = time.monotonic()
        with self.lock:
            self.count += 1
            if failure is None:
                self.ok[kind] += 1
            elif failure.kind in ("reset", "timeout", "short", "502") and \
                    self.explained(conn_pid, started, ended):
                self.attributed[kind] += 1
            else:
                self.failures[(kind, failure.kind)] += 1
                if len(self.samples) < 30:
                    self.samples.append(f"{kind}: {failure.kind} {failure.detail}")

    def run(self, kind, index):
        rng = random.Random(hash((kind, index)))
        conn = None
        n = 0
        body = b"u" * UPLOAD
        while not self.stop_flag.is_set() and time.monotonic() < self.deadline:
            if self.total() >= self.max_requests:
                break
            n += 1
            port, tls, path, close, trickle, slow_read, payload = \
                self.server.port, None, "/", False, 0.0, 0.0, b""
            method, expect = "GET", None
            if kind == "close":
                close = True
            elif kind == "upload":
                method, path, payload, expect = "POST", "/upload", body, str(UPLOAD).encode()
            elif kind == "stream":
                path = f"/stream?chunks={STREAM_CHUNKS}&size={STREAM_CHUNK}"
                expect = STREAM_CHUNKS * STREAM_CHUNK
            elif kind == "slow":
                path, close, trickle, slow_read = "/stream?chunks=16&size=16384", True, 1.0, 0.06
                expect = 16 * 16384
            elif kind == "tls":
                port, tls = self.server.tls_port, self.tls
                if n % 20 == 0 and conn:
                    conn.close()
                    conn = None
            elif kind == "router":
                port = self.server.router_port
                path = "/b/hello" if n % 2 else "/hello"
                close = n % 3 == 0
            head = (f"{method} {path} HTTP/1.1\r\nHost: soak\r\n"
                    + ("Connection: close\r\n" if close else "")
                    + (f"Content-Length: {len(payload)}\r\n" if payload else "")
                    + "\r\n").encode()
            started = time.monotonic()
            conn_pid = conn.pid if conn else None
            failure = None
            for attempt in (0, 1):
                try:
                    if conn is None:
                        conn = Conn(port, tls)
                    reused = conn.served > 0
                    status, headers, data, closing = conn.exchange(head, payload, trickle,
                                                                   slow_read)
                    if status == 502 and kind == "router":
                        raise Failure("502", "router answered 502", True)
                    if status != 200:
                        raise Failure(f"status {status}", data[:100], True)
                    if expect is not None and (len(data) != expect if isinstance(expect, int)
                                               else data != expect):
                        raise Failure("short", f"{len(data)} bytes", True)
                    if closing or close:
                        conn.close()
                        conn = None
                    break
                except Failure as f:
                    if conn:
                        conn.close()
                        conn = None
                    if attempt == 0 and reused and f.kind == "reset" and not f.got_bytes:
                        with self.lock:
                            self.idle_retries[kind] += 1
                        continue                    # the idle-close race: retry once
                    failure = f
                    break
            self.record(kind, failure, conn_pid, started)
            if failure is not None:
                time.sleep(0.01)
            if kind == "slow":
                time.sleep(rng.uniform(0, 0.2))
        if conn:
            conn.close()


# ---------------------------------------------------------------------------
# the run


def log_levels(text):
    return dict(Counter(re.findall(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] ", text, re.M)))


def summarize(snap):
    by_role = defaultdict(list)
    for pid, p in snap.items():
        by_role[p["role"]].append(p)
    return {role: {"processes": len(ps),
                   "rss_kb": round(sum(p["rss_kb"] for p in ps) / len(ps)),
                   "fds": round(sum(p["fds"] for p in ps) / len(ps), 1),
                   "other_fds": round(sum(p["fds"] - p["unix_fds"] for p in ps) / len(ps), 1)}
            for role, ps in sorted(by_role.items())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--greenc", default=str(REPO / "objs" / "greenc"))
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    ap.add_argument("--hup-every", type=float, default=30, help="seconds between HUPs (30)")
    ap.add_argument("--kill-every", type=float, default=45,
                    help="seconds between kill -9 of a random app worker (45)")
    ap.add_argument("--threads", type=int, default=1, help="client threads per kind (1)")
    ap.add_argument("--max-requests", type=int, default=5_000_000)
    ap.add_argument("--workdir", help="where the config, app and logs go (default: a new "
                                      "temp dir, removed afterwards unless --keep)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", help="also write the report to this file")
    args = ap.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="greenc-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    server = Server(args.greenc, workdir)
    server.write()
    tls = ssl.create_default_context(cafile=str(workdir / "cert.pem"))
    tls.check_hostname = False
    server.start()
    report = {}
    try:
        if not server.settle(60):
            print("greenc did not become ready; see", workdir / "error.log", file=sys.stderr)
            return 2
        start_snap = snapshot(server)
        t0 = time.monotonic()
        load = Load(server, args.threads, t0 + args.duration, args.max_requests, tls)
        load.start()
        hups = kills = 0
        next_hup, next_kill = t0 + args.hup_every, t0 + args.kill_every
        rng = random.Random()
        while time.monotonic() < t0 + args.duration and load.total() < args.max_requests:
            now = time.monotonic()
            if now >= next_hup:
                server.proc.send_signal(signal.SIGHUP)
                hups += 1
                next_hup += args.hup_every
            if now >= next_kill:
                roles = server.roles()
                apps = [p for p in server.children() if roles.get(p, "").startswith("app ")]
                if apps:
                    victim = rng.choice(apps)
                    with load.lock:
                        load.kills.append((time.monotonic(), victim))
                    try:
                        os.kill(victim, signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass
                next_kill += args.kill_every
            time.sleep(0.05)
        load.stop()
        seconds = time.monotonic() - t0
        settled = server.settle(60)
        end_snap = snapshot(server)
        log = server.log_text()
        requests = load.total()
        start_roles, end_roles = summarize(start_snap), summarize(end_snap)
        growth = {}
        for role in sorted(set(start_roles) & set(end_roles)):
            d = end_roles[role]["rss_kb"] - start_roles[role]["rss_kb"]
            growth[role] = round(d * 100_000 / max(requests, 1), 1)
        unexpected = [line for line in log.splitlines()
                      if re.search(r"\[(emerg|alert|crit)\] ", line)
                      and not re.search(r"exited on signal 9$", line)]
        stderr = (workdir / "stderr.log").read_text(errors="replace")
        sanitizer = [line for line in stderr.splitlines()
                     if re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", line)]
        master_start = start_snap[server.proc.pid]["fds"]
        master_end = end_snap.get(server.proc.pid, {}).get("fds")
        # The router keeps idle connections to the apps (a bounded pool): its other
        # descriptors are what must not grow.
        router_fds = (start_roles.get("router", {}).get("other_fds"),
                      end_roles.get("router", {}).get("other_fds"))
        report = {
            "seconds": round(seconds, 1), "hups": hups, "kills": kills,
            "requests": requests,
            "ok_by_kind": dict(load.ok),
            "failures": {f"{k} {c}": n for (k, c), n in sorted(load.failures.items())},
            "failures_attributed_to_killed_workers": dict(load.attributed),
            "idle_close_retries": dict(load.idle_retries),
            "failure_samples": load.samples,
            "processes_start": {str(k): v for k, v in start_snap.items()},
            "processes_end": {str(k): v for k, v in end_snap.items()},
            "by_role_start": start_roles, "by_role_end": end_roles,
            "rss_growth_kb_per_100k_requests": growth,
            "master_fds": [master_start, master_end],
            "router_fds": list(router_fds),
            "settled": settled,
            "log_lines_by_level": log_levels(log),
            "unexpected_log_lines": unexpected[:20],
            "sanitizer_lines": sanitizer[:20],
        }
        problems = []
        if load.failures:
            problems.append("unexplained failures")
        if master_end is None or master_end > master_start:
            problems.append("the master's descriptors grew")
        if None in router_fds or router_fds[1] > router_fds[0]:
            problems.append("the router's descriptors grew")
        if unexpected:
            problems.append("[emerg]/[alert]/[crit] lines besides the kills")
        if sanitizer:
            problems.append("sanitizer reports")
        if not settled:
            problems.append("the server did not settle after the load")
        report["problems"] = problems
    finally:
        server.stop()
        if report and args.json:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(report)
    return 1 if report.get("problems") else 0


def print_report(r):
    print(f"soak: {r['seconds']} s, {r['hups']} HUPs, {r['kills']} workers killed, "
          f"{r['requests']} requests ({r['requests'] / max(r['seconds'], 1):.0f}/s)")
    print("  ok by kind:          " + ", ".join(f"{k} {v}" for k, v in
                                               sorted(r["ok_by_kind"].items())))
    print("  failures:            " + (", ".join(f"{k}: {v}" for k, v in
                                                 r["failures"].items()) or "none"))
    print("  killed workers' requests: " + (", ".join(
        f"{k} {v}" for k, v in r["failures_attributed_to_killed_workers"].items()) or "none"))
    print("  idle-close retries:  " + (", ".join(
        f"{k} {v}" for k, v in r["idle_close_retries"].items()) or "none"))
    for s in r["failure_samples"][:10]:
        print("    " + s)
    print("  processes (role: count x RSS avg, fds avg)  start -> end  (RSS growth per 100k "
          "requests)")
    for role in sorted(set(r["by_role_start"]) | set(r["by_role_end"])):
        a, b = r["by_role_start"].get(role), r["by_role_end"].get(role)
        fmt = (lambda x: f"{x['processes']} x {x['rss_kb']} KB, {x['fds']} fds "
               f"({x['other_fds']} not unix)" if x else "-")
        print(f"    {role:10} {fmt(a):42} -> {fmt(b):42} "
              f"{r['rss_growth_kb_per_100k_requests'].get(role, '-')} KB")
    print("  every process at the start: " + ", ".join(
        f"{pid} {p['role']} {p['rss_kb']} KB {p['fds']} fds"
        for pid, p in r["processes_start"].items()))
    print("  every process at the end:   " + ", ".join(
        f"{pid} {p['role']} {p['rss_kb']} KB {p['fds']} fds"
        for pid, p in r["processes_end"].items()))
    print(f"  master fds {r['master_fds'][0]} -> {r['master_fds'][1]}, router fds other than "
          f"its pooled connections to the apps {r['router_fds'][0]} -> {r['router_fds'][1]}")
    print("  error log lines by level: " + ", ".join(
        f"{k} {v}" for k, v in sorted(r["log_lines_by_level"].items())))
    for line in r["unexpected_log_lines"] + r["sanitizer_lines"]:
        print("    " + line)
    print("  result: " + ("; ".join(r["problems"]) if r["problems"] else "ok"))


if __name__ == "__main__":
    sys.exit(main())
