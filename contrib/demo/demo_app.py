"""The demo app that conf/greenc.conf serves on http://127.0.0.1:8000/.

A plain WSGI (PEP 3333) callable with no dependencies beyond the standard
library, so it runs in whatever interpreter greenc was built against:

    /       a page saying who served it: method, path, Python version, worker pid
    /echo   sends back the request body (try: curl --data-binary hello :8000/echo)
"""

import html
import os
import platform
import sys

PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>greenc demo</title></head>
<body>
<h1>Served by greenc</h1>
<p>This page comes from a WSGI app running inside a greenc worker process.</p>
<table>
<tr><th align="left">method</th><td>{method}</td></tr>
<tr><th align="left">path</th><td>{path}</td></tr>
<tr><th align="left">query</th><td>{query}</td></tr>
<tr><th align="left">Python</th><td>{python}</td></tr>
<tr><th align="left">worker pid</th><td>{pid}</td></tr>
<tr><th align="left">server</th><td>{server}</td></tr>
</table>
<p>Reload the page a few times: requests are spread over the app's workers.
POST something to <code>/echo</code> to see the request body come back.</p>
</body>
</html>
"""


def _echo(environ, start_response):
    length = environ.get("CONTENT_LENGTH") or "0"
    body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/echo":
        return _echo(environ, start_response)

    page = PAGE.format(
        method=html.escape(environ.get("REQUEST_METHOD", "")),
        path=html.escape(environ.get("PATH_INFO", "")),
        query=html.escape(environ.get("QUERY_STRING", "")) or "(none)",
        python=html.escape(f"{platform.python_implementation()} {sys.version.split()[0]}"),
        pid=os.getpid(),
        server=html.escape(environ.get("SERVER_SOFTWARE", "greenc")),
    ).encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(page)))])
    return [page]


if __name__ == "__main__":
    # Handy to compare with the standard library's reference server:
    #   python3 contrib/demo/demo_app.py   then   curl http://127.0.0.1:8001/
    from wsgiref.simple_server import make_server

    with make_server("127.0.0.1", 8001, application) as server:
        print("wsgiref serving the demo on http://127.0.0.1:8001/")
        server.serve_forever()
