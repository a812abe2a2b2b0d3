"""Hello-world WSGI app shared by every server in the benchmark.

Kept minimal on purpose: the benchmark measures server machinery, not the app.
"""

BODY = b"Hello world!\n"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", "13")])
    return [BODY]
