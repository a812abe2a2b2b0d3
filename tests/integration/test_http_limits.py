"""Request limits and timeouts over real sockets (issue 3): 414, 431 (size
and count), 413 before a declared body is read (no 100 Continue) and in the
middle of a chunked one, 408 for slow heads and bodies, the keep-alive
timeout and keepalive_requests. Every response is checked with h11.
"""

import http.client
import socket
import time

import pytest

from h11_check import h11_responses
from harness import REQUEST_TIMEOUT, SLOW, Greenc, app_block, recv_until_close, serving

H = b"Host: localhost\r\n"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    g = Greenc(tmp_path_factory.mktemp("http-limits"))
    g.write_config(http_extra=("large_client_header_buffers 4 1k;\n"
                               "    client_max_body_size 1k;\n"
                               "    keepalive_requests 3;\n"
                               f"    client_header_timeout {1 * SLOW}s;\n"
                               f"    client_body_timeout {1 * SLOW}s;\n"
                               f"    keepalive_timeout {1 * SLOW}s;"))
    with serving(g):
        yield g


def refused(raw, status):
    assert raw.closed, f"connection left open: {raw[:200]!r}"
    (r,) = h11_responses(raw, closed=True)
    assert r.status == status, raw[:200]
    assert r.header("connection") == "close"
    return r


def test_request_line_too_long_is_414(limited):
    refused(limited.raw(b"GET /" + b"a" * 1500 + b" HTTP/1.1\r\n" + H + b"\r\n"), 414)


def test_request_line_longer_than_a_buffer_after_growth_is_414(limited):
    # Sent in two pieces so that the first fills less than a buffer.
    with limited.connect() as s:
        s.sendall(b"GET /" + b"a" * 800)
        time.sleep(0.1)
        s.sendall(b"a" * 800 + b" HTTP/1.1\r\n" + H + b"\r\n")
        refused(recv_until_close(s), 414)


def test_header_line_too_long_is_431(limited):
    refused(limited.raw(b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"b" * 1500 + b"\r\n\r\n"),
            431)


def test_header_line_over_a_buffer_inside_a_grown_head_is_431(limited):
    # The first lines fill most of one buffer, then one line of 1.2k: the head
    # grows (4 x 1k) but no line may be longer than one buffer.
    head = b"GET / HTTP/1.1\r\n" + H + b"X-A: " + b"a" * 700 + b"\r\n"
    refused(limited.raw(head + b"X-Big: " + b"b" * 1200 + b"\r\n\r\n"), 431)


def test_head_over_one_buffer_with_every_line_within_it_is_served(limited):
    # nginx semantics of "large_client_header_buffers 4 1k": each line must fit in 1k, the
    # whole head in 4 x 1k. Three ~510-byte fields: ~1.7k in all.
    headers = {f"X-H{i}": "v" * 500 for i in range(3)}
    assert limited.get("/", headers=headers).status == 200


def test_whole_head_over_all_buffers_is_431(limited):
    lines = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 900) for i in range(6))
    refused(limited.raw(b"GET / HTTP/1.1\r\n" + H + lines + b"\r\n"), 431)


def test_more_than_100_header_fields_is_431(greenc):
    lines = b"".join(b"X-%d: v\r\n" % i for i in range(100))
    refused(greenc.raw(b"GET / HTTP/1.1\r\n" + H + lines + b"\r\n"), 431)
    # exactly 100 fields (Host, Connection and 98 more) are served
    lines = b"".join(b"X-%d: v\r\n" % i for i in range(98))
    raw = greenc.raw(b"GET /healthz HTTP/1.1\r\n" + H + lines + b"Connection: close\r\n\r\n")
    (r,) = h11_responses(raw, closed=raw.closed)
    assert r.status == 200


