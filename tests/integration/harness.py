"""Helpers for greenc's integration tests (the fixtures are in conftest.py).

Every test runs the real binary (GREENC_BIN, default <repo>/objs/greenc) against a
config written into a pytest tmp dir with absolute paths, talks to it over
loopback, and stops it by PID in teardown (TERM, then KILL after a bound).

Waits are bounded and poll instead of sleeping: READY_TIMEOUT is 15 s, or 60 s
when GREENC_SANITIZED=1 (ASan/UBSan builds start slowly).

A test fails if greenc's error log or stderr contains a sanitizer report, and
http_request() (the way most tests talk to greenc) also checks every response's
bytes with h11, a strict HTTP/1.1 parser: a malformed response fails the test.
"""

import contextlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
APPS_SRC = HERE / "apps"

GREENC_BIN = os.environ.get("GREENC_BIN") or str(REPO / "objs" / "greenc")
SANITIZED = os.environ.get("GREENC_SANITIZED") == "1"
SLOW = 4 if SANITIZED else 1

READY_TIMEOUT = 60 if SANITIZED else 15
REQUEST_TIMEOUT = 10 * SLOW
STOP_TIMEOUT = 15 * SLOW

SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "UndefinedBehaviorSanitizer")

# The log gate (conftest.py): a test fails when a server it ran logged a line at one of these
# levels, unless the test names the line with @pytest.mark.allow_log(regex, ...). [emerg]
# counts only after "started, generation" in the same file (a config error at start-up is
# what a test of bad configs is about; after a successful start it means a reload or a worker
# met something it could not handle).
GATED_LINE = re.compile(r"^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d |greenc: )"
                        r"\[(emerg|alert|crit)\] .*$", re.M)
STARTED_LINE = re.compile(r"\[notice\] \d+#\d+: greenc/\S+ started, generation ")


# ---------------------------------------------------------------------------
# small helpers


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    """Poll predicate() until it returns a truthy value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run_greenc(*args, timeout=30 * SLOW, cwd=None):
    """Run greenc to completion (for -t, -T, -v, -s ...); returns CompletedProcess."""
    return subprocess.run([GREENC_BIN, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def _proc_stat(pid):
    """(state, ppid, starttime) of a process from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain ") ".
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def children_of(pid):
    """PIDs of live (non-zombie) processes whose parent is pid."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _proc_stat(entry)
        if st and st[1] == pid and st[0] != "Z":
            kids.append(int(entry))
    return sorted(kids)


def pid_alive(pid):
    st = _proc_stat(pid)
    return st is not None and st[0] != "Z"


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # http.client.HTTPMessage
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:80]!r}>"


class _RecordingReader(io.RawIOBase):
    """What http.client reads from the socket, kept for the h11 check."""

    def __init__(self, sock, record):
        self._sock, self._record = sock, record

    def readable(self):
        return True

    def readinto(self, b):
        n = self._sock.recv_into(b)
        self._record += memoryview(b)[:n]
        return n


class _RecordingSocket:
    def __init__(self, sock):
        self._sock = sock
        self.received = bytearray()

    def makefile(self, mode="rb", *args, **kwargs):
        return io.BufferedReader(_RecordingReader(self._sock, self.received))

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _CheckedConnection(http.client.HTTPConnection):
    def connect(self):
        super().connect()
        self.sock = self.recorder = _RecordingSocket(self.sock)


class CheckedConnection(_CheckedConnection):
    """An http.client.HTTPConnection that keeps the bytes it received: after
    one exchange, check_received(conn, method, response) holds them to h11."""


def check_received(conn, method, response):
    """The bytes conn received must be exactly one response that h11 accepts,
    with the status and body http.client gave (response)."""
    raw = bytes(conn.recorder.received)
    from h11_check import h11_responses           # it imports h11 (python3-h11)
    (checked,) = h11_responses(raw, methods=(method,), closed=True)
    assert checked.status == response.status and checked.body == response.body, raw[:300]


def http_request(port, method="GET", path="/", headers=None, body=None,
                 timeout=REQUEST_TIMEOUT, host="127.0.0.1"):
    """One request on its own connection. The response's bytes must also pass
    h11 (h11_check.py), so that a lenient http.client cannot hide a framing
    mistake."""
    conn = CheckedConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        response = Response(r.status, r.reason, r.headers, r.read())
    finally:
        conn.close()
    check_received(conn, method, response)
    return response


def raw_exchange(port, data, timeout=REQUEST_TIMEOUT, shut_wr=False):
    """Send raw bytes on a fresh connection and read until the server closes
    (or timeout: then whatever arrived is returned and .closed is False)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        return recv_until_close(s, timeout)


class RawResult(bytes):
    closed = False


