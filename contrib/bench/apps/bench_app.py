"""WSGI apps for the benchmark workloads beyond hello world.

Every server is given the same module and the same callable for a workload:

  application        plain WSGI, routed on PATH_INFO:
    /          200, 13-byte "Hello world!\n" (as hello.py)
    /100k      200, a 100 KB body (102400 bytes) in one piece, with Content-Length
    /upload    reads wsgi.input fully (CONTENT_LENGTH bytes) and answers the
               number of bytes read, e.g. "1048576"
    /file      the file named by $GREENC_BENCH_FILE (1 MB) through
               environ["wsgi.file_wrapper"], with Content-Length
    /stream    a generator of 100 chunks of 100 bytes, no Content-Length
               (so the server must chunk it, or close to delimit it)

The Flask hello world is in flask_hello.py (uWSGI looks a callable up in the
module's dict, so it cannot be created lazily here).

Kept minimal on purpose: the benchmark measures server machinery, not the app.
"""

import os

HELLO = b"Hello world!\n"
BODY_100K = b"x" * 102400
CHUNK = b"y" * 99 + b"\n"
NCHUNKS = 100
FILE = os.environ.get("GREENC_BENCH_FILE", "")

_HELLO_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "13")]
_100K_HEADERS = [("Content-Type", "application/octet-stream"),
                 ("Content-Length", str(len(BODY_100K)))]


def _hello(environ, start_response):
    start_response("200 OK", _HELLO_HEADERS)
    return [HELLO]


def _100k(environ, start_response):
    start_response("200 OK", _100K_HEADERS)
    return [BODY_100K]


def _upload(environ, start_response):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    inp = environ["wsgi.input"]
    got = 0
    while got < length:
        data = inp.read(min(length - got, 262144))
        if not data:
            break
        got += len(data)
    body = str(got).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


def _file(environ, start_response):
    f = open(FILE, "rb")
    size = os.fstat(f.fileno()).st_size
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(size))])
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None:
        return wrapper(f, 65536)
    return iter(lambda: f.read(65536), b"")


def _chunks():
    for _ in range(NCHUNKS):
        yield CHUNK


def _stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _chunks()


ROUTES = {"/": _hello, "/100k": _100k, "/upload": _upload, "/file": _file,
          "/stream": _stream}


def application(environ, start_response):
    handler = ROUTES.get(environ.get("PATH_INFO", "/"))
    if handler is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"),
                                         ("Content-Length", "10")])
        return [b"not found\n"]
    return handler(environ, start_response)
