"""The framework apps of test_frameworks.py (Flask, Django, Falcon, Pyramid,
Bottle) behind wsgiref.validate.validator and Werkzeug's LintMiddleware
(issue 4: both validators pass on every test app).

One greenc runs the five apps, each on a listener of its own, wrapped by
apps/frameworks/validated_app.py: `location /wsgiref/` and `location /lint/`
mount the app behind one validator each. A GET, a form POST, an upload and a
streamed response go through each; any validator warning or error (recorded
in a problems file by the app, see validated_app.py) fails the test.
"""

import hashlib
import re
import shutil
from urllib.parse import urlencode

import pytest

from harness import HERE, Greenc, app_block, free_port, http_request, serving
from test_frameworks import UPLOAD, multipart

FRAMEWORK_APPS = HERE / "apps" / "frameworks"
FRAMEWORKS = {
    "flask": "flask_full:app",
    "django": "djsite.wsgi:application",
    "falcon": "falcon_app:app",
    "pyramid": "pyramid_app:app",
    "bottle": "bottle_app:app",
}
FORM = urlencode([("name", "Grace"), ("tag", "a"), ("tag", "b&c")]).encode()
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    base = tmp_path_factory.mktemp("validated")
    code = base / "code"
    shutil.copytree(FRAMEWORK_APPS, code, ignore=shutil.ignore_patterns("__pycache__"))
    (base / "data").mkdir()
    g = Greenc(base / "srv")
    apps, servers = [], []
    g.ports, g.problem_files = {}, {}
    for name, target in FRAMEWORKS.items():
        problems = base / f"problems-{name}.txt"
        env = (f"env GREENC_VALIDATED={target}; env GREENC_PROBLEMS={problems}; "
               f"env GREENC_FW_DATA={base / 'data'};")
        if name == "django":      # its views here need no database: the file is never made
            env += (" env DJANGO_SETTINGS_MODULE=djsite.settings;"
                    f" env GREENC_DJANGO_DB={base / 'unused.sqlite3'};")
        apps.append(app_block(name, wsgi="validated_app:application", python_path=code,
                              workers=1, extra=env))
        port = g.ports[name] = free_port()
        g.problem_files[name] = problems
        servers.append("    server {\n"
                       f"        listen 127.0.0.1:{port};\n"
                       f"        location /wsgiref/ {{ pass {name}; script_name /wsgiref; }}\n"
                       f"        location /lint/ {{ pass {name}; script_name /lint; }}\n"
                       f"        location / {{ pass {name}; }}\n"
                       "    }\n")
    g.write_config(apps="\n".join(apps), extra_servers="".join(servers),
                   locations='        location = /healthz { return 200 "ok\\n"; }\n')
    with serving(g):
        yield g


def _problems(g, name):
    try:
        return g.problem_files[name].read_text()
    except FileNotFoundError:
        return ""


class Driver:
    """Requests to one framework behind one validator; done() fails on any complaint."""

    def __init__(self, g, name, validator):
        self.g, self.name, self.mount = g, name, f"/{validator}"
        self.port = g.ports[name]
        self.seen = len(_problems(g, name))

    def request(self, method, path, body=None, headers=None, status=200):
        r = http_request(self.port, method, self.mount + path, headers=headers, body=body)
        assert status is None or r.status == status, (self.name, method, path, r, self.g.log_text()[-2000:])
        return r

    def done(self):
        # The app has one worker and one thread: once it answered this request, the ones
        # before are finished, their iterables closed and released (a validator checks
        # close() in __del__).
        r = http_request(self.port, "GET", "/not-validated")
        assert r.status == 404 and r.body == b"no validator\n"
        problems = _problems(self.g, self.name)[self.seen:]
        assert problems == "", f"{self.name} behind {self.mount[1:]} complained:\n{problems}"


def _upload(d, path, sha_key="sha256"):
    body, ctype = multipart([("note", "validated")],
                            [("file", "v.bin", "application/octet-stream", UPLOAD)])
    got = d.request("POST", path, body=body, headers={"Content-Type": ctype}).json()
    assert got[sha_key] == hashlib.sha256(UPLOAD).hexdigest()


