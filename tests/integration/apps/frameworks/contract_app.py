"""A plain PEP 3333 app for test_wsgi_contract.py: every route exercises one
piece of the WSGI contract, and most of them can run behind a validator.

`application` dispatches on the first path segment:

    /wsgiref/...   the route behind wsgiref.validate.validator
    /lint/...      the route behind werkzeug.middleware.lint.LintMiddleware
    anything else  the route as is (no validator)

Warnings are errors in this process (warnings.simplefilter("error")). Every
Warning or AssertionError that escapes a validated app (at the call, while
iterating, in close()), and every "unraisable" exception (a validator's
__del__), is appended to the file named by $GREENC_PROBLEMS: the tests assert
that it stays empty. Marks (what close() saw, how far a generator got) are
files under $GREENC_MARKS named by the `mark` query parameter.

The routes never use `assert` (the validators' own failures are AssertionError).
"""

import hashlib
import io
import json
import os
import sys
import time
import traceback
import warnings
from urllib.parse import parse_qs
from wsgiref.util import shift_path_info
from wsgiref.validate import validator

from werkzeug.middleware.lint import LintMiddleware

warnings.simplefilter("error")

PROBLEMS = os.environ.get("GREENC_PROBLEMS", "/dev/null")
MARKS = os.environ.get("GREENC_MARKS", "/tmp")


def record_problem(kind, text):
    with open(PROBLEMS, "a") as f:
        f.write(f"--- {kind} (pid {os.getpid()})\n{text}\n")


def _unraisable(u):
    text = "".join(traceback.format_exception(u.exc_type, u.exc_value, u.exc_traceback))
    record_problem(f"unraisable in {u.object!r}", text)


sys.unraisablehook = _unraisable


def _mark(environ, text):
    name = _query(environ).get("mark")
    if name:
        with open(os.path.join(MARKS, os.path.basename(name)), "a") as f:
            f.write(text + "\n")


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _respond(start_response, body, status="200 OK", content_type="text/plain",
             extra=()):
    if isinstance(body, str):
        body = body.encode("utf-8")
    start_response(status, [("Content-Type", content_type),
                            ("Content-Length", str(len(body))), *extra])
    return [body]


def _json(start_response, obj):
    return _respond(start_response, json.dumps(obj, sort_keys=True),
                    content_type="application/json")


# ---------------------------------------------------------------------------
# routes


def environ_report(environ, start_response):
    report = {
        "environ_type": type(environ).__name__,
        "types": {k: type(v).__name__ for k, v in environ.items()},
        "cgi": {k: v for k, v in environ.items() if "." not in k},
        "wsgi.version": repr(environ.get("wsgi.version")),
        "wsgi.url_scheme": environ.get("wsgi.url_scheme"),
        "wsgi.multithread": environ.get("wsgi.multithread"),
        "wsgi.multiprocess": environ.get("wsgi.multiprocess"),
        "wsgi.run_once": environ.get("wsgi.run_once"),
        "wsgi.input_terminated": environ.get("wsgi.input_terminated"),
        "input_methods": sorted(m for m in ("read", "readline", "readlines", "__iter__")
                                if hasattr(environ.get("wsgi.input"), m)),
        "errors_methods": sorted(m for m in ("write", "writelines", "flush")
                                 if hasattr(environ.get("wsgi.errors"), m)),
        "has_file_wrapper": callable(environ.get("wsgi.file_wrapper")),
    }
    return _json(start_response, report)


def _digest(data):
    return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def input_read_n(environ, start_response):
    """read(n) until b"", n from ?n= (default 1000); then one more read(n)."""
    stream = environ["wsgi.input"]
    n = int(_query(environ).get("n", "1000"))
    chunks = []
    while len(chunks) < 100000:
        chunk = stream.read(n)
        if not chunk:
            break
        chunks.append(chunk)
    data = b"".join(chunks)
    return _json(start_response, dict(_digest(data), sizes=sorted({len(c) for c in chunks}),
                                      after=stream.read(n).decode("latin-1")))