def recv_until_close(sock, timeout=REQUEST_TIMEOUT, until=None):
    """Read until the server closes or timeout (then .closed is False); with until, also
    stop as soon as until(bytes so far) is true."""
    chunks = []
    deadline = time.monotonic() + timeout
    closed = False
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        chunks.append(chunk)
        if until and until(b"".join(chunks)):
            break
    result = RawResult(b"".join(chunks))
    result.closed = closed
    return result


# ---------------------------------------------------------------------------
# config


def app_block(name="hello", wsgi="app:application", python_path=None, workers=2,
              extra=""):
    lines = [f"app {name} {{",
             f"    wsgi        {wsgi};"]
    if python_path:
        lines.append(f"    python_path {python_path};")
    lines.append(f"    workers     {workers};")
    if extra:
        lines.append("    " + extra.strip())
    lines.append("}")
    return "\n".join(lines)


def default_locations(app="hello"):
    return (
        '        location = /healthz { return 200 "ok\\n"; }\n'
        "        location /moved   { return 301 http://example.com/; }\n"
        "        location /gone    { return 410; }\n"
        f"        location / {{ pass {app}; }}\n"
    )


# ---------------------------------------------------------------------------
# the server under test


class Greenc:
    """One greenc master started from a config in its own directory.

    The config is the suite's template (see BRIEF/contract), with pieces that a
    test can override: main_extra, apps (full app blocks), http_extra,
    locations (the server's body after listen) and extra_servers.
    """

    def __init__(self, workdir, port=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.dir / "greenc.conf"
        self.pid_file = self.dir / "greenc.pid"
        self.error_log = self.dir / "error.log"
        self.apps_dir = self.dir / "apps"
        self.stdout_file = self.dir / "stdout.log"
        self.stderr_file = self.dir / "stderr.log"
        self.proc = None
        self._known_workers = {}        # pid -> starttime, for the teardown kill
        self.gate_mark = (0, 0)         # how far the log gate has read (conftest.py)
        self.install_apps()

    # -- files ------------------------------------------------------------

    def install_apps(self):
        self.apps_dir.mkdir(exist_ok=True)
        for src in APPS_SRC.glob("*.py"):
            shutil.copy(src, self.apps_dir / src.name)

    def config_text(self, *, graceful_timeout="5s", main_extra="", apps=None,
                    http_extra="", locations=None, extra_servers="",
                    error_log_level="info"):
        if apps is None:
            apps = app_block("hello", python_path=self.apps_dir,
                             extra="env         GREETING=hi;")
        if locations is None:
            locations = default_locations()
        return (
            "daemon off;\n"
            f"pid {self.pid_file};\n"
            f"error_log {self.error_log} {error_log_level};\n"
            f"graceful_timeout {graceful_timeout};\n"
            f"{main_extra}\n"
            f"{apps}\n"
            "http {\n"
            "    access_log off;\n"
            f"    {http_extra}\n"
            "    server {\n"
            f"        listen 127.0.0.1:{self.port};\n"
            f"{locations}"
            "    }\n"
            f"{extra_servers}\n"
            "}\n"
        )

    def write_config(self, text=None, **pieces):
        self.conf.write_text(text if text is not None else self.config_text(**pieces))
        return self.conf

    # -- life cycle -------------------------------------------------------

    def start(self, wait=True, ready_path="/healthz", args=(), wrapper=()):
        """Start the master; wrapper is a command that execs the rest (ulimit, unshare):
        the process started is still the master itself."""
        if not self.conf.exists():
            self.write_config()
        assert os.access(GREENC_BIN, os.X_OK), f"greenc binary not found: {GREENC_BIN}"
        self._out = open(self.stdout_file, "ab")
        self._err = open(self.stderr_file, "ab")
        if self not in STARTED:
            STARTED.append(self)
        self.proc = subprocess.Popen([*wrapper, GREENC_BIN, "-c", str(self.conf), *args],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err)
        if wait:
            self.wait_ready(ready_path)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, path="/healthz", timeout=READY_TIMEOUT, port=None):
        """Poll GET path until it answers 200. The master opens the listeners
        before forking, so early connections queue; keep each try short."""
        port = port or self.port
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"greenc exited with {self.proc.returncode} before it was "
                            f"ready\n{self.diagnostics()}")
            try:
                r = http_request(port, "GET", path, timeout=1 * SLOW)
                if r.status == 200:
                    self.remember_workers()
                    return r
                last = r
            except OSError as e:          # refused, reset, timeout
                last = e
            time.sleep(0.05)
        pytest.fail(f"greenc not ready on :{port}{path} after {timeout}s "
                    f"(last: {last!r})\n{self.diagnostics()}")

    def worker_pids(self):
        pids = children_of(self.pid)
        self.remember_workers(pids)
        return pids

    def wait_workers(self, count, timeout=READY_TIMEOUT):
        return wait_for(lambda: (lambda p: p if len(p) == count else None)(self.worker_pids()),
                        timeout, what=f"{count} worker processes")

    def remember_workers(self, pids=None):
        for pid in pids if pids is not None else children_of(self.pid):
            st = _proc_stat(pid)
            if st:
                self._known_workers[pid] = st[2]

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the master to exit; returns its exit status (fails on timeout)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"greenc master {self.pid} still running after {timeout}s\n"
                        f"{self.diagnostics()}")

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Stop the master (sig, then KILL after timeout) and any worker it left
        behind; returns the exit status. Always safe to call."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.remember_workers()
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._kill_leftover_workers()
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f:
                f.close()
        return self.proc.returncode

    def _kill_leftover_workers(self):
        # Workers orphaned by a killed master: kill them by PID, but only if the
        # PID still belongs to the same process (same start time).
        deadline = time.monotonic() + 2
        for pid, started in self._known_workers.items():
            while time.monotonic() < deadline:
                st = _proc_stat(pid)
                if st is None or st[2] != started or st[0] == "Z":
                    break
                time.sleep(0.02)
            else:
                st = _proc_stat(pid)
                if st and st[2] == started:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    # -- observing --------------------------------------------------------

    def log_text(self, path=None):
        try:
            return Path(path or self.error_log).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_text(self):
        try:
            return self.stderr_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=READY_TIMEOUT, path=None):
        return wait_for(lambda: needle in self.log_text(path), timeout,
                        what=f"{needle!r} in {path or self.error_log}")

    def diagnostics(self):
        return (f"--- error log ({self.error_log}) ---\n{self.log_text()[-4000:]}\n"
                f"--- stderr ---\n{self.stderr_text()[-4000:]}")

    def log_marks(self):
        """Where the error log and stderr end now (the gate reads only what follows)."""
        return tuple(_file_size(f) for f in (self.error_log, self.stderr_file))

    def gated_lines(self, marks=(0, 0), allowed=(), ends=None):
        """[alert], [crit] and (after a successful start) [emerg] lines written between
        marks and ends (default: now), except those an allowed regex matches: the log
        gate's findings."""
        found = []
        ends = ends or self.log_marks()
        for (name, path), mark, end in zip((("error log", self.error_log),
                                            ("stderr", self.stderr_file)), marks, ends):
            try:
                with open(path, "rb") as f:
                    text = f.read(end).decode("utf-8", "replace")
            except FileNotFoundError:
                continue
            for m in GATED_LINE.finditer(text):
                if m.start() < mark:
                    continue
                line = m.group(0)
                if m.group(1) == "emerg" and (name == "stderr" or
                                              not STARTED_LINE.search(text, 0, m.start())):
                    continue
                if any(re.search(a, line) for a in allowed):
                    continue
                found.append(f"{name}: {line}")
        return found

    def sanitizer_reports(self):
        found = []
        for name, text in (("error log", self.log_text()), ("stderr", self.stderr_text())):
            for marker in SANITIZER_MARKERS:
                if marker in text:
                    found.append(f"{marker!r} in {name}")
        return found

    # -- talking ----------------------------------------------------------

    def request(self, method="GET", path="/", headers=None, body=None,
                timeout=REQUEST_TIMEOUT, port=None):
        return http_request(port or self.port, method, path, headers, body, timeout)

    def get(self, path="/", **kw):
        return self.request("GET", path, **kw)

    def connect(self, timeout=REQUEST_TIMEOUT, port=None):
        return socket.create_connection(("127.0.0.1", port or self.port), timeout=timeout)

    def raw(self, data, timeout=REQUEST_TIMEOUT, shut_wr=False, port=None):
        return raw_exchange(port or self.port, data, timeout, shut_wr)


