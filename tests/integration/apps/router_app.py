"""The WSGI app behind the router tests (test_router.py): two app blocks load it,
told apart by the APP_ID environment variable their `env` directive sets.

    /whoami        {"app": APP_ID, "pid": ...} and the environ the router's
                   forwarding must get right, as JSON
    /echo          the request body back, with its SHA-256 in X-Body-Sha256
    /big?n=N       N bytes (default 1 MB) in one piece, with Content-Length
    /stream?n=&size=&pause=   n chunks of `size` bytes from a generator (no
                   Content-Length), sleeping `pause` seconds after the first
    /file?n=N      N bytes of a temporary file through wsgi.file_wrapper
    /sleep?t=S     sleeps S seconds
    /progress?log=PATH&wait=S   reads wsgi.input in pieces of at most 64 KB (after
                   sleeping S seconds), appending "TIME TOTAL" to PATH after each
                   read, then "short TOTAL" (fewer bytes than CONTENT_LENGTH),
                   "error TOTAL NAME" (the read raised) or "end TOTAL"; answers
                   {"app", "total", "sha256"}
"""

import hashlib
import json
import os
import tempfile
import time
from urllib.parse import parse_qs

APP_ID = os.environ.get("APP_ID", "?")


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _pattern(n):
    block = bytes(range(256)) * 64            # 16 KB, not all one byte
    return (block * (n // len(block) + 1))[:n]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = _query(environ)

    if path == "/whoami":
        keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
                "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT",
                "CONTENT_LENGTH", "wsgi.url_scheme")
        report = {k: environ.get(k) for k in keys}
        report["app"] = APP_ID
        report["pid"] = os.getpid()
        report["http"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
        body = json.dumps(report).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    if path == "/echo":
        length = environ.get("CONTENT_LENGTH") or "0"
        body = environ["wsgi.input"].read(int(length))
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body))),
                                  ("X-Body-Sha256", hashlib.sha256(body).hexdigest()),
                                  ("X-App", APP_ID)])
        return [body]

    if path == "/big":
        body = _pattern(int(q.get("n", 1 << 20)))
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body))),
                                  ("X-App", APP_ID)])
        return [body]

    if path == "/stream":
        n, size = int(q.get("n", 4)), int(q.get("size", 10))
        pause = float(q.get("pause", 0))

        def chunks():
            for i in range(n):
                yield (b"%d" % (i % 10)) * size
                if i == 0 and pause:
                    time.sleep(pause)

        start_response("200 OK", [("Content-Type", "text/plain"), ("X-App", APP_ID)])
        return chunks()

    if path == "/file":
        n = int(q.get("n", 1 << 20))
        f = tempfile.TemporaryFile()
        f.write(_pattern(n))
        f.seek(0)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(n)), ("X-App", APP_ID)])
        return environ["wsgi.file_wrapper"](f, 65536)

    if path == "/progress":
        length = environ.get("CONTENT_LENGTH")
        expected = int(length) if length else None
        inp, digest, total = environ["wsgi.input"], hashlib.sha256(), 0
        time.sleep(float(q.get("wait", 0)))
        with open(q["log"], "a", buffering=1) as log:
            try:
                while expected is None or total < expected:
                    want = 65536 if expected is None else min(65536, expected - total)
                    data = inp.read(want)
                    if not data:
                        break
                    total += len(data)
                    digest.update(data)
                    log.write("%f %d\n" % (time.time(), total))
            except Exception as e:
                log.write("error %d %s\n" % (total, type(e).__name__))
                raise
            if expected is not None and total < expected:
                log.write("short %d\n" % total)
            else:
                log.write("end %d\n" % total)
        body = json.dumps({"app": APP_ID, "total": total,
                           "sha256": digest.hexdigest()}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    if path == "/sleep":
        time.sleep(float(q.get("t", "1")))
        body = b"slept\n"
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    body = ("%s: not found\n" % APP_ID).encode()
    start_response("404 Not Found", [("Content-Type", "text/plain"),
                                     ("Content-Length", str(len(body)))])
    return [body]