def test_limit_request_fields_counts_header_and_trailer_fields(greenc_factory):
    g = greenc_factory(http_extra="limit_request_fields 4;").start()
    five = b"GET /healthz HTTP/1.1\r\n" + H + b"A: 1\r\nB: 2\r\nC: 3\r\nConnection: close\r\n\r\n"
    refused(g.raw(five), 431)
    four = b"GET /healthz HTTP/1.1\r\n" + H + b"A: 1\r\nB: 2\r\nConnection: close\r\n\r\n"
    raw = g.raw(four)
    (r,) = h11_responses(raw, closed=raw.closed)
    assert r.status == 200
    # Trailer fields count too: three fields in the head, two in the trailer.
    chunked = (b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n1\r\nx\r\n0\r\nT1: a\r\nT2: b\r\n\r\n")
    refused(g.raw(chunked), 431)
    g.wait_log("client sent too many header fields; answering 431")


def test_declared_body_over_limit_is_413_without_100_continue(limited):
    with limited.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5000\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        raw = recv_until_close(s)
    assert b"100 Continue" not in raw
    refused(raw, 413)


def test_body_within_limit_with_expect_gets_100_then_200(limited):
    with limited.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        s.settimeout(REQUEST_TIMEOUT)
        first = s.recv(1024)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), first
        s.sendall(b"hello")
        raw = first + recv_until_close(s)
    (r,) = h11_responses(raw, methods=("POST",), closed=True)
    assert r.interim == [100] and r.status == 200 and r.body == b"hello"


