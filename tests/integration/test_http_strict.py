"""BRIEF 6 strictness: each kind of ambiguous or malformed head is refused
with a 4xx and `Connection: close`, the connection closed, one `info` line
naming the client and the reason, and the worker unharmed. Responses are
parsed with h11 (h11_check.py).
"""

import json
import time

import pytest

from h11_check import h11_responses
from harness import recv_until_close

H = b"Host: localhost\r\n"

REFUSED = {
    "cl_with_te": b"POST /echo HTTP/1.1\r\n" + H +
                  b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "cl_with_empty_te": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 10\r\n"
                        b"Transfer-Encoding:\r\n\r\n2\r\nAA\r\n0\r\n\r\n",
    "repeated_cl": b"POST /echo HTTP/1.1\r\n" + H +
                   b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "list_cl": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5, 5\r\n\r\nhello",
    "chunked_not_last": b"POST /echo HTTP/1.1\r\n" + H +
                        b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "chunked_twice": b"POST /echo HTTP/1.1\r\n" + H +
                     b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "chunked_http10": b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\n" + H + b"X-Long: one\r\n two\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n",
    "nul_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: b\x00c\r\n\r\n",
    "ctl_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: b\x01c\r\n\r\n",
    "bare_cr_in_value": b"GET / HTTP/1.1\r\n" + H + b"X-A: b\rc\r\n\r\n",
    "ctl_in_name": b"GET / HTTP/1.1\r\n" + H + b"X\x01A: b\r\n\r\n",
    "empty_name": b"GET / HTTP/1.1\r\n" + H + b": b\r\n\r\n",
    "bad_chunk_size": b"POST /echo HTTP/1.1\r\n" + H +
                      b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk_size_sign": b"POST /echo HTTP/1.1\r\n" + H +
                       b"Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
    "chunk_missing_crlf": b"POST /echo HTTP/1.1\r\n" + H +
                          b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    "missing_host": b"GET / HTTP/1.1\r\n\r\n",
    "repeated_host": b"GET / HTTP/1.1\r\n" + H + H + b"\r\n",
    "invalid_host": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "host_with_slash": b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    "repeated_content_type": b"GET / HTTP/1.1\r\n" + H +
                             b"Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
    "invalid_method": b"G@T / HTTP/1.1\r\n" + H + b"\r\n",
    "lowercase_method": b"brew / HTTP/1.1\r\n" + H + b"\r\n",
    "method_over_32_bytes": b"A" * 33 + b" / HTTP/1.1\r\n" + H + b"\r\n",
    "method_then_tab": b"BREW\t/ HTTP/1.1\r\n" + H + b"\r\n",
    "garbage_version": b"GET / HTTP/x.y\r\n" + H + b"\r\n",
    "version_0x": b"GET / HTTP/0.8\r\n" + H + b"\r\n",
    "fragment": b"GET /a#b HTTP/1.1\r\n" + H + b"\r\n",
    "asterisk_get": b"GET * HTTP/1.1\r\n" + H + b"\r\n",
    "rtsp": b"OPTIONS / RTSP/1.0\r\n" + H + b"\r\n",
    "bad_absolute_port": b"GET http://localhost:8x/ HTTP/1.1\r\n" + H + b"\r\n",
    "forbidden_trailer": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                         b"5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "http2": b"GET / HTTP/2.0\r\n" + H + b"\r\n",
}

EXPECTED_STATUS = {"connect": 405, "http2": 505}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_malformed_request_is_refused_and_closed(shared_greenc, name):
    g = shared_greenc
    before = len(g.log_text())
    raw = g.raw(REFUSED[name], shut_wr=True)
    assert raw.closed, f"connection left open: {raw[:200]!r}"
    (r,) = h11_responses(raw, closed=True)
    assert r.status == EXPECTED_STATUS.get(name, 400), raw[:200]
    assert r.header("connection") == "close"
    # One info line naming the client; nothing at error level (clients' mistakes).
    new = g.log_text()[before:]
    lines = [line for line in new.splitlines() if "127.0.0.1" in line]
    assert any("[info]" in line for line in lines), new
    assert "[error]" not in new and "[crit]" not in new and "[alert]" not in new, new
    assert g.get("/healthz").status == 200      # the worker is unharmed


def test_higher_http1_minor_version_is_served_as_http11(shared_greenc):
    # RFC 9110 2.5: HTTP/1.2 is answered as the highest 1.x the server speaks.
    raw = shared_greenc.raw(b"GET /healthz HTTP/1.2\r\nHost: localhost\r\n"
                            b"Connection: close\r\n\r\n")
    (r,) = h11_responses(raw, closed=raw.closed)
    assert r.status == 200 and r.body == b"ok\n"


