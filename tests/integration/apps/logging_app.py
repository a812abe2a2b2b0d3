"""The WSGI app of the access and error log tests (test_access_log.py).

    /id          JSON: the worker's pid, environ REQUEST_ID and HTTP_X_REQUEST_ID;
                 answers with the header X-Note: a "quoted" \\ value
    /sleep?t=S   sleeps S seconds, then answers "slept\\n"
    /stream      a body of three chunks without Content-Length (sent chunked)
    /big         50 MB in 64 KB chunks, pulled as the socket drains
    /boom        raises (a traceback in the error log)
    /say?msg=M   writes M to wsgi.errors
"""

import json
import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}

    if path == "/sleep":
        time.sleep(float(q.get("t", "0.1")))
        body = b"slept\n"
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one\n", b"two\n", b"three\n"])
    if path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(800 * 65536))])
        return (b"b" * 65536 for _ in range(800))
    if path == "/boom":
        raise ZeroDivisionError("boom for the error log test")
    if path == "/say":
        environ["wsgi.errors"].write(q.get("msg", "nothing") + "\n")
        environ["wsgi.errors"].flush()
    body = json.dumps({"pid": os.getpid(),
                       "request_id": environ.get("REQUEST_ID"),
                       "http_x_request_id": environ.get("HTTP_X_REQUEST_ID")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body))),
                              ("X-Note", 'a "quoted" \\ value')])
    return [body]