def test_chunked_body_over_limit_is_413_mid_stream(limited):
    with limited.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n")
        s.sendall(b"200\r\n" + b"x" * 0x200 + b"\r\n")
        time.sleep(0.1)
        try:
            s.sendall(b"400\r\n" + b"y" * 0x400 + b"\r\n0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        refused(recv_until_close(s), 413)


def test_slow_head_gets_408_then_close(limited):
    before = len(limited.log_text())
    with limited.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\n" + H)
        t0 = time.monotonic()
        raw = recv_until_close(s, timeout=5 * SLOW)
    assert time.monotonic() - t0 < 4 * SLOW
    refused(raw, 408)
    assert "timed out" in limited.log_text()[before:]


def test_slow_body_gets_408_then_close(limited):
    with limited.connect() as s:
        s.sendall(b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n\r\nabc")
        raw = recv_until_close(s, timeout=5 * SLOW)
    refused(raw, 408)


def test_idle_keepalive_connection_is_closed_after_keepalive_timeout(limited):
    with limited.connect() as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n")
        t0 = time.monotonic()
        raw = recv_until_close(s, timeout=5 * SLOW)
        elapsed = time.monotonic() - t0
    assert raw.closed
    (r,) = h11_responses(raw, closed=True)
    assert r.status == 200
    assert 0.5 * SLOW <= elapsed < 4 * SLOW, elapsed


def test_keepalive_requests_last_response_says_close(limited):
    conn = http.client.HTTPConnection("127.0.0.1", limited.port, timeout=REQUEST_TIMEOUT)
    try:
        headers = []
        for _ in range(3):
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            headers.append(r.getheader("Connection", ""))
        assert [h.lower() for h in headers] == ["keep-alive", "keep-alive", "close"] or \
            [h.lower() for h in headers][2] == "close"
    finally:
        conn.close()


def test_keepalive_requests_pipelined_nth_response_closes(limited):
    one = b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n"
    with limited.connect() as s:
        s.sendall(one * 4)
        raw = recv_until_close(s)
    responses = h11_responses(raw, closed=raw.closed)
    assert [r.status for r in responses] == [200, 200, 200]
    assert responses[2].header("connection") == "close"
    assert raw.closed


def test_refused_connection_does_not_hurt_the_next_one(limited):
    refused(limited.raw(b"GET /" + b"a" * 1500 + b" HTTP/1.1\r\n" + H + b"\r\n"), 414)
    sock = socket.create_connection(("127.0.0.1", limited.port), timeout=REQUEST_TIMEOUT)
    with sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        raw = recv_until_close(sock)
    (r,) = h11_responses(raw, closed=True)
    assert r.status == 200


def test_client_that_stops_reading_is_closed_after_send_timeout(greenc_factory):
    g = greenc_factory(http_extra=f"send_timeout {1 * SLOW}s;")
    g.start()
    with g.connect() as s:
        s.sendall(b"GET /big?mb=64 HTTP/1.1\r\n" + H + b"\r\n")
        # Read nothing: the response fills the socket buffers and stalls.
        g.wait_log("timed out reading the response", timeout=10 * SLOW)
        got = recv_until_close(s, timeout=20 * SLOW)
    assert got.closed and len(got) < 64 << 20      # cut short, then closed
    assert got.startswith(b"HTTP/1.1 200 OK\r\n")
    assert g.get("/").status == 200                # the worker serves on


def test_worker_connections_limit_queues_the_next_connection(greenc_factory):
    g = greenc_factory()
    g.write_config(main_extra="worker_connections 16;",
                   apps=f"app hello {{\n    wsgi app:application;\n"
                        f"    python_path {g.apps_dir};\n    workers 1;\n}}\n")
    g.start()
    held = [g.connect() for _ in range(16)]        # the worker's 16 connections, idle
    try:
        for s in held:
            s.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
            s.settimeout(REQUEST_TIMEOUT)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        with g.connect() as extra:                  # queued in the listen backlog
            extra.sendall(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
            extra.settimeout(0.5 * SLOW)
            with pytest.raises(socket.timeout):
                extra.recv(4096)
            held.pop().close()                      # a slot frees: it is served
            raw = recv_until_close(extra)
        (r,) = h11_responses(raw, closed=True)
        assert r.status == 200
        assert "[crit]" not in g.log_text() and "[alert]" not in g.log_text()
    finally:
        for s in held:
            s.close()


def test_client_that_stops_reading_holds_no_python_thread(greenc_factory):
    # One worker with one thread: if writing a response blocked the thread that runs Python,
    # a reader that stalls would stop the whole app. The response is a generator of 1 MiB
    # chunks, pulled only as the socket drains.
    g = greenc_factory()
    g.write_config(apps=app_block(python_path=g.apps_dir, workers=1, extra="threads 1;"))
    g.start()
    with g.connect() as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        stalled.sendall(b"GET /big?mb=64 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        stalled.settimeout(REQUEST_TIMEOUT)
        first = stalled.recv(64)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n"), first
        timings = []
        for _ in range(5):                          # then read nothing more
            t0 = time.monotonic()
            r = g.get("/", headers={"Connection": "close"}, timeout=5 * SLOW)
            timings.append(time.monotonic() - t0)
            assert r.status == 200 and r.body == b"Hello, world!\n"
        assert max(timings) < 0.3 * SLOW, f"requests beside a stalled reader took {timings}"
        # The stalled response was only paused: all of it comes once the client reads.
        rest = recv_until_close(stalled, timeout=30 * SLOW)
    assert rest.closed
    head, _, body = (first + rest).partition(b"\r\n\r\n")
    assert b"\r\nContent-Length: 67108864" in head
    assert len(body) == 64 << 20 and body.count(b"x") == len(body)


@pytest.mark.allow_log(r'\[crit\] .*accept4\(\) on .* failed; pausing accepts for \d+ms '
                        r'\(24: Too many open files\)')
def test_out_of_descriptors_pauses_accepting_then_recovers(greenc_factory):
    # limit_nofile 64 for the app's one worker, then ~80 idle connections: accept4() fails
    # with EMFILE. The worker must log it, pause accepting (the rest wait in the backlog)
    # rather than spin or die, and serve again once connections close.
    g = greenc_factory()
    g.write_config(apps=app_block(python_path=g.apps_dir, workers=1, extra="limit_nofile 64;"))
    g.start()
    [worker] = g.wait_workers(1)
    held = []
    try:
        for _ in range(80):
            held.append(g.connect())
        g.wait_log("pausing accepts", timeout=5 * SLOW)
        paused_at = time.monotonic()
        line = next(x for x in g.log_text().splitlines() if "pausing accepts" in x)
        assert "[crit]" in line and f"{worker}#" in line, line
        assert "Too many open files" in line, line
        # An accepted connection is still served while the worker pauses.
        s = held[0]
        s.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        s.settimeout(REQUEST_TIMEOUT)
        assert s.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        for s in held:
            s.close()
    # The pause is a timer, not a busy retry: about one line per second of EMFILE.
    t0 = time.monotonic()
    r = g.get("/", headers={"Connection": "close"}, timeout=10 * SLOW)
    assert r.status == 200 and r.body == b"Hello, world!\n"
    assert time.monotonic() - t0 < 3 * SLOW
    pauses = g.log_text().count("pausing accepts")
    assert pauses <= 2 + 2 * (time.monotonic() - paused_at), f"{pauses} pauses: spinning"
    assert g.worker_pids() == [worker], "the worker was replaced"
