"""A WSGI app for the request body tests: it reads wsgi.input in the way the
query asks and reports what it got, so that a test can compare bytes and
digests with what it sent.

    /digest?how=read|read_n|readline|iter|readinto|readlines&n=N&mark=PATH
        mark: a file written before the first read (the app has started)
    /noread        answers 401 without touching the body
    /partial?n=N   reads N bytes, answers how many it got
    /rss           the worker's resident memory in kB
"""

import hashlib
import json
import os
from urllib.parse import parse_qsl


def _temp_files():
    """The worker's open files that are unlinked temp files (a spooled body)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith("(deleted)"):
            found.append(target)
    return found


def _read(stream, how, n):
    chunks = []
    if how == "read":
        chunks.append(stream.read())
    elif how == "read_n":
        while True:
            data = stream.read(n)
            if not data:
                break
            assert len(data) <= n
            chunks.append(data)
    elif how == "readline":
        while True:
            line = stream.readline()
            if not line:
                break
            chunks.append(line)
    elif how == "readline_n":
        while True:
            line = stream.readline(n)
            if not line:
                break
            assert len(line) <= n
            chunks.append(line)
    elif how == "iter":
        chunks.extend(stream)
    elif how == "readlines":
        chunks.extend(stream.readlines())
    elif how == "readinto":
        buf = bytearray(n)
        while True:
            got = stream.readinto(buf)
            if not got:
                break
            chunks.append(bytes(buf[:got]))
    else:
        raise ValueError(how)
    return chunks


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = dict(parse_qsl(environ.get("QUERY_STRING", "")))

    if path == "/digest":
        if "mark" in q:
            with open(q["mark"], "w") as f:
                f.write("started")
        temp_before = _temp_files()
        chunks = _read(environ["wsgi.input"], q.get("how", "read"), int(q.get("n", "4096")))
        body = b"".join(chunks)
        report = {
            "len": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "reads": len(chunks),
            "temp_files": temp_before,
            "CONTENT_LENGTH": environ.get("CONTENT_LENGTH"),
            "lines_end_ok": all(c.endswith(b"\n") for c in chunks[:-1])
            if q.get("how", "").startswith("readline") or q.get("how") in ("iter", "readlines")
            else True,
        }
        out = json.dumps(report).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(out)))])
        return [out]

    if path == "/noread":
        start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                            ("Content-Length", "7")])
        return [b"no way\n"]

    if path == "/partial":
        got = environ["wsgi.input"].read(int(q.get("n", "10")))
        out = str(len(got)).encode()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(out)))])
        return [out]

    if path == "/rss":
        with open("/proc/self/status") as f:
            rss = [line.split()[1] for line in f if line.startswith("VmRSS:")][0]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [rss.encode()]

    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]
