"""The WSGI app the integration tests run inside greenc.

Dependency-free on purpose: it must import in any interpreter greenc embeds.
Each route exposes one thing a test needs to observe from inside the worker:

    /            hello
    /echo        the request body, read from wsgi.input with read(n); with &mark=PATH it
                 first creates PATH so a test knows the app is about to read
    /lines       the request body's lines, read with readline()/readlines()/iteration
    /environ     selected environ keys as JSON
    /sleep?t=N   sleeps N seconds; with &mark=PATH it first creates PATH so a test
                 knows the request is in flight
    /error       raises (the server must answer 500 and log the traceback)
    /cwd         os.getcwd()
    /env?name=X  os.environ[X] as JSON ({"value": null} when unset)
    /syspath     sys.path as JSON
    /pid         os.getpid()
    /log?msg=M   writes M to wsgi.errors
    /close?mark=PATH  returns an iterable whose close() creates PATH
    OPTIONS (any target, `*` too)  the target keys of the environ as JSON
"""

import json
import os
import sys
import time
from urllib.parse import parse_qs


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _respond(start_response, body, status="200 OK", content_type="text/plain"):
    if isinstance(body, str):
        body = body.encode("utf-8")
    start_response(status, [("Content-Type", content_type),
                            ("Content-Length", str(len(body)))])
    return [body]


def _json(start_response, obj):
    return _respond(start_response, json.dumps(obj), content_type="application/json")


def _read_body(environ):
    length = environ.get("CONTENT_LENGTH") or ""
    if length:
        return environ["wsgi.input"].read(int(length))
    # No Content-Length: a chunked body. PEP 3333 with wsgi.input_terminated
    # lets the app read until the stream says it is done.
    if environ.get("wsgi.input_terminated"):
        return environ["wsgi.input"].read()
    return b""


class _ClosingIterable:
    def __init__(self, mark):
        self.mark = mark

    def __iter__(self):
        yield b"closing"

    def close(self):
        with open(self.mark, "w") as f:
            f.write("closed")


def _environ_report(environ):
    keys = ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
            "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
            "CONTENT_LENGTH", "CONTENT_TYPE", "wsgi.url_scheme"]
    report = {k: environ.get(k) for k in keys}
    report["http"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    report["wsgi.version"] = list(environ.get("wsgi.version", ()))
    report["has"] = {k: k in environ for k in
                     ("wsgi.input", "wsgi.errors", "wsgi.multithread",
                      "wsgi.multiprocess", "wsgi.run_once")}
    # PEP 3333: every CGI key is a native str.
    report["non_str_cgi_keys"] = sorted(k for k, v in environ.items()
                                        if "." not in k and not isinstance(v, str))
    report["environ_is_dict"] = type(environ) is dict
    report["wsgi.multithread"] = environ.get("wsgi.multithread")
    report["wsgi.multiprocess"] = environ.get("wsgi.multiprocess")
    return report


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = _query(environ)

    if environ["REQUEST_METHOD"] == "OPTIONS":
        return _json(start_response, {k: environ.get(k) for k in
                                      ("REQUEST_URI", "RAW_URI", "SCRIPT_NAME", "PATH_INFO",
                                       "QUERY_STRING")})
    if path == "/":
        return _respond(start_response, "Hello, world!\n")
    if path == "/echo":
        if q.get("mark"):
            with open(q["mark"], "w") as f:
                f.write(str(os.getpid()))
        return _respond(start_response, _read_body(environ),
                        content_type="application/octet-stream")
    if path == "/lines":
        stream = environ["wsgi.input"]
        first = stream.readline()
        second = stream.readline(3)
        rest_of_second = stream.readline()
        remaining = stream.readlines()
        return _json(start_response, {
            "first": first.decode("latin-1"),
            "second_limited": second.decode("latin-1"),
            "rest_of_second": rest_of_second.decode("latin-1"),
            "remaining": [line.decode("latin-1") for line in remaining],
        })
    if path.startswith("/environ"):
        return _json(start_response, _environ_report(environ))
    if path == "/sleep":
        mark = q.get("mark")
        if mark:
            with open(mark, "w") as f:
                f.write(str(os.getpid()))
        time.sleep(float(q.get("t", "1")))
        return _respond(start_response, "slept\n")
    if path == "/error":
        raise RuntimeError("boom from the test app")
    if path == "/cwd":
        return _respond(start_response, os.getcwd())
    if path == "/env":
        return _json(start_response, {"value": os.environ.get(q.get("name", ""))})
    if path == "/syspath":
        return _json(start_response, sys.path)
    if path == "/pid":
        return _respond(start_response, str(os.getpid()))
    if path == "/log":
        environ["wsgi.errors"].write(q.get("msg", "no message") + "\n")
        environ["wsgi.errors"].flush()
        return _respond(start_response, "logged\n")
    if path == "/big":
        # q["mb"] MiB in 1 MiB chunks, with its Content-Length: for send_timeout tests.
        mb = int(q.get("mb", "1"))
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(mb << 20))])
        return (b"x" * (1 << 20) for _ in range(mb))
    if path == "/close":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _ClosingIterable(q["mark"])
    return _respond(start_response, "not found in the test app\n", status="404 Not Found")


def make_app(greeting="Hello from the factory!", punct=""):
    """Factory used by `wsgi app:make_app();` and `wsgi 'app:make_app("Hi", punct="?")';`."""

    def factory_application(environ, start_response):
        return _respond(start_response, greeting.rstrip("!") + punct + "\n"
                        if punct else greeting + "\n")

    return factory_application