def drive_flask(d):
    assert d.request("GET", "/").body == b"Hello from Flask!"
    assert d.request("POST", "/form", body=FORM, headers=FORM_TYPE).body == \
        b"name=Grace tags=a,b&c q="
    _upload(d, "/upload")
    assert d.request("GET", "/stream?n=3&tag=v").body == \
        b"line 0 of v\nline 1 of v\nline 2 of v\n"
    (d.g.dir.parent / "data" / "v.bin").write_bytes(UPLOAD)
    r = d.request("GET", "/download/v.bin")                    # send_file: wsgi.file_wrapper
    assert r.body == UPLOAD
    assert d.request("GET", "/download/v.bin", headers={"Range": "bytes=0-9"},
                     status=206).body == UPLOAD[:10]


def drive_django(d):
    assert d.request("GET", "/hello/").body == b"Hello from Django!"
    page = d.request("GET", "/form/")
    token = re.search(rb'value="([^"]+)"', page.body).group(1).decode()
    cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)
    headers = dict(FORM_TYPE, Cookie=f"csrftoken={cookie}")
    body = urlencode([("csrfmiddlewaretoken", token), ("name", "Grace"), ("item", "1"),
                      ("item", "2")]).encode()
    assert d.request("POST", "/form/", body=body, headers=headers).body == \
        b"name=Grace items=1,2"
    body, ctype = multipart([("csrfmiddlewaretoken", token), ("name", "up")],
                            [("item", "v.bin", "application/octet-stream", UPLOAD)])
    assert d.request("POST", "/form/", body=body, headers={
        "Content-Type": ctype, "Cookie": f"csrftoken={cookie}"}).body == b"name=up items="
    assert d.request("GET", "/stream/?n=3").body == b"row 0\nrow 1\nrow 2\n"


def drive_falcon(d):
    assert d.request("GET", "/").body == b"Hello from Falcon!"
    assert d.request("POST", "/form", body=FORM, headers=FORM_TYPE).body == \
        b"name=Grace tags=a,b&c"
    got = d.request("POST", "/upload", body=UPLOAD,
                    headers={"Content-Type": "application/octet-stream"}).json()
    assert got["sha256"] == hashlib.sha256(UPLOAD).hexdigest()
    assert d.request("GET", "/stream?n=3").body == b"line 0\nline 1\nline 2\n"


def drive_pyramid(d):
    assert d.request("GET", "/").body == b"Hello from Pyramid!"
    assert d.request("POST", "/form", body=FORM, headers=FORM_TYPE).body == \
        b"name=Grace tags=a,b&c"
    _upload(d, "/upload")
    assert d.request("POST", "/echo", body=UPLOAD).body == UPLOAD
    assert d.request("GET", "/stream?n=3").body == b"line 0\nline 1\nline 2\n"


def drive_bottle(d):
    assert d.request("GET", "/").body == b"Hello from Bottle!"
    assert d.request("POST", "/form", body=FORM, headers=FORM_TYPE).body == \
        b"name=Grace tags=a,b&c"
    _upload(d, "/upload")
    assert d.request("POST", "/echo", body=UPLOAD).body == UPLOAD
    assert d.request("GET", "/stream?n=3").body == b"line 0\nline 1\nline 2\n"


DRIVERS = {"flask": drive_flask, "django": drive_django, "falcon": drive_falcon,
           "pyramid": drive_pyramid, "bottle": drive_bottle}


@pytest.mark.parametrize("validator", ["wsgiref", "lint"])
@pytest.mark.parametrize("name", list(FRAMEWORKS))
def test_framework_app_passes_the_validator(validated, name, validator):
    d = Driver(validated, name, validator)
    DRIVERS[name](d)
    d.done()


@pytest.mark.parametrize("validator, complaint", [
    ("wsgiref", "wsgiref.validate: "),
    ("lint", "WSGIWarning: WSGI does not guarantee an EOF marker"),
])
def test_a_validator_complaint_fails_the_check(validated, validator, complaint):
    """Negative control: a Flask view that calls wsgi.input.read() without a size breaks
    PEP 3333 as both validators read it. Flask turns what the view raises into a 500;
    the problems file must still say so, so the check above cannot pass by not looking."""
    d = Driver(validated, "flask", validator)
    # wsgiref's validator raises (a 500 from Flask); Lint only warns (a 200).
    d.request("POST", "/read-unbounded", body=b"abc", status=None)
    with pytest.raises(AssertionError, match="complained"):
        d.done()
    assert complaint in _problems(validated, "flask")[d.seen:]