def _file_size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def parse_responses(data, head_only=()):
    """Split raw bytes holding one or more HTTP/1.x responses into Response
    objects (Content-Length and chunked bodies; indexes in head_only are
    answers to HEAD and have no body). Trailing incomplete data raises.

    The same bytes must pass h11 (h11_check.py) with the same statuses and
    bodies, read to their end as a closed connection is: a response that
    h11 refuses, or bytes after one that announced a close, fail the test."""
    responses = _split_responses(data, head_only)
    from h11_check import h11_responses           # it imports h11 (python3-h11)
    final = [(i, r) for i, r in enumerate(responses) if r.status >= 200]
    methods = ["HEAD" if i in head_only else "GET" for i, _ in final] or ["GET"]
    checked = h11_responses(bytes(data), methods=methods, closed=True)
    assert [(c.status, c.body) for c in checked] == [(r.status, r.body) for _, r in final], \
        f"h11 reads these bytes differently: {bytes(data)[:600]!r}"
    assert all(c.complete for c in checked), bytes(data)[:600]
    return responses


def _split_responses(data, head_only):
    responses = []
    pos = 0
    while pos < len(data):
        end = data.index(b"\r\n\r\n", pos)
        lines = data[pos:end].decode("latin-1").split("\r\n")
        version, status, *reason = lines[0].split(" ", 2)
        assert version.startswith("HTTP/1."), f"bad status line {lines[0]!r}"
        headers = http.client.HTTPMessage()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        pos = end + 4
        body = b""
        if len(responses) in head_only or int(status) in (204, 304) or \
                100 <= int(status) < 200:
            pass
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            while True:
                eol = data.index(b"\r\n", pos)
                size = int(data[pos:eol].split(b";")[0], 16)
                pos = eol + 2
                if size == 0:
                    pos = data.index(b"\r\n", pos) + 2     # no trailers expected
                    break
                body += data[pos:pos + size]
                pos += size + 2
        elif headers.get("Content-Length") is not None:
            n = int(headers["Content-Length"])
            body = data[pos:pos + n]
            assert len(body) == n, "truncated response body"
            pos += n
        else:                                   # body delimited by close
            body = data[pos:]
            pos = len(data)
        responses.append(Response(int(status), reason[0] if reason else "", headers, body))
    return responses


