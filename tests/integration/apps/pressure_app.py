"""An app for the resource-exhaustion and privilege tests (test_exhaustion.py,
test_privileges.py).

GET  /               -> "ok\n"
GET  /alloc?mb=N     -> allocates N MiB (under a small limit_as: MemoryError, so a 500)
POST /upload         -> {"len": bytes read from wsgi.input, "pid": worker pid}
GET  /open?path=P    -> {"ok": true} or {"ok": false, "errno": E, "error": "..."}: can this
                        worker open P for reading?
GET  /pid            -> the worker's pid
"""

import json
import os
from urllib.parse import parse_qs


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}

    if path == "/alloc":
        block = bytearray(int(q["mb"]) << 20)
        return _json(start_response, {"allocated": len(block)})
    if path == "/upload":
        n = 0
        while True:
            chunk = environ["wsgi.input"].read(65536)
            if not chunk:
                break
            n += len(chunk)
        return _json(start_response, {"len": n, "pid": os.getpid()})
    if path == "/open":
        try:
            with open(q["path"], "rb") as f:
                f.read(1)
        except OSError as e:
            return _json(start_response, {"ok": False, "errno": e.errno, "error": str(e)})
        return _json(start_response, {"ok": True})
    if path == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