def test_trailers_are_dropped_not_merged_into_the_environ(shared_greenc):
    raw = shared_greenc.raw(b"POST /environ HTTP/1.1\r\n" + H +
                            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                            b"5\r\nhello\r\n0\r\nX-Trailer: sneaky\r\n\r\n")
    (r,) = h11_responses(raw, methods=("POST",), closed=raw.closed)
    assert r.status == 200
    assert "HTTP_X_TRAILER" not in json.loads(r.body)["http"]


def test_chunked_body_with_extensions_and_trailers_reaches_the_app(shared_greenc):
    raw = shared_greenc.raw(b"POST /echo HTTP/1.1\r\n" + H +
                            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                            b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n")
    (r,) = h11_responses(raw, methods=("POST",), closed=raw.closed)
    assert r.status == 200 and r.body == b"hello world"


def test_header_value_whitespace_is_trimmed(shared_greenc):
    raw = shared_greenc.raw(b"GET /environ HTTP/1.1\r\n" + H +
                            b"X-Pad: \t value \t \r\nConnection: close\r\n\r\n")
    (r,) = h11_responses(raw, closed=raw.closed)
    assert json.loads(r.body)["http"]["HTTP_X_PAD"] == "value"


def test_underscore_header_names_are_dropped(shared_greenc):
    # X_Forwarded_For and X-Forwarded-For would both be HTTP_X_FORWARDED_FOR.
    raw = shared_greenc.raw(b"GET /environ HTTP/1.1\r\n" + H +
                            b"X_Forged: 1\r\nConnection: close\r\n\r\n")
    (r,) = h11_responses(raw, closed=raw.closed)
    assert "HTTP_X_FORGED" not in json.loads(r.body)["http"]


def test_absolute_form_authority_selects_server_name(shared_greenc):
    raw = shared_greenc.raw(b"GET http://example.org:81/environ?x=1 HTTP/1.1\r\n"
                            b"Host: other\r\nConnection: close\r\n\r\n")
    (r,) = h11_responses(raw, closed=raw.closed)
    env = json.loads(r.body)
    assert r.status == 200
    assert env["PATH_INFO"] == "/environ" and env["QUERY_STRING"] == "x=1"
    assert env["SERVER_NAME"] == "example.org"


def test_a_method_llhttp_does_not_know_reaches_the_app(shared_greenc):
    # RFC 9110 9.1: methods are open. QUERY (with a body), a made-up one pipelined before a
    # GET, and one of 32 bytes (the most nginx takes) all reach the app under their names.
    g = shared_greenc
    raw = g.raw(b"QUERY /environ HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello"
                b"BREW_COFFEE-2 /environ HTTP/1.1\r\n" + H + b"\r\n"
                b"GET /healthz HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    first, second, third = h11_responses(raw, methods=("QUERY", "BREW", "GET"), closed=raw.closed)
    assert json.loads(first.body)["REQUEST_METHOD"] == "QUERY"
    assert json.loads(first.body)["CONTENT_LENGTH"] == "5"
    assert json.loads(second.body)["REQUEST_METHOD"] == "BREW_COFFEE-2"
    assert third.status == 200 and third.body == b"ok\n"
    name = "M" * 32
    raw = g.raw(name.encode() + b" /environ HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    (r,) = h11_responses(raw, closed=raw.closed)
    assert json.loads(r.body)["REQUEST_METHOD"] == name


def test_an_unknown_method_split_across_reads_reaches_the_app(shared_greenc):
    with shared_greenc.connect() as s:
        s.sendall(b"PROPFI")                 # a prefix of PROPFIND, then something else
        time.sleep(0.2)
        s.sendall(b"XX /environ HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        raw = recv_until_close(s)
    (r,) = h11_responses(raw, closed=raw.closed)
    assert json.loads(r.body)["REQUEST_METHOD"] == "PROPFIXX"


def test_options_asterisk_reaches_the_app_at_root(shared_greenc):
    raw = shared_greenc.raw(b"OPTIONS * HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
    (r,) = h11_responses(raw, methods=("OPTIONS",), closed=raw.closed)
    assert r.status < 500 and r.status != 400


def test_upgrade_request_is_served_then_closed(shared_greenc):
    raw = shared_greenc.raw(b"GET /healthz HTTP/1.1\r\n" + H +
                            b"Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"
                            b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n")
    responses = h11_responses(raw, closed=raw.closed)
    assert [r.status for r in responses] == [200]
    assert responses[0].header("connection") == "close"
    assert raw.closed
