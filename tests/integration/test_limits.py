"""Limits and timeouts of the http block (BRIEF sections 4 and 6): header
buffer limits (414/431), keepalive_requests, and the header, body and
keep-alive timeouts that protect workers from slow or idle clients."""

import http.client
import time

import pytest

from harness import REQUEST_TIMEOUT, SLOW, Greenc, recv_until_close


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    g = Greenc(tmp_path_factory.mktemp("limits"))
    g.write_config(http_extra=("large_client_header_buffers 4 1k;\n"
                               "    keepalive_requests 3;\n"
                               "    client_header_timeout 1s;\n"
                               "    client_body_timeout 1s;\n"
                               "    keepalive_timeout 1s;"))
    try:
        g.start()
        yield g
    finally:
        g.stop()
    assert not g.sanitizer_reports(), g.diagnostics()


def test_request_line_longer_than_buffer_gets_414(limited):
    raw = limited.raw(b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 414"), raw[:80]
    assert raw.closed


def test_header_field_longer_than_buffer_gets_431(limited):
    raw = limited.raw(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 2000 +
                      b"\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 431"), raw[:80]
    assert raw.closed


def test_head_over_one_buffer_with_every_line_within_it_is_served(limited):
    # nginx semantics of "large_client_header_buffers 4 1k": each line must fit
    # in 1k, the whole head in 4 x 1k. Three ~510-byte fields: ~1.7k in all.
    headers = {f"X-H{i}": "v" * 500 for i in range(3)}
    assert limited.get("/", headers=headers).status == 200


def test_keepalive_requests_closes_after_the_last_allowed_request(limited):
    conn = http.client.HTTPConnection("127.0.0.1", limited.port, timeout=REQUEST_TIMEOUT)
    try:
        closes = []
        for _ in range(3):
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            assert r.read() == b"ok\n"
            closes.append(r.will_close)
        assert closes == [False, False, True]
        assert r.getheader("Connection", "").lower() == "close"
    finally:
        conn.close()


def _closed_within(sock, seconds):
    start = time.monotonic()
    data = recv_until_close(sock, seconds)
    return data, time.monotonic() - start


@pytest.mark.parametrize("partial", [
    b"GET / HTTP/1.1\r\nHost: local",                           # slow header
    b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc",  # slow body
], ids=["client_header_timeout", "client_body_timeout"])
def test_slow_client_is_timed_out(limited, partial):
    with limited.connect() as s:
        s.sendall(partial)
        data, elapsed = _closed_within(s, 6 * SLOW)
    assert data.closed, "server kept a stalled connection open past its timeout"
    assert elapsed < 5 * SLOW
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:80]
    assert limited.get("/healthz").status == 200


def test_idle_keep_alive_connection_is_closed_after_keepalive_timeout(limited):
    with limited.connect() as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data, elapsed = _closed_within(s, 6 * SLOW)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"ok\n")
    assert data.closed and elapsed < 5 * SLOW
