"""Responses shaped to show when and how greenc writes: empty chunks before the first bytes,
an error after empty chunks, and a whole body in a one-element list."""

import time


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/late":
        # Headers may go out only with the first non-empty chunk: not during the sleep.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _late()
    if path == "/fails-before-bytes":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _fails()
    if path == "/one":
        size = int(environ.get("QUERY_STRING") or "100000")
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(size))])
        return [b"o" * size]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no\n"]


def _late():
    yield b""
    yield b""
    time.sleep(0.6)
    yield b"late bytes\n"


def _fails():
    yield b""
    raise RuntimeError("failed before any byte of the body")