# ---------------------------------------------------------------------------
# background clients


class InFlight(threading.Thread):
    """GET /sleep?t=seconds in a thread; start_in_flight() returns once the app
    is inside the request (it creates a mark file first)."""

    count = 0

    def __init__(self, g, seconds, timeout):
        super().__init__(daemon=True)
        InFlight.count += 1
        self.mark = g.dir / f"in-flight-{InFlight.count}.mark"
        self.path = f"/sleep?t={seconds}&mark={self.mark}"
        self.g, self.timeout = g, timeout
        self.response = self.error = None

    def run(self):
        try:
            self.response = self.g.get(self.path, timeout=self.timeout)
        except Exception as e:          # noqa: BLE001 - reported by the test
            self.error = e

    def result(self, timeout):
        self.join(timeout)
        assert not self.is_alive(), f"in-flight request still running after {timeout}s"
        return self.response, self.error


def start_in_flight(g, seconds, timeout=None):
    t = InFlight(g, seconds, timeout or seconds + REQUEST_TIMEOUT)
    t.start()
    wait_for(t.mark.exists, READY_TIMEOUT, what="the in-flight request to reach the app")
    return t


class RequestLoop(threading.Thread):
    """Sends `Connection: close` requests back to back until stop() or `limit`
    seconds, recording (monotonic time, status or exception repr)."""

    def __init__(self, g, path="/", limit=5.0, timeout=5.0):
        super().__init__(daemon=True)
        self.g, self.path, self.limit, self.timeout = g, path, limit, timeout
        self.results = []
        self._stop_flag = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.limit
        while not self._stop_flag.is_set() and time.monotonic() < deadline:
            try:
                r = self.g.request("GET", self.path, headers={"Connection": "close"},
                                   timeout=self.timeout)
                self.results.append((time.monotonic(), r.status))
            except Exception as e:      # noqa: BLE001 - reported by the test
                self.results.append((time.monotonic(), repr(e)))
                time.sleep(0.01)

    def stop(self):
        self._stop_flag.set()
        self.join(self.timeout + 2)
        return self.results

    def failures(self):
        return [r for r in self.results if r[1] != 200]


# ---------------------------------------------------------------------------
# servers that live longer than one test

LIVE = []          # every server running now, for the per-test sanitizer check (conftest.py)
STARTED = []       # every server started and not yet checked by the log gate (conftest.py)


@contextlib.contextmanager
def serving(g, allow_log=()):
    """Start g, yield it, stop it by PID; fail if it printed a sanitizer report or, since the
    last test that used it, a line the log gate refuses (allow_log: regexes of lines that
    the module's server is expected to log)."""
    LIVE.append(g)
    try:
        g.start()
        yield g
    finally:
        g.stop()
        LIVE.remove(g)
    reports = g.sanitizer_reports()
    assert not reports, "sanitizer reports: " + "; ".join(reports) + "\n" + g.diagnostics()
    ends = g.log_marks()
    lines = g.gated_lines(g.gate_mark, allow_log, ends)
    g.gate_mark = ends
    if g in STARTED:
        STARTED.remove(g)
    assert not lines, "alert/crit/emerg lines while stopping:\n" + "\n".join(lines)