def input_read_all(environ, start_response):
    """read() with no size: PEP 3333 + wsgi.input_terminated lets it end at the body's end."""
    stream = environ["wsgi.input"]
    data = stream.read()
    return _json(start_response, dict(_digest(data), after=stream.read().decode("latin-1"),
                                      after_n=stream.read(5).decode("latin-1")))


def input_read_cl(environ, start_response):
    """read(CONTENT_LENGTH), as most frameworks do."""
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or "0")
    data = stream.read(length)
    return _json(start_response, dict(_digest(data), content_length=environ.get("CONTENT_LENGTH"),
                                      after=stream.read(10).decode("latin-1")))


def input_lines(environ, start_response):
    """?how=readline|readline_n|readlines|readlines_hint|iter|mixed"""
    stream = environ["wsgi.input"]
    q = _query(environ)
    how = q.get("how", "readline")
    lines = []
    if how == "readline":
        while len(lines) < 10000:
            line = stream.readline()
            if not line:
                break
            lines.append(line)
    elif how == "readline_n":
        n = int(q.get("n", "4"))
        while len(lines) < 10000:
            line = stream.readline(n)
            if not line:
                break
            lines.append(line)
    elif how == "readlines":
        lines = stream.readlines()
    elif how == "readlines_hint":
        lines = stream.readlines(int(q.get("hint", "1")))
        lines.append(b"|rest|")
        lines.extend(stream.readlines())
    elif how == "iter":
        lines = list(stream)
    elif how == "mixed":
        lines = [stream.read(3), stream.readline(), stream.readline(2)]
        lines.extend(stream.readlines())
    bad = [type(x).__name__ for x in lines if type(x) is not bytes]
    return _json(start_response, {"lines": [x.decode("latin-1") for x in lines
                                            if type(x) is bytes],
                                  "non_bytes": bad,
                                  "end": stream.read(1).decode("latin-1")})


def write_route(environ, start_response):
    """write() before the iterable; ?mode=only returns an empty list."""
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written-1;")
    write(b"")
    write(b"written-2;")
    if _query(environ).get("mode") == "only":
        return []
    return [b"iterable-1;", b"", b"iterable-2"]


def generator_route(environ, start_response):
    n = int(_query(environ).get("n", "5"))
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        for i in range(n):
            yield b""
            yield f"chunk {i}\n".encode()
    return body()


def file_wrapper_route(environ, start_response):
    """?name=FILE (in $GREENC_MARKS) [&block=N] [&kind=file|bytesio|recording]"""
    q = _query(environ)
    path = os.path.join(MARKS, os.path.basename(q["name"]))
    kind = q.get("kind", "file")
    if kind == "bytesio":
        with open(path, "rb") as f:
            filelike = io.BytesIO(f.read())
        size = len(filelike.getvalue())
    elif kind == "recording":
        filelike = RecordingFile(path, environ)
        size = os.path.getsize(path)
    else:
        filelike = open(path, "rb")
        size = os.path.getsize(path)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(size))])
    wrapper = environ["wsgi.file_wrapper"]
    if "block" in q:
        return wrapper(filelike, int(q["block"]))
    return wrapper(filelike)


class RecordingFile(io.FileIO):
    """A regular file whose read() calls are counted in the mark file: sent
    with sendfile, it is never read through Python."""

    def __init__(self, path, environ):
        super().__init__(path, "rb")
        self.environ = environ
        self.reads = 0

    def read(self, size=-1):
        self.reads += 1
        return super().read(size)

    def close(self):
        _mark(self.environ, f"reads={self.reads}")
        super().close()


