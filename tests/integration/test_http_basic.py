"""HTTP behaviour of greenc seen from a client: return locations, headers,
keep-alive, pipelining, request bodies, HEAD and the handling of bad input.

Tests marked "BRIEF 6" go beyond the first contract and protect the HTTP
policy of BRIEF section 6.
"""

import email.utils
import http.client
import re
import threading
import time

import pytest

from harness import REQUEST_TIMEOUT, parse_responses, recv_until_close


def test_return_200_serves_literal_body_as_text_plain(shared_greenc):
    r = shared_greenc.get("/healthz")
    assert r.status == 200
    assert r.body == b"ok\n"
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Content-Length"] == "3"


def test_return_and_app_responses_carry_date_and_server_headers(shared_greenc):
    for path in ("/healthz", "/"):
        r = shared_greenc.get(path)
        assert r.status == 200, path
        assert r.headers["Server"].startswith("greenc"), path
        date = email.utils.parsedate_to_datetime(r.headers["Date"])
        assert date.tzinfo is not None and abs(date.timestamp() - time.time()) < 60, path


def test_return_301_sets_location_header(shared_greenc):
    r = shared_greenc.get("/moved")
    assert r.status == 301
    assert r.headers["Location"] == "http://example.com/"


def test_return_410_serves_small_html_error_page(shared_greenc):
    r = shared_greenc.get("/gone")
    assert r.status == 410
    assert r.headers["Content-Type"].startswith("text/html")
    assert b"410" in r.body
    assert len(r.body) < 4096


def test_prefix_location_matches_longer_paths(shared_greenc):
    r = shared_greenc.get("/gone/and/forgotten")
    assert r.status == 410


def test_exact_location_does_not_match_longer_paths(shared_greenc):
    # "= /healthz" is exact: /healthz/x falls through to "location /" (the app).
    r = shared_greenc.get("/healthzx")
    assert r.status == 404
    assert r.body == b"not found in the test app\n"


def test_unmatched_path_is_404(greenc_factory):
    g = greenc_factory(locations=(
        '        location = /healthz { return 200 "ok\\n"; }\n'
        "        location /app/ { pass hello; }\n"))
    g.start()
    r = g.get("/nowhere")
    assert r.status == 404
    assert r.headers["Server"].startswith("greenc")
    assert g.get("/healthz").status == 200


