"""For the `home` (virtualenv) test: reports which interpreter prefix the
worker runs with and where a module that only the venv holds was found."""

import json
import sys


def application(environ, start_response):
    import greenc_venv_marker               # only in the venv's site-packages
    try:
        import werkzeug                     # a Debian package: system site-packages
        system_site = werkzeug.__file__
    except ImportError:
        system_site = None
    body = json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix,
                       "marker": greenc_venv_marker.__file__,
                       "marker_value": greenc_venv_marker.WHERE,
                       "system_site": system_site}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