def exc_info_replace(environ, start_response):
    """Headers not sent yet: start_response(..., exc_info) replaces them."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "yes")])
    try:
        raise ValueError("replace me")
    except ValueError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain"),
                                                  ("X-Replaced", "yes")], sys.exc_info())
    return [b"replaced"]


def exc_info_reraise(environ, start_response):
    """Headers sent (a non-empty chunk went out): start_response(..., exc_info)
    must re-raise the exception; the mark records what happened."""
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"first chunk;"
        try:
            raise KeyError("late failure")
        except KeyError:
            try:
                start_response("500 Internal Server Error",
                               [("Content-Type", "text/plain")], sys.exc_info())
            except KeyError as e:
                _mark(environ, f"reraised {e!r}")
                raise
            _mark(environ, "not reraised")
            yield b"error page after headers"
    return body()


class ClosingBody:
    """?fail=iter|call|close|none; close() appends 'closed' to the mark."""

    def __init__(self, environ, fail):
        self.environ, self.fail = environ, fail

    def __iter__(self):
        yield b"part one;"
        if self.fail == "iter":
            raise RuntimeError("failure while iterating")
        yield b"part two"

    def close(self):
        _mark(self.environ, "closed")
        if self.fail == "close":
            raise RuntimeError("failure in close()")


def close_route(environ, start_response):
    fail = _query(environ).get("fail", "none")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ClosingBody(environ, fail)


def bad_start_response(environ, start_response):
    """?what=status|crlf|lf|nul|hop|te|nonstr|badname|nontuple"""
    what = _query(environ).get("what")
    status, headers = "200 OK", [("Content-Type", "text/plain")]
    if what == "status":
        status = "OK 200"
    elif what == "status2":
        status = "20 OK"
    elif what == "crlf":
        headers.append(("X-Injected", "a\r\nSet-Cookie: evil=1"))
    elif what == "lf":
        headers.append(("X-Injected", "a\nb"))
    elif what == "nul":
        headers.append(("X-Nul", "a\x00b"))
    elif what == "hop":
        headers.append(("Connection", "keep-alive"))
    elif what == "te":
        headers.append(("Transfer-Encoding", "chunked"))
    elif what == "nonstr":
        headers.append(("X-Number", 42))
    elif what == "badname":
        headers.append(("X Bad Name", "v"))
    elif what == "nontuple":
        headers.append(["X-List", "v"])
    start_response(status, headers)
    return [b"should not be sent"]


def content_length_route(environ, start_response):
    """?declared=N&body=M: declares Content-Length N, sends M bytes."""
    q = _query(environ)
    declared, size = int(q["declared"]), int(q["body"])
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(declared))])
    data = (b"0123456789" * (size // 10 + 1))[:size]
    return iter([data[:size // 2], data[size // 2:]])


def bad_app(environ, start_response):
    """?what=noniterable|str|twice|never|never_empty"""
    what = _query(environ).get("what")
    if what == "noniterable":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return 42
    if what == "str":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter(["a str, not bytes"])
    if what == "twice":
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"twice"]
    if what == "never":
        return [b"body without start_response"]
    if what == "never_empty":
        return []
    return _respond(start_response, "unknown bad app\n", status="404 Not Found")


def errors_route(environ, start_response):
    msg = _query(environ).get("msg", "message")
    environ["wsgi.errors"].write(msg + "\n")
    environ["wsgi.errors"].writelines([msg + " (writelines)\n"])
    environ["wsgi.errors"].flush()
    return _respond(start_response, "logged\n")


def head_route(environ, start_response):
    return _respond(start_response, "a body that HEAD must not send\n",
                    extra=[("X-Method", environ["REQUEST_METHOD"])])


def stream_slow(environ, start_response):
    """?n=chunks&delay=s: the first chunk must reach the client before the last is made."""
    q = _query(environ)
    n, delay = int(q.get("n", "3")), float(q.get("delay", "0.5"))
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        for i in range(n):
            yield f"{time.monotonic():.6f} chunk {i}\n".encode()
            time.sleep(delay)
    return body()


class StreamBig:
    """?chunks=N&size=S: N chunks of S bytes; the mark gets the count produced
    so far (every 16 chunks) and 'closed after K' from close()."""

    def __init__(self, environ):
        q = _query(environ)
        self.environ = environ
        self.n, self.size = int(q.get("chunks", "1024")), int(q.get("size", "65536"))
        self.limit = float(q.get("limit", "8"))
        self.delay = float(q.get("delay", "0"))
        self.produced = 0

    def __iter__(self):
        block = b"x" * self.size
        deadline = time.monotonic() + self.limit
        while self.produced < self.n and time.monotonic() < deadline:
            self.produced += 1
            if self.produced % 16 == 0:
                _mark(self.environ, f"produced {self.produced}")
            yield block
            if self.delay:
                time.sleep(self.delay)

    def close(self):
        _mark(self.environ, f"closed after {self.produced}")


def stream_big(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return StreamBig(environ)


def validated_tour(environ, start_response):
    """One request that uses the whole API a validator can check: environ,
    wsgi.input (?input=lines|read_n), wsgi.errors, write(), a generator with
    empty chunks, and close()."""
    stream = environ["wsgi.input"]
    q = _query(environ)
    if q.get("input") == "lines":          # wsgiref accepts readline/readlines/iteration
        first = stream.readline()
        second = stream.readline(4)
        rest = stream.readlines()
        body = first + second + b"".join(rest)
    else:                                  # Werkzeug's lint accepts read(n) and iteration
        body = b""
        while True:
            chunk = stream.read(7)
            if not chunk:
                break
            body += chunk
    environ["wsgi.errors"].write("validated tour\n")
    environ["wsgi.errors"].flush()
    write = start_response("200 OK", [("Content-Type", "text/plain"),
                                      ("Content-Length", str(len(body) + 11))])
    write(b"[written]")

    class Body:
        def __iter__(self):
            yield b""
            yield body
            yield b"[]"

        def close(self):
            _mark(environ, "tour closed")
    return Body()


def validated_iter_input(environ, start_response):
    body = b"".join(iter(environ["wsgi.input"]))
    return _respond(start_response, body)


ROUTES = {
    "/": lambda e, s: _respond(s, "contract app\n"),
    "/environ": environ_report,
    "/input/read_n": input_read_n,
    "/input/read": input_read_all,
    "/input/read_cl": input_read_cl,
    "/input/lines": input_lines,
    "/input/iter": validated_iter_input,
    "/write": write_route,
    "/generator": generator_route,
    "/file": file_wrapper_route,
    "/exc_info/replace": exc_info_replace,
    "/exc_info/reraise": exc_info_reraise,
    "/close": close_route,
    "/bad_start_response": bad_start_response,
    "/content_length": content_length_route,
    "/bad": bad_app,
    "/errors": errors_route,
    "/head": head_route,
    "/stream/slow": stream_slow,
    "/stream/big": stream_big,
    "/tour": validated_tour,
}


def inner(environ, start_response):
    path = environ.get("PATH_INFO") or "/"
    route = ROUTES.get(path)
    if route is None and path.startswith("/environ/"):
        route = environ_report
    if route is None:
        return _respond(start_response, "no such route\n", status="404 Not Found")
    return route(environ, start_response)


class Recording:
    """Records the validators' complaints (Warning, AssertionError) wherever
    they surface, then lets them propagate."""

    PROBLEM_TYPES = (Warning, AssertionError)

    def __init__(self, app, name):
        self.app, self.name = app, name

    def __call__(self, environ, start_response):
        try:
            result = self.app(environ, start_response)
        except self.PROBLEM_TYPES:
            record_problem(f"{self.name}: call {environ.get('PATH_INFO')}", traceback.format_exc())
            raise
        return RecordingIterable(result, self.name, environ.get("PATH_INFO"))


class RecordingIterable:
    def __init__(self, result, name, path):
        self.result, self.name, self.path = result, name, path

    def __iter__(self):
        try:
            yield from self.result
        except Recording.PROBLEM_TYPES:
            record_problem(f"{self.name}: iteration {self.path}", traceback.format_exc())
            raise

    def close(self):
        try:
            if hasattr(self.result, "close"):
                self.result.close()
        except Recording.PROBLEM_TYPES:
            record_problem(f"{self.name}: close {self.path}", traceback.format_exc())
            raise


wsgiref_app = Recording(validator(inner), "wsgiref.validate")
lint_app = Recording(LintMiddleware(inner), "werkzeug lint")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/wsgiref/"):
        shift_path_info(environ)
        return wsgiref_app(environ, start_response)
    if path.startswith("/lint/"):
        shift_path_info(environ)
        return lint_app(environ, start_response)
    return inner(environ, start_response)
