"""The app behind the TLS tests: it reports what TLS told it and moves bytes both ways."""

import json
import os
import time

KEYS = ("wsgi.url_scheme", "HTTPS", "SSL_PROTOCOL", "SSL_CIPHER", "SSL_SERVER_NAME",
        "SSL_CLIENT_VERIFY", "SSL_CLIENT_S_DN", "SSL_CLIENT_I_DN", "SSL_CLIENT_SERIAL",
        "SSL_CLIENT_CERT", "SERVER_NAME", "HTTP_HOST")


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/tls":
        report = {k: environ.get(k) for k in KEYS}
        report["pid"] = os.getpid()
        body = json.dumps(report).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    if path == "/sleep":
        time.sleep(float(environ.get("QUERY_STRING") or "0.5"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slept\n"]
    if path == "/echo":
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(data)))])
        return [data]
    if path == "/stream":
        # 200 chunks of 5000 bytes, no Content-Length: chunked on HTTP/1.1
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (bytes([65 + i % 26]) * 5000 for i in range(200))
    if path == "/file":
        f = open(environ["TLS_TEST_FILE"] if "TLS_TEST_FILE" in environ
                 else __file__.replace("tls_app.py", "big.bin"), "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 65536)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello over tls\n"]
