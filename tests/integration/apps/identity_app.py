"""An app that records who it runs as when greenc imports it, for the per-app `user` and
resource-limit tests: GET / answers JSON with the uid, gid and groups seen at import and
now, and the worker's pid."""

import json
import os

AT_IMPORT = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
             "groups": sorted(os.getgroups())}


def application(environ, start_response):
    body = json.dumps({"at_import": AT_IMPORT, "uid": os.getuid(), "gid": os.getgid(),
                       "groups": sorted(os.getgroups()), "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
