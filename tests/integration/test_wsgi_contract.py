"""The WSGI contract (BRIEF section 5, issue 4) over real sockets, against
apps/frameworks/contract_app.py, plain and wrapped in wsgiref.validate.validator
and Werkzeug's LintMiddleware.

One greenc (app "contract", 2 workers) serves the whole module. The app turns
warnings into errors and appends every validator complaint to a problems file;
`contract.problems()` returns what a test added to it, and the validator tests
assert it is empty.
"""

import hashlib
import http.client
import io
import json
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from harness import (HERE, REQUEST_TIMEOUT, SLOW, CheckedConnection, Greenc, Response, app_block,
                     check_received, parse_responses, recv_until_close, serving, wait_for)

FRAMEWORK_APPS = HERE / "apps" / "frameworks"



class Contract:
    def __init__(self, g, marks, problems_file):
        self.g, self.marks, self.problems_file = g, marks, problems_file
        self._problems_seen = 0

    def problems(self):
        """What the validators complained about since the last call."""
        try:
            text = self.problems_file.read_text()
        except FileNotFoundError:
            text = ""
        new, self._problems_seen = text[self._problems_seen:], len(text)
        return new

    def mark(self, name):
        try:
            return (self.marks / name).read_text()
        except FileNotFoundError:
            return ""

    def log_since(self, offset):
        return self.g.log_text()[offset:]


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    base = tmp_path_factory.mktemp("contract")
    code = base / "code"
    shutil.copytree(FRAMEWORK_APPS, code, ignore=shutil.ignore_patterns("__pycache__"))
    marks = base / "marks"
    marks.mkdir()
    problems = base / "problems.txt"
    g = Greenc(base / "srv")
    g.write_config(
        apps=app_block("contract", wsgi="contract_app:application", python_path=code,
                       workers=2,
                       extra=f"env GREENC_PROBLEMS={problems}; env GREENC_MARKS={marks};"),
        locations=('        location = /healthz { return 200 "ok\\n"; }\n'
                   "        location /api/ { pass contract; script_name /api; }\n"
                   "        location /streamed/ { pass contract; script_name /streamed;"
                   " request_buffering off; }\n"
                   "        location /spooled/ { pass contract; script_name /spooled;"
                   " client_body_buffer_size 1k; }\n"
                   "        location / { pass contract; }\n"))
    with serving(g):
        yield Contract(g, marks, problems)


def request(contract, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT):
    """Like Greenc.request, but a generator body goes out chunked (encode_chunked).
    The response's bytes must pass h11 too (harness.check_received)."""
    headers = dict(headers or {})
    chunked = body is not None and not isinstance(body, (bytes, str))
    if chunked:
        headers.setdefault("Transfer-Encoding", "chunked")
    conn = CheckedConnection("127.0.0.1", contract.g.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers, encode_chunked=chunked)
        r = conn.getresponse()
        response = Response(r.status, r.reason, r.headers, r.read())
    finally:
        conn.close()
    check_received(conn, method, response)
    return response


def environ_of(contract, path="/environ", **kw):
    r = request(contract, kw.pop("method", "GET"), path, **kw)
    assert r.status == 200, r
    return r.json()


_mark_seq = [0]


def new_mark(prefix="m"):
    _mark_seq[0] += 1
    return f"{prefix}-{os.getpid()}-{_mark_seq[0]}"


def raw_get(contract, target, method="GET", extra=b"", body=b""):
    data = (f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + extra +
            b"Connection: close\r\n\r\n" + body)
    return contract.g.raw(data)


# ---------------------------------------------------------------------------
# environ


