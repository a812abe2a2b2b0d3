"""The router group (BRIEF 1, issue 5 "Direct vs router"): a listener shared by
several apps is accepted by C-only router workers, which forward each request to
the chosen app's internal unix socket and relay the answer, streaming both ways.

Two app blocks load apps/router_app.py ("blog" and "api", told apart by APP_ID);
one port serves them by virtual host and by path (with script_name), and a second
port is a direct listener of blog, where the router's forwarding line must be
refused like any other invalid request.
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from harness import (READY_TIMEOUT, REQUEST_TIMEOUT, SLOW, Greenc, children_of, free_port,
                     http_request, parse_responses, pid_alive, recv_until_close, run_greenc,
                     serving, wait_for)

MB = 1 << 20


def router_config(g, direct_port, main_extra="", blog_extra="", extra_apps="",
                  extra_locations=""):
    apps = g.apps_dir
    return f"""
daemon off;
pid {g.pid_file};
error_log {g.error_log} info;
graceful_timeout 10s;
router_workers 2;
{main_extra}
app blog {{ wsgi router_app:application; python_path {apps}; env APP_ID=blog; workers 1;
           {blog_extra} }}
app api  {{ wsgi router_app:application; python_path {apps}; env APP_ID=api; workers 1; }}
{extra_apps}
http {{
    access_log {g.dir}/access.log;
    client_max_body_size 4m;
    client_body_buffer_size 64k;      # the 1 MB upload crosses the router in a temp file
    server {{
        listen 127.0.0.1:{g.port} default_server;
        server_name blog.test;
        location = /healthz {{ return 200 "ok from the router\\n"; }}
        location /api/ {{ pass api; script_name /api; }}
        location /unbuffered/ {{ pass api; script_name /unbuffered; request_buffering off;
                                client_max_body_size 64m; }}
{extra_locations}
        location / {{ pass blog; }}
    }}
    server {{
        listen 127.0.0.1:{g.port};
        server_name api.test;
        location / {{ pass api; }}
    }}
    server {{
        listen 127.0.0.1:{direct_port};
        location = /healthz {{ return 200 "direct\\n"; }}
        location / {{ pass blog; }}
    }}
}}
"""


def make_router(path, **pieces):
    g = Greenc(path)
    g.direct_port = free_port()
    g.write_config(router_config(g, g.direct_port, **pieces))
    return g


def wait_apps(g, names=("blog", "api")):
    """Both apps answer through the router (their workers import after it is up; until
    then requests wait in the app's accept queue)."""
    def ready():
        seen = set()
        for host in ("blog.test", "api.test"):
            try:
                r = g.get("/whoami", headers={"Host": host})
                if r.status == 200:
                    seen.add(r.json()["app"])
            except OSError:
                pass
        return set(names) <= seen
    wait_for(ready, READY_TIMEOUT, interval=0.05, what="both apps behind the router")


def whoami(g, path="/whoami", host="blog.test", port=None, headers=None):
    h = {"Host": host}
    h.update(headers or {})
    r = g.get(path, headers=h, port=port)
    assert r.status == 200, (r.status, r.body[:200], g.diagnostics())
    return r.json()


def pattern(n):
    block = bytes(range(256)) * 64
    return (block * (n // len(block) + 1))[:n]


def router_pids(g):
    """The router workers alive now, from the master's "start worker process" lines."""
    pids = re.findall(r'start worker process (\d+) for group "router"', g.log_text())
    return [int(p) for p in pids if pid_alive(int(p)) and int(p) in children_of(g.pid)]


def has_libpython(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libpython" in f.read()


def internal_sockets(g):
    """The abstract socket names of this server's apps, from /proc/net/unix."""
    h = 0xcbf29ce484222325
    for ch in str(g.pid_file).encode():
        h = ((h ^ ch) * 0x100000001b3) & 0xffffffffffffffff
    prefix = "@greenc-%016x/" % (h or 1)
    with open("/proc/net/unix") as f:
        return sorted({line.split()[-1] for line in f if line.rstrip().split()[-1:] and
                       line.rstrip().split()[-1].startswith(prefix)})


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    g = make_router(tmp_path_factory.mktemp("router"))
    with serving(g):
        wait_apps(g)
        yield g


# --- config --------------------------------------------------------------------------


def test_config_test_accepts_a_listener_shared_by_two_apps(tmp_path):
    g = make_router(tmp_path / "t")
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def test_router_workers_takes_auto_and_refuses_zero(tmp_path):
    g = make_router(tmp_path / "t", main_extra="router_workers auto;")
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode != 0 and '"router_workers" directive is duplicate' in r.stderr
    text = router_config(g, g.direct_port)
    g.conf.write_text(text.replace("router_workers 2;", "router_workers 0;"))
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode != 0
    assert re.search(r'invalid value "0" in "router_workers" directive.* in \S+greenc.conf:\d+',
                     r.stderr), r.stderr
    g.conf.write_text(text.replace("router_workers 2;", "router_workers auto;"))
    assert run_greenc("-t", "-c", g.conf).returncode == 0


# --- routing and the environ ---------------------------------------------------------


def test_virtual_hosts_on_one_port_reach_their_own_apps(routed):
    blog = whoami(routed, host="blog.test")
    api = whoami(routed, host="api.test")
    assert (blog["app"], api["app"]) == ("blog", "api")
    assert blog["pid"] != api["pid"]
    assert whoami(routed, host="unknown.test")["app"] == "blog"      # default_server


def test_path_mount_on_one_server_reaches_the_other_app_with_script_name(routed):
    env = whoami(routed, "/api/whoami?x=1")
    assert env["app"] == "api"
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == \
        ("/api", "/whoami", "x=1")
    env = whoami(routed, "/whoami")
    assert (env["app"], env["SCRIPT_NAME"], env["PATH_INFO"]) == ("blog", "", "/whoami")


def test_environ_carries_the_real_client_and_server(routed):
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(b"GET /api/whoami HTTP/1.1\r\nHost: Blog.Test:%d\r\n"
                  b"Connection: close\r\n\r\n" % routed.port)
        client_port = s.getsockname()[1]
        (r,) = parse_responses(recv_until_close(s))
    env = r.json()
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(client_port)
    assert env["SERVER_NAME"] == "Blog.Test"
    assert env["SERVER_PORT"] == str(routed.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["wsgi.url_scheme"] == "http"
    # Hop-by-hop fields are about the client's connection, not the app's.
    assert "HTTP_CONNECTION" not in env["http"]
    assert env["http"]["HTTP_HOST"] == "Blog.Test:%d" % routed.port


def test_http10_client_is_served_as_http10(routed):
    r = routed.raw(b"GET /whoami HTTP/1.0\r\nHost: blog.test\r\n\r\n")
    assert r.closed
    (resp,) = parse_responses(r)
    assert resp.json()["SERVER_PROTOCOL"] == "HTTP/1.0"


# --- bodies both ways ----------------------------------------------------------------


def test_streaming_response_is_relayed_chunk_by_chunk(routed):
    """The first chunk reaches the client while the app still sleeps before the next."""
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(b"GET /api/stream?n=3&size=5&pause=1.5 HTTP/1.1\r\nHost: blog.test\r\n\r\n")
        start = time.monotonic()
        first = recv_until_close(s, timeout=1.2, until=lambda d: b"00000" in d)
        assert b"00000" in first, first
        assert time.monotonic() - start < 1.2
        assert b"Transfer-Encoding: chunked" in first
        rest = recv_until_close(s, until=lambda d: d.endswith(b"0\r\n\r\n"))
    (resp,) = parse_responses(first + rest)
    assert resp.body == b"00000" + b"11111" + b"22222"
    assert resp.headers["X-App"] == "api"


def test_one_megabyte_response_through_the_router(routed):
    r = http_request(routed.port, "GET", "/big?n=%d" % MB, headers={"Host": "api.test"})
    assert r.status == 200 and r.headers["X-App"] == "api"
    assert r.body == pattern(MB)


def test_file_wrapper_response_through_the_router(routed):
    r = http_request(routed.port, "GET", "/api/file?n=%d" % (MB + 7))
    assert r.status == 200 and int(r.headers["Content-Length"]) == MB + 7
    assert r.body == pattern(MB + 7)


def test_long_streamed_response_through_the_router(routed):
    r = http_request(routed.port, "GET", "/stream?n=300&size=10000")
    assert r.status == 200 and len(r.body) == 3000000
    assert r.body[:10000] == b"0" * 10000 and r.body[-10000:] == b"9" * 10000


def test_one_megabyte_upload_through_the_router(routed):
    body = os.urandom(MB)
    r = http_request(routed.port, "POST", "/api/echo", body=body,
                     headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200 and r.headers["X-App"] == "api"
    assert r.headers["X-Body-Sha256"] == hashlib.sha256(body).hexdigest()
    assert r.body == body


def test_upload_held_in_memory_through_the_router(routed):
    body = os.urandom(40000)
    r = http_request(routed.port, "POST", "/echo", body=body,
                     headers={"Host": "api.test", "Content-Type": "application/octet-stream"})
    assert r.status == 200 and r.headers["X-App"] == "api" and r.body == body


def test_expect_100_continue_is_answered_by_the_router(routed):
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(b"POST /api/echo HTTP/1.1\r\nHost: blog.test\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        interim = recv_until_close(s, until=lambda d: d.endswith(b"\r\n\r\n"))
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        (resp,) = parse_responses(recv_until_close(s))
    assert resp.status == 200 and resp.body == b"hello" and resp.headers["X-App"] == "api"


def test_chunked_upload_reaches_the_app_with_its_length(routed):
    r = routed.raw(b"POST /echo HTTP/1.1\r\nHost: blog.test\r\nTransfer-Encoding: chunked\r\n"
                   b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    (resp,) = parse_responses(r)
    assert resp.status == 200 and resp.body == b"hello world"


def test_head_through_the_router_has_the_length_and_no_body(routed):
    r = routed.raw(b"HEAD /big?n=1000 HTTP/1.1\r\nHost: blog.test\r\n\r\n"
                   b"GET /healthz HTTP/1.1\r\nHost: blog.test\r\nConnection: close\r\n\r\n")
    head, ok = parse_responses(r, head_only=(0,))
    assert head.status == 200 and head.headers["Content-Length"] == "1000"
    assert head.body == b"" and ok.body == b"ok from the router\n"


def test_slow_client_holds_bounded_memory_in_the_router(routed):
    """A client that reads nothing of a 64 MB stream: the router reads from the app only
    as the client drains, so its memory stays put instead of buffering the response."""
    routers = router_pids(routed)
    assert len(routers) == 2
    before = sum(rss_kb(p) for p in routers)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)     # before connect
        s.settimeout(REQUEST_TIMEOUT)
        s.connect(("127.0.0.1", routed.port))
        s.sendall(b"GET /stream?n=1024&size=65536 HTTP/1.1\r\nHost: blog.test\r\n\r\n")
        time.sleep(1.5 * SLOW)
        during = sum(rss_kb(p) for p in routers)
        got = 0
        while got < 1024 * 65536:
            chunk = s.recv(1 << 20)
            assert chunk
            got += len(chunk)
            if chunk.endswith(b"0\r\n\r\n"):
                break
    assert during - before < 8 * 1024, f"router RSS grew {during - before} KB"


# --- request_buffering off: the body streamed through the router ------------------------


def progress(path):
    """The app's /progress log: (totals after each read, the last line's word or None)."""
    try:
        lines = path.read_text().split("\n")
    except FileNotFoundError:
        return [], None
    totals, last = [], None
    for line in filter(None, lines):
        word, *rest = line.split()
        if word in ("end", "short", "error"):
            last = (word, int(rest[0]))
        else:
            totals.append(int(rest[0]))
    return totals, last


def unbuffered_head(log, length=None, wait=0, extra=b""):
    target = "/unbuffered/progress?log=%s&wait=%s" % (log, wait)
    framing = (b"Content-Length: %d\r\n" % length if length is not None
               else b"Transfer-Encoding: chunked\r\n")
    return (b"POST %s HTTP/1.1\r\nHost: blog.test\r\n" % target.encode() + framing + extra
            + b"Content-Type: application/octet-stream\r\n\r\n")


def read_one_response(s):
    data = recv_until_close(s, until=lambda d: b"\r\n\r\n" in d and d.rstrip().endswith(b"}"))
    (resp,) = parse_responses(data)
    return resp


def test_unbuffered_body_reaches_the_app_before_the_client_sent_it_all(routed, tmp_path):
    log = tmp_path / "progress.log"
    body = os.urandom(MB)
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(unbuffered_head(log, len(body)) + body[:half])
        # the app has read the first half while the second is not even sent
        wait_for(lambda: progress(log)[0] and progress(log)[0][-1] >= half, REQUEST_TIMEOUT,
                 what="the app reading the first half")
        totals, last = progress(log)
        assert last is None and totals[-1] == half, (totals, last)
        s.sendall(body[half:])
        resp = read_one_response(s)
    assert resp.status == 200, resp.body
    got = resp.json()
    assert (got["app"], got["total"]) == ("api", len(body))
    assert got["sha256"] == hashlib.sha256(body).hexdigest()
    assert progress(log)[1] == ("end", len(body))


def test_unbuffered_chunked_body_is_streamed_to_the_app(routed, tmp_path):
    log = tmp_path / "progress.log"
    # the app reads 64 KB at a time: the first three chunks make two of its reads
    pieces = [os.urandom(n) for n in (1, 70000, 61071, 100000, 3000, 65536)]
    first, rest = pieces[:3], pieces[3:]
    chunk = lambda p: b"%x\r\n%s\r\n" % (len(p), p)
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(unbuffered_head(log) + b"".join(map(chunk, first)))
        n = sum(map(len, first))
        wait_for(lambda: progress(log)[0] and progress(log)[0][-1] >= n, REQUEST_TIMEOUT,
                 what="the app reading the first chunks")
        assert progress(log)[1] is None
        s.sendall(b"".join(map(chunk, rest)) + b"0\r\n\r\n")
        resp = read_one_response(s)
        body = b"".join(pieces)
        assert resp.status == 200 and resp.json()["total"] == len(body)
        assert resp.json()["sha256"] == hashlib.sha256(body).hexdigest()
        # the connection serves a next request (the body was read to its end)
        s.sendall(b"GET /whoami HTTP/1.1\r\nHost: api.test\r\n\r\n")
        nxt = read_one_response(s)
        assert nxt.status == 200 and nxt.json()["app"] == "api"


def test_unbuffered_client_gone_mid_body_is_a_short_read_for_the_app(routed, tmp_path):
    log = tmp_path / "progress.log"
    routers = sorted(router_pids(routed))
    sent = 5 * 65536                        # whole reads of the app's: it logs each
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(unbuffered_head(log, MB) + os.urandom(sent))
        wait_for(lambda: progress(log)[0] and progress(log)[0][-1] >= sent, REQUEST_TIMEOUT,
                 what="the app reading what was sent")
    word, total = wait_for(lambda: progress(log)[1], REQUEST_TIMEOUT, what="the app's end")
    assert word in ("short", "error") and total == sent
    wait_for(lambda: "client closed the connection in the middle of the request body"
             in routed.log_text(), REQUEST_TIMEOUT, what="the router's log line")
    assert sorted(router_pids(routed)) == routers                # no router worker crashed
    assert whoami(routed, "/unbuffered/whoami")["app"] == "api"


def test_unbuffered_small_bodies_sent_with_their_heads_keep_alive(routed, tmp_path):
    """Each body is whole by the end of its head, so no later client event pushes it on: it
    must go out with the head, on a fresh app connection or a pooled one."""
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        for i, chunked in enumerate((False, True, False, True)):
            log = tmp_path / ("small%d.log" % i)
            body = b"small body %d" % i
            if chunked:
                s.sendall(unbuffered_head(log) + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            else:
                s.sendall(unbuffered_head(log, len(body)) + body)
            resp = read_one_response(s)
            assert resp.status == 200, resp.body
            assert resp.json()["total"] == len(body), i
            assert resp.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_unbuffered_invalid_chunk_mid_body_is_a_400_and_a_failed_read(routed, tmp_path):
    log = tmp_path / "progress.log"
    routers = sorted(router_pids(routed))
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(unbuffered_head(log) + b"10000\r\n" + os.urandom(65536) + b"\r\n")
        wait_for(lambda: progress(log)[0] == [65536], REQUEST_TIMEOUT,
                 what="the app reading the first chunk")
        s.sendall(b"zz\r\nnot a chunk\r\n")
        data = recv_until_close(s)
    (resp,) = parse_responses(data)
    assert resp.status == 400
    word, total = wait_for(lambda: progress(log)[1], REQUEST_TIMEOUT, what="the app's end")
    assert word in ("short", "error") and total == 65536
    assert sorted(router_pids(routed)) == routers
    assert whoami(routed, "/unbuffered/whoami")["app"] == "api"


def test_unbuffered_expect_100_continue_is_answered_by_the_router(routed, tmp_path):
    log = tmp_path / "progress.log"
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(unbuffered_head(log, 5, extra=b"Expect: 100-continue\r\n"))
        interim = recv_until_close(s, until=lambda d: d.endswith(b"\r\n\r\n"))
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        resp = read_one_response(s)
    assert resp.status == 200 and resp.json()["total"] == 5
    assert resp.json()["sha256"] == hashlib.sha256(b"hello").hexdigest()


def test_unbuffered_app_that_answers_without_reading_closes_the_client_after(routed):
    """/whoami never reads wsgi.input: its answer ends the request, and the connection, whose
    unread body cannot be skipped."""
    routers = sorted(router_pids(routed))
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        s.sendall(b"POST /unbuffered/whoami HTTP/1.1\r\nHost: blog.test\r\n"
                  b"Content-Length: %d\r\n\r\n" % MB + b"x" * 1000)
        data = recv_until_close(s)
    (resp,) = parse_responses(data)
    assert resp.status == 200 and resp.json()["app"] == "api"
    assert resp.headers["Connection"] == "close"
    assert sorted(router_pids(routed)) == routers
    assert whoami(routed, "/unbuffered/whoami")["app"] == "api"


def test_unbuffered_20mb_body_holds_bounded_memory_in_the_router(routed, tmp_path):
    """The app sleeps before it reads: without backpressure the router would hold the body."""
    log = tmp_path / "progress.log"
    size = 20 * MB
    body = pattern(size)
    routers = router_pids(routed)
    before = sum(rss_kb(p) for p in routers)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], sum(rss_kb(p) for p in routers))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with socket.create_connection(("127.0.0.1", routed.port),
                                      timeout=REQUEST_TIMEOUT * 3) as s:
            s.sendall(unbuffered_head(log, size, wait=1.5 * SLOW))
            view = memoryview(body)
            for i in range(0, size, MB):
                s.sendall(view[i:i + MB])
            resp = read_one_response(s)
    finally:
        done.set()
        sampler.join()
    assert resp.status == 200 and resp.json()["total"] == size
    assert resp.json()["sha256"] == hashlib.sha256(body).hexdigest()
    assert peak[0] - before < 4 * 1024, f"router RSS grew {peak[0] - before} KB"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


# --- connections ---------------------------------------------------------------------


def test_keepalive_connection_alternates_between_apps(routed):
    with socket.create_connection(("127.0.0.1", routed.port), timeout=REQUEST_TIMEOUT) as s:
        seen = []
        for host in ("blog.test", "api.test", "blog.test", "api.test"):
            s.sendall(b"GET /whoami HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
            data = recv_until_close(s, until=lambda d: d.endswith(b"}"))
            (resp,) = parse_responses(data)
            assert "Connection" not in resp.headers
            seen.append(resp.json()["app"])
        assert seen == ["blog", "api", "blog", "api"]


def test_pipelined_requests_to_two_apps_come_back_in_order(routed):
    r = routed.raw(b"GET /whoami HTTP/1.1\r\nHost: api.test\r\n\r\n"
                   b"GET /whoami HTTP/1.1\r\nHost: blog.test\r\n\r\n"
                   b"GET /api/big?n=100000 HTTP/1.1\r\nHost: blog.test\r\n\r\n"
                   b"GET /healthz HTTP/1.1\r\nHost: blog.test\r\n\r\n"
                   b"GET /whoami HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
    assert r.closed
    a, b, big, ok, c = parse_responses(r)
    assert (a.json()["app"], b.json()["app"], c.json()["app"]) == ("api", "blog", "api")
    assert big.body == pattern(100000) and big.headers["X-App"] == "api"
    assert ok.body == b"ok from the router\n"


def test_access_log_has_one_line_per_forwarded_request(routed):
    log = routed.dir / "access.log"
    marker = "/whoami?once=%d" % time.monotonic_ns()
    assert whoami(routed, marker, host="api.test")["app"] == "api"
    wait_for(lambda: marker in log.read_text(), 5, what="the access log line")
    time.sleep(0.2)
    assert log.read_text().count(marker) == 1


# --- trust ---------------------------------------------------------------------------


FORGED = (b"GRNF/1 0000000000000001 0 0 1 10.9.8.7 4242 443 evil.test\r\n"
          b"GET /whoami HTTP/1.1\r\nHost: blog.test\r\nConnection: close\r\n\r\n")


def test_forged_forwarding_line_on_a_direct_listener_is_a_bad_request(routed):
    assert routed.get("/healthz", port=routed.direct_port).body == b"direct\n"
    r = routed.raw(FORGED, port=routed.direct_port)
    assert r.startswith(b"HTTP/1.1 400 "), r[:200]
    assert b"10.9.8.7" not in r


def test_forged_forwarding_line_on_the_router_listener_is_a_bad_request(routed):
    r = routed.raw(FORGED)
    assert r.startswith(b"HTTP/1.1 400 "), r[:200]


def test_internal_socket_wants_the_forwarding_line(routed):
    """Even from the router's own user, a request without the forwarding line is a 400."""
    names = internal_sockets(routed)
    assert [n.rsplit("/", 1)[1] for n in names] == ["api", "blog"], names
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(REQUEST_TIMEOUT)
        s.connect("\0" + names[0][1:])
        s.sendall(b"GET /whoami HTTP/1.1\r\nHost: api.test\r\n\r\n")
        data = recv_until_close(s)
    assert data.startswith(b"HTTP/1.1 400 "), data[:200]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_internal_socket_closes_on_a_peer_that_is_not_the_router(routed):
    """An abstract socket has no file permissions: app workers check the peer's uid and
    close on anyone but the router's user (root here) without reading a byte."""
    name = internal_sockets(routed)[0]
    script = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)\n"
        f"s.connect({chr(0) + name[1:]!r})\n"
        "try:\n"
        f"    s.sendall({FORGED!r})\n"
        "    data = s.recv(100)\n"
        "except (ConnectionResetError, BrokenPipeError):\n"
        "    data = b''\n"
        "sys.stdout.write(repr(data))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=REQUEST_TIMEOUT, preexec_fn=lambda: os.setuid(65534))
    assert out.returncode == 0, out.stderr
    assert out.stdout == "b''", out.stdout
    routed.wait_log("which only the router (uid 0) may use; closed", timeout=5)


# --- processes -----------------------------------------------------------------------


def test_router_processes_have_no_python_mapped(routed):
    workers = children_of(routed.pid)
    python = [p for p in workers if has_libpython(p)]
    c_only = [p for p in workers if not has_libpython(p)]
    assert len(python) == 2, "one worker per app embeds Python"
    assert len(c_only) == 2, f"router_workers 2: {len(c_only)} processes without Python"
    assert not has_libpython(routed.pid), "the master maps libpython"


# --- failures ------------------------------------------------------------------------


def test_app_that_cannot_boot_gets_502_and_an_error_line(greenc_factory, tmp_path):
    g = make_router(tmp_path / "broken",
                    extra_apps=("app broken { wsgi broken_app:application; "
                                f"python_path {tmp_path / 'broken' / 'apps'}; workers 1; }}"),
                    extra_locations="        location /broken/ { pass broken; }\n")
    with serving(g):
        wait_apps(g)
        g.wait_log("failed to boot")
        r = g.get("/broken/x", headers={"Host": "blog.test"})
        assert r.status == 502
        g.wait_log('app "broken" is down (its workers fail to boot); answering 502', timeout=5)
        assert re.search(r'\[error\].*app "broken"', g.log_text())
        assert whoami(g)["app"] == "blog"          # the others are unaffected


def test_app_request_over_its_timeout_gets_504(greenc_factory, tmp_path):
    g = make_router(tmp_path / "slow", blog_extra="timeout 1s;")
    with serving(g):
        wait_apps(g)
        start = time.monotonic()
        r = g.get("/sleep?t=4", headers={"Host": "blog.test"}, timeout=10 * SLOW)
        assert r.status == 504
        assert time.monotonic() - start < 3.5 * SLOW
        assert re.search(r'\[error\].*app "blog" did not answer within its timeout',
                         g.log_text())
        wait_apps(g)                               # the app's worker is replaced


def test_reload_with_the_router_loses_no_request(greenc_factory, tmp_path):
    g = make_router(tmp_path / "reload")
    with serving(g):
        wait_apps(g)
        old = set(children_of(g.pid))
        failures, done = [], []
        stop = threading.Event()

        def hammer(host, keepalive):
            while not stop.is_set():
                try:
                    headers = {"Host": host}
                    if not keepalive:
                        headers["Connection"] = "close"
                    r = http_request(g.port, "GET", "/whoami", headers=headers,
                                     timeout=REQUEST_TIMEOUT)
                    (done if r.status == 200 else failures).append(r.status)
                except Exception as e:      # noqa: BLE001 - reported below
                    failures.append(repr(e))

        threads = [threading.Thread(target=hammer, args=(h, k), daemon=True)
                   for h in ("blog.test", "api.test") for k in (True, False)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        g.send_signal(signal.SIGHUP)
        wait_for(lambda: not any(pid_alive(p) for p in old), READY_TIMEOUT,
                 what="the old generation's workers to exit")
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(REQUEST_TIMEOUT + 2)
        assert done, "no request completed during the reload"
        assert failures == [], f"{len(failures)} failed of {len(done) + len(failures)}: " \
                               f"{failures[:5]}"
        assert {whoami(g)["app"], whoami(g, host="api.test")["app"]} == {"blog", "api"}


def test_graceful_stop_lets_a_forwarded_request_finish(greenc_factory, tmp_path):
    g = make_router(tmp_path / "quit")
    with serving(g):
        wait_apps(g)
        result = {}

        def slow():
            result["r"] = g.get("/api/sleep?t=1.5", headers={"Host": "blog.test"},
                                timeout=10 * SLOW)

        assert len(internal_sockets(g)) == 2      # one per app, while serving
        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)
        g.send_signal(signal.SIGQUIT)
        t.join(10 * SLOW)
        assert result["r"].status == 200 and result["r"].body == b"slept\n"
        assert g.wait_exit() == 0
        assert internal_sockets(g) == [], "internal sockets outlived the server"