def test_keep_alive_serves_several_requests_on_one_connection(shared_greenc):
    conn = http.client.HTTPConnection("127.0.0.1", shared_greenc.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.connect()
        first_sock = conn.sock
        local = first_sock.getsockname()
        for path, body in (("/healthz", b"ok\n"), ("/", b"Hello, world!\n"),
                           ("/healthz", b"ok\n"), ("/", b"Hello, world!\n")):
            conn.request("GET", path)
            r = conn.getresponse()
            assert r.status == 200
            assert r.read() == body
            assert not r.will_close, "server asked to close a keep-alive connection"
            assert conn.sock is first_sock and conn.sock.getsockname() == local
    finally:
        conn.close()


def test_pipelined_requests_get_responses_in_order(shared_greenc):
    data = (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nsecond"
            b"GET /gone HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    raw = shared_greenc.raw(data)           # all three in one send
    assert raw.closed, "server did not close after Connection: close"
    responses = parse_responses(raw)
    assert [r.status for r in responses] == [200, 200, 410]
    assert responses[0].body == b"ok\n"
    assert responses[1].body == b"second"


def test_content_length_body_reaches_wsgi_input(shared_greenc):
    r = shared_greenc.request("POST", "/echo", body=b"hello body",
                              headers={"Content-Type": "text/plain"})
    assert r.status == 200
    assert r.body == b"hello body"


def test_large_request_body_reaches_the_app_intact(shared_greenc):
    body = bytes(range(256)) * 1024              # 256 KiB, below the default limit
    r = shared_greenc.request("POST", "/echo", body=body)
    assert r.status == 200
    assert len(r.body) == len(body)
    assert r.body == body


def test_empty_post_body_reads_as_empty(shared_greenc):
    r = shared_greenc.request("POST", "/echo", body=b"")
    assert r.status == 200
    assert r.body == b""


def test_head_returns_headers_without_body(shared_greenc):
    # HEAD then GET on one connection: a stray HEAD body would corrupt the GET.
    for path in ("/healthz", "/"):
        raw = shared_greenc.raw(
            f"HEAD {path} HTTP/1.1\r\nHost: localhost\r\n\r\n"
            f"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        head, get = parse_responses(raw, head_only=(0,))
        assert head.status == 200, path
        assert head.headers["Server"].startswith("greenc")
        assert get.status == 200 and get.body == b"ok\n", path


def test_request_sent_in_pieces_is_served(shared_greenc):
    with shared_greenc.connect() as s:
        for piece in (b"GET /heal", b"thz HTTP/1.1\r\nHo", b"st: localhost\r\n",
                      b"Connection: close\r\n", b"\r\n"):
            s.sendall(piece)
            time.sleep(0.05)
        raw = recv_until_close(s)
    (r,) = parse_responses(raw)
    assert r.status == 200 and r.body == b"ok\n"


def test_http10_request_is_answered_then_closed(shared_greenc):
    raw = shared_greenc.raw(b"GET /healthz HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.")
    assert b" 200 " in raw.split(b"\r\n", 1)[0]
    assert raw.endswith(b"ok\n")
    assert raw.closed
    (r,) = parse_responses(raw)
    assert r.body == b"ok\n"


def test_many_concurrent_connections_are_all_served(shared_greenc):
    results = []

    def client():
        try:
            results.append(shared_greenc.get("/").status)
        except OSError as e:
            results.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(REQUEST_TIMEOUT + 5)
    assert results == [200] * 40


def _assert_400_then_closed(raw):
    assert raw.startswith(b"HTTP/1.1 400"), raw[:100]
    assert raw.closed, "server kept the connection open after a 400"
    (r,) = parse_responses(raw)
    assert r.headers["Connection"] == "close"


def test_garbage_request_gets_400_and_close(shared_greenc):
    _assert_400_then_closed(shared_greenc.raw(b"GARBAGE\r\n\r\n"))
    # the next connection is served normally
    assert shared_greenc.get("/healthz").body == b"ok\n"


def test_header_line_without_colon_gets_400_and_close(shared_greenc):
    _assert_400_then_closed(shared_greenc.raw(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nthis line has no colon\r\n\r\n"))
    assert shared_greenc.get("/").status == 200


def test_bad_request_after_good_one_on_same_connection_answers_both(shared_greenc):
    raw = shared_greenc.raw(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                            b"NOT A REQUEST\r\n\r\n")
    assert raw.closed
    first, rest = raw.split(b"ok\n", 1)
    assert first.startswith(b"HTTP/1.1 200")
    assert rest.startswith(b"HTTP/1.1 400")
    assert [r.status for r in parse_responses(raw)] == [200, 400]


# --- BRIEF 6: strict framing --------------------------------------------------


def test_missing_host_on_http11_gets_400(shared_greenc):
    _assert_400_then_closed(shared_greenc.raw(b"GET / HTTP/1.1\r\n\r\n"))


def test_content_length_with_transfer_encoding_gets_400(shared_greenc):
    _assert_400_then_closed(shared_greenc.raw(
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))


def test_whitespace_before_header_colon_gets_400(shared_greenc):
    _assert_400_then_closed(shared_greenc.raw(
        b"GET / HTTP/1.1\r\nHost : localhost\r\n\r\n"))


def test_chunked_request_body_reaches_wsgi_input(shared_greenc):
    raw = shared_greenc.raw(
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n")
    (r,) = parse_responses(raw)
    assert r.status == 200
    assert r.body == b"hello, world"


def test_body_over_client_max_body_size_gets_413(greenc_factory):
    g = greenc_factory(http_extra="client_max_body_size 1k;")
    g.start()
    assert g.request("POST", "/echo", body=b"x" * 1000).body == b"x" * 1000
    r = g.request("POST", "/echo", body=b"x" * 4096)
    assert r.status == 413


def test_request_with_half_close_is_answered_then_closed_at_once(shared_greenc):
    # The client's FIN arrives with its request: after the response the server closes
    # the connection instead of keeping it idle until keepalive_timeout.
    # Connect first and let the server wait on the idle connection, so that request and FIN
    # arrive together as one edge.
    import socket
    from harness import recv_until_close
    with socket.create_connection(("127.0.0.1", shared_greenc.port), timeout=10) as s:
        time.sleep(0.2)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        start = time.monotonic()
        raw = recv_until_close(s, 10)
    assert raw.startswith(b"HTTP/1.1 200")
    assert raw.closed
    assert time.monotonic() - start < 3


def test_parse_responses_fails_on_bytes_that_h11_refuses():
    # The harness's own check (no server): parse_responses would split these, h11 does not.
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert parse_responses(ok)[0].body == b"ok"
    bad = [
        ok.replace(b"Content-Length:", b"Content-Length :"),            # space before colon
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok" + ok,
        ok.replace(b"Content-Length: 2", b"Content-Length: 2\r\nContent-Length: 3"),
    ]
    for data in bad:
        with pytest.raises(AssertionError):
            parse_responses(data)


def test_http10_keep_alive_request_keeps_the_connection_and_says_so(shared_greenc):
    # HTTP/1.0 closes by default; `Connection: keep-alive` asks to keep the connection, and
    # the answer must say `Connection: keep-alive` (an HTTP/1.0 client closes otherwise).
    def complete(data):
        head, sep, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"\r\nContent-Length: (\d+)", head)
        return sep and length and len(body) >= int(length.group(1))

    with shared_greenc.connect() as s:
        for path, body in (("/", b"Hello, world!\n"), ("/healthz", b"ok\n")):
            s.sendall(f"GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode())
            raw = recv_until_close(s, until=complete)
            assert not raw.closed, f"closed after an HTTP/1.0 keep-alive request: {raw!r}"
            (r,) = parse_responses(raw)
            assert r.status == 200 and r.body == body
            assert r.headers["Connection"].lower() == "keep-alive", raw
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")     # no keep-alive: the last one
        raw = recv_until_close(s)
    assert raw.closed
    (r,) = parse_responses(raw)
    assert r.body == b"ok\n" and r.headers["Connection"].lower() != "keep-alive"


def test_options_asterisk_reaches_the_app_with_the_target_as_gunicorn_gives_it(shared_greenc):
    # RFC 9112 3.2.4: OPTIONS * asks about the server itself. It goes to the app (through
    # `location /`), and the environ holds the target as Gunicorn sets it: RAW_URI and
    # PATH_INFO "*" (urlsplit("*").path), an empty SCRIPT_NAME and QUERY_STRING; greenc's
    # REQUEST_URI is the target too.
    raw = shared_greenc.raw(b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    (r,) = parse_responses(raw)
    assert r.status == 200, raw
    assert r.json() == {"REQUEST_URI": "*", "RAW_URI": "*", "SCRIPT_NAME": "", "PATH_INFO": "*",
                        "QUERY_STRING": ""}