def test_environ_is_a_plain_dict_with_pep3333_types(contract):
    e = environ_of(contract, "/environ", method="POST", body=b"abc",
                   headers={"Content-Type": "text/plain"})
    assert e["environ_type"] == "dict"
    non_str = {k: t for k, t in e["types"].items() if "." not in k and t != "str"}
    assert non_str == {}
    cgi = e["cgi"]
    assert cgi["REQUEST_METHOD"] == "POST"
    assert cgi["SERVER_PORT"] == str(contract.g.port)
    assert cgi["SERVER_NAME"] == "127.0.0.1"
    assert cgi["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert cgi["REMOTE_ADDR"] == "127.0.0.1"
    assert cgi["REMOTE_PORT"].isdigit()
    assert cgi["QUERY_STRING"] == ""
    assert cgi["SCRIPT_NAME"] == ""
    assert cgi["PATH_INFO"] == "/environ"
    assert cgi["CONTENT_TYPE"] == "text/plain"
    assert cgi["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in cgi and "HTTP_CONTENT_LENGTH" not in cgi
    assert cgi["SERVER_SOFTWARE"].startswith("greenc")
    assert e["wsgi.version"] == "(1, 0)"
    assert e["wsgi.url_scheme"] == "http"
    assert e["wsgi.input_terminated"] is True
    assert e["wsgi.multithread"] is False          # threads 1
    assert e["wsgi.multiprocess"] is True          # workers 2
    assert e["wsgi.run_once"] is False
    assert e["input_methods"] == ["__iter__", "read", "readline", "readlines"]
    assert e["errors_methods"] == ["flush", "write", "writelines"]
    assert e["has_file_wrapper"] is True


def test_remote_port_is_the_clients_port(contract):
    with contract.g.connect() as s:
        port = s.getsockname()[1]
        s.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        (r,) = parse_responses(recv_until_close(s))
    assert json.loads(r.body)["cgi"]["REMOTE_PORT"] == str(port)


def test_query_string_is_present_and_not_decoded(contract):
    assert environ_of(contract, "/environ")["cgi"]["QUERY_STRING"] == ""
    assert environ_of(contract, "/environ?")["cgi"]["QUERY_STRING"] == ""
    cgi = environ_of(contract, "/environ?a=1%202&b=%C3%A9&c")["cgi"]
    assert cgi["QUERY_STRING"] == "a=1%202&b=%C3%A9&c"


def test_repeated_headers_are_joined_with_commas(contract):
    data = raw_get(contract, "/environ",
                   extra=b"X-Multi: one\r\nX-Multi: two\r\nX-Multi: three\r\n"
                         b"Accept: text/html\r\nAccept: */*\r\n")
    (r,) = parse_responses(data)
    cgi = json.loads(r.body)["cgi"]
    assert cgi["HTTP_X_MULTI"] == "one,two,three"
    assert cgi["HTTP_ACCEPT"] == "text/html,*/*"


def test_header_values_are_decoded_latin1(contract):
    (r,) = parse_responses(raw_get(contract, "/environ", extra=b"X-Latin: caf\xe9\r\n"))
    assert json.loads(r.body)["cgi"]["HTTP_X_LATIN"] == "caf\u00e9"


@pytest.mark.parametrize("target, script_name, path_info", [
    ("/api/environ", "/api", "/environ"),
    ("/api/environ/x/y", "/api", "/environ/x/y"),
    ("/apienviron", "", "/apienviron"),
    ("/environ", "", "/environ"),
])
def test_script_name_and_path_info_follow_the_mount(contract, target, script_name, path_info):
    r = contract.g.get(target)
    if path_info.startswith("/environ"):
        assert r.status == 200, r
        cgi = r.json()["cgi"]
        assert (cgi["SCRIPT_NAME"], cgi["PATH_INFO"]) == (script_name, path_info)
    else:
        assert r.status == 404      # reached the app at "/" with the whole path as PATH_INFO


def test_request_uri_and_raw_uri_are_the_undecoded_target(contract):
    cgi = environ_of(contract, "/api/%65nviron/a%2Fb?q=%20x")["cgi"]
    assert cgi["REQUEST_URI"] == "/api/%65nviron/a%2Fb?q=%20x"
    assert cgi["RAW_URI"] == "/api/%65nviron/a%2Fb?q=%20x"
    assert cgi["SCRIPT_NAME"] == "/api"
    assert cgi["PATH_INFO"] == "/environ/a/b"
    assert cgi["QUERY_STRING"] == "q=%20x"


def test_non_ascii_path_is_percent_decoded_then_latin1(contract):
    cgi = environ_of(contract, "/environ/caf%C3%A9/%E2%82%AC")["cgi"]
    assert cgi["PATH_INFO"] == "/environ/caf\u00c3\u00a9/\u00e2\u0082\u00ac"
    assert cgi["PATH_INFO"].encode("latin-1").decode("utf-8") == "/environ/café/€"


# ---------------------------------------------------------------------------
# wsgi.input

BODY = bytes(range(256)) * 400 + b"tail"          # 102404 bytes, every byte value


def _chunks(data, size):
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_input_read_n_ends_at_the_body_end(contract, chunked):
    body = _chunks(BODY, 7000) if chunked else BODY
    r = request(contract, "POST", "/input/read_n?n=4096", body=body,
                           headers={"Content-Type": "application/octet-stream"}
                           | ({"Transfer-Encoding": "chunked"} if chunked else {}))
    assert r.status == 200, r
    got = r.json()
    assert got["length"] == len(BODY)
    assert got["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert got["sizes"] == [len(BODY) % 4096, 4096]
    assert got["after"] == ""


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_input_read_without_size_returns_the_whole_body(contract, chunked):
    body = _chunks(BODY, 5000) if chunked else BODY
    headers = {"Transfer-Encoding": "chunked"} if chunked else {}
    r = request(contract, "POST", "/input/read", body=body, headers=headers)
    got = r.json()
    assert (got["length"], got["sha256"]) == (len(BODY), hashlib.sha256(BODY).hexdigest())
    assert got["after"] == "" and got["after_n"] == ""


def test_chunked_body_has_content_length_for_apps_that_read_only_that(contract):
    r = request(contract, "POST", "/input/read_cl", body=_chunks(b"hello chunked world", 4),
                           headers={"Transfer-Encoding": "chunked"})
    got = r.json()
    assert got["content_length"] == "19"
    assert got["sha256"] == hashlib.sha256(b"hello chunked world").hexdigest()
    assert got["after"] == ""


def test_input_empty_body(contract):
    r = request(contract, "POST", "/input/read_n?n=10", body=b"")
    assert r.json()["length"] == 0
    r = contract.g.get("/input/read")
    assert r.json()["length"] == 0


LINES_BODY = b"first line\nsecond\n\nfourth line is longer\nno newline at the end"


def _expected_lines(how, n=4, hint=1):
    s = io.BytesIO(LINES_BODY)
    if how == "readline":
        return list(iter(s.readline, b""))
    if how == "readline_n":
        return list(iter(lambda: s.readline(n), b""))
    if how == "readlines":
        return s.readlines()
    if how == "readlines_hint":
        return s.readlines(hint) + [b"|rest|"] + s.readlines()
    if how == "iter":
        return list(s)
    if how == "mixed":
        return [s.read(3), s.readline(), s.readline(2)] + s.readlines()
    raise ValueError(how)


@pytest.mark.parametrize("how", ["readline", "readline_n", "readlines", "readlines_hint",
                                 "iter", "mixed"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_input_line_reading_matches_a_python_file(contract, how, chunked):
    body = _chunks(LINES_BODY, 9) if chunked else LINES_BODY
    headers = {"Transfer-Encoding": "chunked"} if chunked else {}
    r = request(contract, "POST", f"/input/lines?how={how}&n=4&hint=15", body=body,
                           headers=headers)
    assert r.status == 200, r
    got = r.json()
    expected = _expected_lines(how, n=4, hint=15)
    assert got["non_bytes"] == []
    assert got["lines"] == [x.decode("latin-1") for x in expected]
    assert got["end"] == ""


# ---------------------------------------------------------------------------
# start_response and the response


def test_write_callable_comes_before_the_iterable(contract):
    r = contract.g.get("/write")
    assert r.status == 200
    assert r.body == b"written-1;written-2;iterable-1;iterable-2"
    assert contract.g.get("/write?mode=only").body == b"written-1;written-2;"


def test_generator_with_empty_chunks(contract):
    r = contract.g.get("/generator?n=4")
    assert r.status == 200
    assert r.body == b"chunk 0\nchunk 1\nchunk 2\nchunk 3\n"


@pytest.mark.parametrize("kind", ["file", "bytesio"])
@pytest.mark.parametrize("block", [None, 1000])
def test_file_wrapper_sends_the_file_byte_for_byte(contract, kind, block):
    name = new_mark("data")
    data = os.urandom(300_000)
    (contract.marks / name).write_bytes(data)
    q = f"/file?name={name}&kind={kind}" + (f"&block={block}" if block else "")
    r = contract.g.get(q)
    assert r.status == 200
    assert r.headers["Content-Length"] == str(len(data))
    assert r.body == data


def test_file_wrapper_uses_sendfile_for_a_regular_file(contract):
    name = new_mark("data")
    data = os.urandom(200_000)
    (contract.marks / name).write_bytes(data)
    mark = new_mark("reads")
    r = contract.g.get(f"/file?name={name}&kind=recording&mark={mark}")
    assert r.body == data
    wait_for(lambda: contract.mark(mark), 5, what="the file's close()")
    # Sent with sendfile(2), the file is never read through Python.
    assert contract.mark(mark) == "reads=0\n"


def test_exc_info_before_headers_replaces_the_response(contract):
    r = contract.g.get("/exc_info/replace")
    assert r.status == 503
    assert r.headers["X-Replaced"] == "yes"
    assert r.headers["X-First"] is None
    assert r.body == b"replaced"


def _assert_not_a_complete_success(data):
    """After a failure, the client must not see a complete 200: either a 500
    (headers never left) or a 200 whose body ends without its framing."""
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status == 500:
        return
    assert status == 200, data[:200]
    assert data.closed
    if b"chunked" in head.lower():
        assert not body.endswith(b"0\r\n\r\n"), data
    else:
        m = re.search(rb"(?i)content-length: *(\d+)", head)
        assert m is None or len(body) < int(m.group(1)), data


def test_exc_info_after_headers_reraises(contract):
    mark = new_mark("reraise")
    offset = len(contract.g.log_text())
    data = raw_get(contract, f"/exc_info/reraise?mark={mark}")
    assert contract.mark(mark) == "reraised KeyError('late failure')\n"
    _assert_not_a_complete_success(data)
    assert b"error page after headers" not in data
    contract.g.wait_log("late failure")
    assert "KeyError" in contract.log_since(offset)


@pytest.mark.parametrize("declared, size", [(5, 20), (5, 6), (0, 3)])
def test_body_longer_than_content_length_is_cut_and_connection_closed(contract, declared,
                                                                       size):
    with contract.g.connect() as s:
        s.sendall(f"GET /content_length?declared={declared}&body={size} HTTP/1.1\r\n"
                  f"Host: x\r\n\r\n".encode())
        data = recv_until_close(s, timeout=5)
    assert data.closed, "the server kept the connection open"
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert re.findall(rb"(?im)^content-length: *(\d+)", head) == [str(declared).encode()]
    assert body == b"0123456789"[:declared]


@pytest.mark.parametrize("declared, size", [(20, 5), (3, 0)])
def test_body_shorter_than_content_length_closes_the_connection(contract, declared, size):
    with contract.g.connect() as s:
        s.sendall(f"GET /content_length?declared={declared}&body={size} HTTP/1.1\r\n"
                  f"Host: x\r\n\r\n".encode())
        data = recv_until_close(s, timeout=5)
    assert data.closed, "the server kept the connection open after a short body"
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert re.findall(rb"(?im)^content-length: *(\d+)", head) == [str(declared).encode()]
    assert body == b"0123456789"[:size]


def test_head_sends_headers_and_no_body_and_keeps_the_connection(contract):
    conn = http.client.HTTPConnection("127.0.0.1", contract.g.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("HEAD", "/head")
        r = conn.getresponse()
        assert r.status == 200
        assert r.read() == b""
        assert r.headers["Content-Length"] == str(len(b"a body that HEAD must not send\n"))
        assert r.headers["X-Method"] == "HEAD"
        conn.request("GET", "/head")
        r2 = conn.getresponse()
        assert r2.read() == b"a body that HEAD must not send\n"
        assert r2.headers["X-Method"] == "GET"
    finally:
        conn.close()
    # Byte for byte: nothing follows the head of the HEAD response.
    data = raw_get(contract, "/head", method="HEAD")
    assert data.endswith(b"\r\n\r\n") and data.count(b"HTTP/1.1") == 1


def test_close_is_called_on_success(contract):
    mark = new_mark("close")
    r = contract.g.get(f"/close?mark={mark}")
    assert r.body == b"part one;part two"
    wait_for(lambda: contract.mark(mark), 5, what="close()")
    assert contract.mark(mark) == "closed\n"


def test_close_is_called_when_iteration_raises(contract):
    mark = new_mark("close")
    offset = len(contract.g.log_text())
    data = raw_get(contract, f"/close?fail=iter&mark={mark}")
    _assert_not_a_complete_success(data)
    wait_for(lambda: contract.mark(mark), 5, what="close()")
    assert contract.mark(mark) == "closed\n"
    contract.g.wait_log("failure while iterating")
    assert 'app "contract"' in contract.log_since(offset)


def test_exception_in_close_is_logged_and_the_connection_closed(contract):
    mark = new_mark("close")
    with contract.g.connect() as s:
        s.sendall(f"GET /close?fail=close&mark={mark} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = recv_until_close(s, timeout=5)
    assert contract.mark(mark) == "closed\n"
    contract.g.wait_log("failure in close()")
    # The body was all out when close() failed: the connection must not be reused.
    assert data.closed
    assert data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.1 500"), data[:100]


def test_wsgi_errors_write_and_writelines_reach_the_error_log(contract):
    assert contract.g.get("/errors?msg=contract-errors-42").status == 200
    contract.g.wait_log("contract-errors-42 (writelines)")
    line = next(x for x in contract.g.log_text().splitlines() if "contract-errors-42" in x)
    assert "contract" in line


# start_response validation: each is a 500, the app's error, and one log line.
BAD_START_RESPONSE = {
    "status": "status must be",
    "status2": "status must be",
    "crlf": "control character",
    "lf": "control character",
    "nul": "control character",
    "hop": "hop-by-hop",
    "te": "hop-by-hop",
    "nonstr": "must be str",
    "badname": "not a valid HTTP token",
    "nontuple": "tuple",
}


def _check_500_and_log(contract, target, needle, traceback_names=None):
    workers = contract.g.worker_pids()
    offset = len(contract.g.log_text())
    data = raw_get(contract, target)
    (r,) = parse_responses(data)
    assert r.status == 500, data
    assert b"should not be sent" not in data and b"evil" not in data
    assert b"body without start_response" not in data
    contract.g.wait_log(needle)
    new = contract.log_since(offset)
    first = next(x for x in new.splitlines() if 'app "contract"' in x)
    assert re.match(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] ", first), first
    assert needle in new
    if traceback_names:
        assert "Traceback (most recent call last)" in new
        assert traceback_names in new
    # The worker keeps serving: same workers, and the next requests succeed.
    for _ in range(4):
        assert contract.g.get("/").status == 200
    assert contract.g.worker_pids() == workers
    return new


@pytest.mark.parametrize("what", sorted(BAD_START_RESPONSE))
def test_start_response_rejects_bad_status_and_headers(contract, what):
    _check_500_and_log(contract, f"/bad_start_response?what={what}",
                       BAD_START_RESPONSE[what], traceback_names="contract_app.py")


BAD_APPS = {
    "noniterable": "not iterable",
    "str": "must yield bytes",
    "twice": "second time",
    "never": "before calling start_response",
    "never_empty": "without calling start_response",
}


@pytest.mark.parametrize("what", sorted(BAD_APPS))
def test_bad_apps_give_500_and_one_clear_log_line(contract, what):
    new = _check_500_and_log(contract, f"/bad?what={what}", BAD_APPS[what],
                             traceback_names="contract_app.py" if what == "twice" else None)
    assert new.count('app "contract"') == 1, new


def test_app_exception_log_has_the_request_line(contract):
    offset = len(contract.g.log_text())
    (r,) = parse_responses(raw_get(contract, "/bad?what=twice"))
    assert r.status == 500
    contract.g.wait_log("second time")
    new = contract.log_since(offset)
    assert "GET /bad?what=twice" in new, new


# ---------------------------------------------------------------------------
# the validators


def _validated(contract, name, requests, mount=""):
    """Run (method, path, body, headers, expected_status, expected_body) through
    validator `name` (under a location `mount`); fail on any complaint."""
    contract.problems()
    for method, path, body, headers, status, expected in requests:
        r = request(contract, method, f"{mount}/{name}{path}", body=body, headers=headers or {})
        assert r.status == status, (path, r, contract.g.log_text()[-2000:])
        if expected is not None:
            assert r.body == expected, path
    time.sleep(0.05)        # a validator's __del__ check runs after the response
    problems = contract.problems()
    assert problems == "", f"{name} complained:\n{problems}"


def _common_requests(contract):
    name = new_mark("data")
    data = os.urandom(50_000)
    (contract.marks / name).write_bytes(data)
    lines = b"a\nbb\nccc\n"
    chunked = {"Transfer-Encoding": "chunked"}
    return [
        ("GET", "/environ?x=1", None, None, 200, None),
        ("GET", "/input/read_n?n=100", None, None, 200, None),
        ("POST", "/input/read_n?n=333", BODY, None, 200, None),
        ("POST", "/input/read_n?n=333", _chunks(BODY, 4000), chunked, 200, None),
        ("POST", "/input/read_cl", BODY, None, 200, None),
        ("POST", "/input/iter", lines, None, 200, lines),
        ("POST", "/input/iter", _chunks(lines, 2), chunked, 200, lines),
        ("GET", "/write", None, None, 200, b"written-1;written-2;iterable-1;iterable-2"),
        ("GET", "/generator?n=3", None, None, 200, b"chunk 0\nchunk 1\nchunk 2\n"),
        ("GET", f"/file?name={name}", None, None, 200, data),
        ("GET", f"/file?name={name}&kind=bytesio&block=999", None, None, 200, data),
        ("GET", "/exc_info/replace", None, None, 503, b"replaced"),
        ("GET", f"/close?mark={new_mark()}", None, None, 200, b"part one;part two"),
        ("HEAD", "/head", None, None, 200, b""),
        ("GET", "/errors?msg=validated", None, None, 200, b"logged\n"),
        ("GET", "/", None, None, 200, b"contract app\n"),
    ]


def test_wsgiref_validator_has_no_complaint(contract):
    lines = b"line one\nline two\nthree\n"
    _validated(contract, "wsgiref", _common_requests(contract) + [
        ("POST", f"/tour?input=lines&mark={new_mark()}", lines, None, 200,
         b"[written]" + lines + b"[]"),
        ("POST", "/input/lines?how=readline", LINES_BODY, None, 200, None),
        ("POST", "/input/lines?how=readline_n&n=3", LINES_BODY, None, 200, None),
        ("POST", "/input/lines?how=readlines", LINES_BODY, None, 200, None),
        ("POST", "/input/lines?how=readlines_hint&hint=5", LINES_BODY, None, 200, None),
        ("POST", "/input/lines?how=iter", LINES_BODY, None, 200, None),
    ])


def test_werkzeug_lint_has_no_complaint(contract):
    _validated(contract, "lint", _common_requests(contract) + [
        ("POST", f"/tour?input=read_n&mark={new_mark()}", b"0123456789abcdef", None, 200,
         b"[written]0123456789abcdef[]"),
    ])


@pytest.mark.parametrize("mount", ["/streamed", "/spooled"])
def test_streamed_and_spooled_bodies_read_as_in_memory_ones(contract, mount):
    """Every wsgi.input method gives the same answer whether the body is in
    memory, in a temp file, or read from the socket as it arrives."""
    chunked = {"Transfer-Encoding": "chunked"}
    lines = LINES_BODY * 300
    cases = [("/input/read", BODY, {}), ("/input/read", _chunks(BODY, 5000), chunked),
             ("/input/read_n?n=4096", BODY, {}), ("/input/read_cl", BODY, {})]
    cases += [(f"/input/lines?how={how}&n=4&hint=15", lines, {})
              for how in ("readline", "readline_n", "readlines", "readlines_hint", "iter",
                          "mixed")]
    for path, body, headers in cases:
        if not isinstance(body, bytes):
            body = list(body)           # sent twice
        want = request(contract, "POST", path, body=body, headers=headers)
        got = request(contract, "POST", mount + path, body=body, headers=headers)
        assert want.status == got.status == 200, (path, got)
        assert got.json() == want.json(), path


@pytest.mark.parametrize("mount", ["/streamed", "/spooled"])
@pytest.mark.parametrize("name", ["wsgiref", "lint"])
def test_validators_accept_streamed_and_spooled_bodies(contract, name, mount):
    """wsgi.input read from the socket (request_buffering off) or from a temp
    file (a body over client_body_buffer_size) keeps the contract too."""
    big = BODY * (8000 // len(BODY) + 1)
    chunked = {"Transfer-Encoding": "chunked"}
    lines = LINES_BODY * 50
    requests = [
        ("POST", "/input/read_n?n=333", big, None, 200, None),
        ("POST", "/input/read_n?n=333", _chunks(big, 4000), chunked, 200, None),
        ("POST", "/input/read_cl", big, None, 200, None),
    ]
    if name == "wsgiref":   # Werkzeug's lint forbids readline() without a size
        requests += [
            ("POST", "/input/lines?how=readline", lines, None, 200, None),
            ("POST", "/input/lines?how=iter", lines, None, 200, None),
            ("POST", "/input/lines?how=readline_n&n=3", lines, None, 200, None),
            ("POST", "/input/lines?how=readlines", lines, None, 200, None),
        ]
    _validated(contract, name, requests, mount=mount)


@pytest.mark.parametrize("name", ["wsgiref", "lint"])
def test_validators_see_close_after_a_failing_iteration(contract, name):
    contract.problems()
    mark = new_mark("close")
    raw_get(contract, f"/{name}/close?fail=iter&mark={mark}")
    wait_for(lambda: contract.mark(mark), 5, what="close()")
    raw_get(contract, f"/{name}/exc_info/reraise?mark={new_mark()}")
    assert contract.g.get("/").status == 200
    time.sleep(0.05)
    assert contract.problems() == ""


# ---------------------------------------------------------------------------
# streaming


def test_generator_chunks_stream_before_the_generator_ends(contract):
    with contract.g.connect() as s:
        start = time.monotonic()
        s.sendall(b"GET /stream/slow?n=3&delay=0.8 HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        s.settimeout(5)
        first = b""
        while b"chunk 0" not in first:
            data = s.recv(65536)
            if not data:
                break
            first += data
        first_at = time.monotonic() - start
        rest = recv_until_close(s, timeout=5)
    assert b"chunk 0" in first
    assert first_at < 0.6 * SLOW, f"first chunk after {first_at:.2f}s"
    (r,) = parse_responses(first + rest)
    assert r.body.count(b"chunk") == 3


def test_streaming_has_backpressure(contract):
    mark = new_mark("big")
    with contract.g.connect() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(f"GET /stream/big?chunks=1024&size=65536&limit=8&mark={mark} HTTP/1.1\r\n"
                  f"Host: x\r\nConnection: close\r\n\r\n".encode())
        time.sleep(1.5)          # read nothing: the app must be held back
        produced = contract.mark(mark).split()
        count = int(produced[-1]) if produced else 0
    assert count < 256, f"the app produced {count} x 64 KB with a client that reads nothing"
    wait_for(lambda: "closed after" in contract.mark(mark), 5, what="close()")


def test_close_is_called_when_the_client_disconnects(contract):
    mark = new_mark("gone")
    with contract.g.connect() as s:
        s.sendall(f"GET /stream/big?chunks=300&size=16384&delay=0.02&limit=6&mark={mark} "
                  f"HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.settimeout(5)
        assert s.recv(100).startswith(b"HTTP/1.1 200")
    closed = wait_for(lambda: "closed after" in contract.mark(mark), 2.5,
                      what="close() after the client left")
    count = int(contract.mark(mark).split()[-1])
    assert closed and count < 200


def test_exception_after_headers_closes_the_connection_mid_body(contract):
    mark = new_mark("close")
    data = raw_get(contract, f"/close?fail=iter&mark={mark}")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    assert b"part one;" in body
    assert data.closed
    _assert_not_a_complete_success(data)


def test_curl_sees_the_same_bytes(contract):
    if not shutil.which("curl"):
        pytest.skip("curl not installed")
    out = subprocess.run(["curl", "-sS", "-D", "-", "--data-binary", "x\ny\n",
                          f"http://127.0.0.1:{contract.g.port}/input/lines?how=readlines"],
                         capture_output=True, timeout=REQUEST_TIMEOUT)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Type: application/json\r\n" in head
    assert json.loads(body) == {"end": "", "lines": ["x\n", "y\n"], "non_bytes": []}


def test_the_validator_harness_catches_a_violation(contract):
    """Negative control: wsgiref's validator forbids read() without a size and
    Lint warns about it, so the problems file must report both."""
    contract.problems()
    assert request(contract, "POST", "/wsgiref/input/read", body=b"x").status == 500
    assert request(contract, "POST", "/lint/input/read", body=b"x").status == 500
    time.sleep(0.05)
    problems = contract.problems()
    assert "wsgiref.validate: call /input/read" in problems
    assert "werkzeug lint: call /input/read" in problems
    assert "EOF marker" in problems


def test_multithread_and_multiprocess_follow_the_config(greenc_factory, tmp_path):
    code = tmp_path / "code"
    shutil.copytree(FRAMEWORK_APPS, code, ignore=shutil.ignore_patterns("__pycache__"))
    g = greenc_factory("threads", apps=app_block("contract", wsgi="contract_app:application",
                                                 python_path=code, workers=1,
                                                 extra="threads 2;"),
                       locations=('        location = /healthz { return 200 "ok\\n"; }\n'
                                  "        location / { pass contract; }\n"))
    g.start()
    e = g.get("/environ").json()
    assert (e["wsgi.multithread"], e["wsgi.multiprocess"]) == (True, False)
