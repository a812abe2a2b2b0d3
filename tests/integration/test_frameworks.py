"""Real frameworks from Debian packages through greenc (issue 4): Flask, Django,
Falcon, Pyramid and Bottle, one greenc per framework, driven over real sockets
with http.client and curl. The apps are in apps/frameworks/."""

import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import uuid
from urllib.parse import urlencode

import pytest

from harness import HERE, REPO, REQUEST_TIMEOUT, Greenc, app_block, parse_responses, serving

FRAMEWORK_APPS = HERE / "apps" / "frameworks"
PYTHON = "/usr/bin/python3"           # Debian's: the frameworks come from apt


def start_framework(tmp_path_factory, name, wsgi, env=(), locations=None, ready="/"):
    base = tmp_path_factory.mktemp(name)
    code = base / "code"
    shutil.copytree(FRAMEWORK_APPS, code, ignore=shutil.ignore_patterns("__pycache__"))
    (base / "data").mkdir()
    g = Greenc(base / "srv")
    extra = " ".join(f"env {e.format(data=base / 'data')};" for e in env)
    g.write_config(apps=app_block(name, wsgi=wsgi, python_path=code, workers=1, extra=extra),
                   locations=locations or ('        location = /healthz { return 200 "ok\\n"; }\n'
                                           f"        location / {{ pass {name}; }}\n"))
    g.code, g.base, g.data = code, base, base / "data"
    return g


def multipart(fields, files):
    """(body, content_type) for a multipart/form-data request."""
    boundary = "greenc-" + uuid.uuid4().hex
    out = []
    for name, value in fields:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   .encode() + value.encode() + b"\r\n")
    for name, filename, ctype, data in files:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                   f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode() +
                   data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def curl(*args):
    if not shutil.which("curl"):
        pytest.skip("curl not installed")
    out = subprocess.run(["curl", "-sS", "--max-time", str(REQUEST_TIMEOUT), *args],
                         capture_output=True, timeout=REQUEST_TIMEOUT + 5)
    assert out.returncode == 0, out.stderr
    return out.stdout


def curl_head_body(*args):
    out = curl("-D", "-", *args)
    head, _, body = out.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def raw_get(g, target, extra=b""):
    return g.raw(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + extra +
                 b"Connection: close\r\n\r\n")


UPLOAD = os.urandom(150_000) + b"\r\n--not-a-boundary\r\n" + bytes(range(256))


# ---------------------------------------------------------------------------
# Flask


@pytest.fixture(scope="module")
def flask_srv(tmp_path_factory):
    g = start_framework(tmp_path_factory, "flaskfull", "flask_full:app",
                        env=["GREENC_FW_DATA={data}"])
    with serving(g):
        yield g


def test_flask_hello_headers_byte_for_byte(flask_srv):
    data = raw_get(flask_srv, "/")
    (r,) = parse_responses(data)
    assert r.status == 200
    assert r.body == b"Hello from Flask!"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Content-Length"] == "17"
    assert data.count(b"\r\nContent-Length:") == 1
    assert data.endswith(b"\r\n\r\nHello from Flask!")


def test_flask_form_post_with_repeated_fields(flask_srv):
    body = urlencode([("name", "Grace Hopper"), ("tag", "a"), ("tag", "b&c")]).encode()
    r = flask_srv.request("POST", "/form?q=%C3%A9", body=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200
    assert r.body == "name=Grace Hopper tags=a,b&c q=é".encode()


def test_flask_form_post_with_curl(flask_srv):
    out = curl("--data-urlencode", "name=Ada", "-d", "tag=x", "-d", "tag=y",
               f"http://127.0.0.1:{flask_srv.port}/form")
    assert out == b"name=Ada tags=x,y q="


def test_flask_json_round_trip(flask_srv):
    payload = {"numbers": [1, 2, 39], "text": "h\u00e9llo \u20ac", "nested": {"ok": True}}
    r = flask_srv.request("POST", "/json", body=json.dumps(payload).encode(),
                          headers={"Content-Type": "application/json"})
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"received": payload, "total": 42}


def test_flask_multipart_upload(flask_srv):
    body, ctype = multipart([("note", "a note")],
                            [("file", "blob.bin", "application/octet-stream", UPLOAD)])
    r = flask_srv.request("POST", "/upload", body=body, headers={"Content-Type": ctype})
    assert r.status == 200, r
    assert r.json() == {"filename": "blob.bin", "content_type": "application/octet-stream",
                        "size": len(UPLOAD), "sha256": hashlib.sha256(UPLOAD).hexdigest(),
                        "note": "a note"}


def test_flask_multipart_upload_with_curl(flask_srv, tmp_path):
    f = tmp_path / "upload.bin"
    f.write_bytes(UPLOAD)
    out = curl("-F", f"file=@{f};type=application/x-test", "-F", "note=from curl",
               f"http://127.0.0.1:{flask_srv.port}/upload")
    assert json.loads(out) == {"filename": "upload.bin", "content_type": "application/x-test",
                               "size": len(UPLOAD),
                               "sha256": hashlib.sha256(UPLOAD).hexdigest(),
                               "note": "from curl"}


def test_flask_chunked_request_body_upload(flask_srv):
    body, ctype = multipart([("note", "chunked")], [("file", "c.bin", "text/plain", b"abc\n")])
    conn = http.client.HTTPConnection("127.0.0.1", flask_srv.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("POST", "/upload", body=iter([body[:10], body[10:]]),
                     headers={"Content-Type": ctype}, encode_chunked=True)
        r = conn.getresponse()
        got = json.loads(r.read())
    finally:
        conn.close()
    assert r.status == 200
    assert got["size"] == 4 and got["note"] == "chunked"


def test_flask_streaming_response(flask_srv):
    data = raw_get(flask_srv, "/stream?n=4&tag=t")
    (r,) = parse_responses(data)
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.body == b"line 0 of t\nline 1 of t\nline 2 of t\nline 3 of t\n"
    # No Content-Length from the app: chunked on HTTP/1.1.
    assert r.headers["Content-Length"] is None
    assert r.headers["Transfer-Encoding"] == "chunked"


def test_flask_streaming_response_http10_is_close_delimited(flask_srv):
    data = flask_srv.raw(b"GET /stream?n=3 HTTP/1.0\r\nHost: x\r\n\r\n")
    assert data.closed
    (r,) = parse_responses(data)
    assert r.body == b"line 0 of stream\nline 1 of stream\nline 2 of stream\n"
    assert r.headers["Transfer-Encoding"] is None


def test_flask_send_file(flask_srv):
    content = os.urandom(256 * 1024 + 7)
    (flask_srv.data / "f1.bin").write_bytes(content)
    r = flask_srv.get("/download/f1.bin")
    assert r.status == 200
    assert r.body == content
    assert r.headers["Content-Length"] == str(len(content))
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == "attachment; filename=data.bin"
    etag = r.headers["ETag"]
    assert etag

    # Conditional and range requests (Werkzeug answers them, greenc carries them).
    r304 = flask_srv.get("/download/f1.bin", headers={"If-None-Match": etag})
    assert r304.status == 304 and r304.body == b""
    r206 = flask_srv.get("/download/f1.bin", headers={"Range": "bytes=10-19"})
    assert r206.status == 206
    assert r206.body == content[10:20]
    assert r206.headers["Content-Range"] == f"bytes 10-19/{len(content)}"
    assert r206.headers["Content-Length"] == "10"


def test_flask_send_file_with_curl(flask_srv, tmp_path):
    content = os.urandom(100_000)
    (flask_srv.data / "f2.bin").write_bytes(content)
    head, body = curl_head_body(f"http://127.0.0.1:{flask_srv.port}/download/f2.bin")
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    assert f"\r\nContent-Length: {len(content)}\r\n" in head + "\r\n"
    assert body == content


# ---------------------------------------------------------------------------
# Django


DJANGO_USER, DJANGO_PASSWORD = "admin", "greenc-Pa55word!"


@pytest.fixture(scope="module")
def django_srv(tmp_path_factory):
    g = start_framework(tmp_path_factory, "django", "djsite.wsgi:application")
    db, static = g.base / "db.sqlite3", g.base / "static"
    env = dict(os.environ, PYTHONPATH=str(g.code), DJANGO_SETTINGS_MODULE="djsite.settings",
               GREENC_DJANGO_DB=str(db), GREENC_DJANGO_STATIC=str(static))
    setup = (
        "import django\n"
        "from django.core.management import call_command\n"
        "django.setup()\n"
        "call_command('migrate', verbosity=0, interactive=False)\n"
        "call_command('collectstatic', verbosity=0, interactive=False)\n"
        "from django.contrib.auth.models import User\n"
        f"User.objects.create_superuser({DJANGO_USER!r}, 'a@example.com', {DJANGO_PASSWORD!r})\n"
    )
    out = subprocess.run([PYTHON, "-c", setup], env=env, capture_output=True, text=True,
                         timeout=120, cwd=g.base)
    assert out.returncode == 0, out.stderr
    apps = app_block("django", wsgi="djsite.wsgi:application", python_path=g.code, workers=1,
                     extra=f"env DJANGO_SETTINGS_MODULE=djsite.settings; "
                           f"env GREENC_DJANGO_DB={db}; env GREENC_DJANGO_STATIC={static};")
    g.write_config(apps=apps, locations=(
        '        location = /healthz { return 200 "ok\\n"; }\n'
        f"        location /static/ {{ alias {static}/; include {REPO}/conf/mime.types; }}\n"
        "        location / { pass django; }\n"))
    g.static = static
    with serving(g):
        yield g


def _cookies(headers):
    jar = {}
    for value in headers.get_all("Set-Cookie") or []:
        name, _, rest = value.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def _login_page(g):
    r = g.get("/admin/login/?next=/admin/")
    assert r.status == 200, r
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', r.body)
    assert token, r.body[:500]
    cookies = _cookies(r.headers)
    assert "csrftoken" in cookies
    return r, token.group(1).decode(), cookies


def _login(g, password):
    _, token, cookies = _login_page(g)
    body = urlencode({"csrfmiddlewaretoken": token, "username": DJANGO_USER,
                      "password": password, "next": "/admin/"}).encode()
    return g.request("POST", "/admin/login/?next=/admin/", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={cookies['csrftoken']}"})


def test_django_hello(django_srv):
    r = django_srv.get("/hello/")
    assert r.status == 200
    assert r.body == b"Hello from Django!"
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["Content-Length"] == "18"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_django_admin_login_page_has_a_csrf_token(django_srv):
    r, token, cookies = _login_page(django_srv)
    assert b"<title>Log in | Django site admin</title>" in r.body
    assert len(token) == 64 and len(cookies["csrftoken"]) == 64
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


def test_django_admin_redirects_anonymous_users_to_login(django_srv):
    r = django_srv.get("/admin/")
    assert r.status == 302
    assert r.headers["Location"] == "/admin/login/?next=/admin/"


def test_django_login_with_wrong_password_shows_the_error(django_srv):
    r = _login(django_srv, "wrong password")
    assert r.status == 200
    assert b"Please enter the correct username and password" in r.body


def test_django_login_with_the_right_password_redirects_and_opens_the_admin(django_srv):
    r = _login(django_srv, DJANGO_PASSWORD)
    assert r.status == 302, r.body[:300]
    assert r.headers["Location"] == "/admin/"
    session = _cookies(r.headers)["sessionid"]
    admin = django_srv.get("/admin/", headers={"Cookie": f"sessionid={session}"})
    assert admin.status == 200
    assert b"Site administration" in admin.body


def test_django_post_without_csrf_is_refused(django_srv):
    r = django_srv.request("POST", "/form/", body=b"name=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 403
    assert b"CSRF verification failed" in r.body


def test_django_form_post_with_csrf_cookie_and_token(django_srv):
    r = django_srv.get("/form/")
    token = re.search(rb'value="([^"]+)"', r.body).group(1).decode()
    cookie = _cookies(r.headers)["csrftoken"]
    body = urlencode([("csrfmiddlewaretoken", token), ("name", "Ren\u00e9e"),
                      ("item", "1"), ("item", "2")]).encode()
    r = django_srv.request("POST", "/form/", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookie}"})
    assert r.status == 200, r.body[:300]
    assert r.body == "name=Ren\u00e9e items=1,2".encode()


def test_django_form_post_with_curl_and_a_cookie_jar(django_srv, tmp_path):
    jar = tmp_path / "jar.txt"
    url = f"http://127.0.0.1:{django_srv.port}/form/"
    page = curl("-c", str(jar), url)
    token = re.search(rb'value="([^"]+)"', page).group(1).decode()
    out = curl("-b", str(jar), "-d", f"csrfmiddlewaretoken={token}", "-d", "name=curl",
               "-d", "item=z", url)
    assert out == b"name=curl items=z"


def test_django_streaming_response(django_srv):
    data = raw_get(django_srv, "/stream/?n=5")
    (r,) = parse_responses(data)
    assert r.status == 200
    assert r.body == b"row 0\nrow 1\nrow 2\nrow 3\nrow 4\n"
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["Transfer-Encoding"] == "chunked"


def test_django_static_files_through_location_static(django_srv):
    path = "admin/css/base.css"
    expected = (django_srv.static / path).read_bytes()
    r = django_srv.get(f"/static/{path}")
    assert r.status == 200
    assert r.body == expected
    assert r.headers["Content-Type"].startswith("text/css")


# ---------------------------------------------------------------------------
# Falcon, Pyramid, Bottle


def _serve(tmp_path_factory, name, wsgi):
    with serving(start_framework(tmp_path_factory, name, wsgi)) as g:
        yield g


@pytest.fixture(scope="module")
def falcon_srv(tmp_path_factory):
    yield from _serve(tmp_path_factory, "falcon", "falcon_app:app")


@pytest.fixture(scope="module")
def pyramid_srv(tmp_path_factory):
    yield from _serve(tmp_path_factory, "pyramid", "pyramid_app:app")


@pytest.fixture(scope="module")
def bottle_srv(tmp_path_factory):
    yield from _serve(tmp_path_factory, "bottle", "bottle_app:app")


def test_falcon_hello(falcon_srv):
    data = raw_get(falcon_srv, "/")
    (r,) = parse_responses(data)
    assert r.status == 200
    assert r.body == b"Hello from Falcon!"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["Content-Length"] == "18"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_falcon_upload_length_and_sha256(falcon_srv, chunked):
    conn = http.client.HTTPConnection("127.0.0.1", falcon_srv.port, timeout=REQUEST_TIMEOUT)
    try:
        body = iter([UPLOAD[:70000], UPLOAD[70000:]]) if chunked else UPLOAD
        conn.request("POST", "/upload", body=body, encode_chunked=chunked,
                     headers={"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        got = json.loads(r.read())
    finally:
        conn.close()
    assert r.status == 200
    assert got == {"length": len(UPLOAD), "sha256": hashlib.sha256(UPLOAD).hexdigest(),
                   "content_type": "application/octet-stream"}


def test_falcon_put_echoes_the_body_with_curl(falcon_srv, tmp_path):
    f = tmp_path / "body.bin"
    f.write_bytes(UPLOAD)
    head, body = curl_head_body("-X", "PUT", "--data-binary", f"@{f}", "-H",
                                "Content-Type: application/x-blob",
                                f"http://127.0.0.1:{falcon_srv.port}/upload")
    assert body == UPLOAD
    # Falcon writes its header names in lower case: greenc passes them on as they are.
    assert "\r\ncontent-type: application/x-blob\r\n" in head + "\r\n"
    assert f"\r\ncontent-length: {len(UPLOAD)}\r\n" in head + "\r\n"


def test_pyramid_hello(pyramid_srv):
    r = pyramid_srv.get("/")
    assert r.status == 200
    assert r.body == b"Hello from Pyramid!"
    assert r.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert r.headers["Content-Length"] == "19"


def test_pyramid_multipart_upload(pyramid_srv):
    body, ctype = multipart([("note", "pyr")], [("file", "p.bin", "application/x-p", UPLOAD)])
    r = pyramid_srv.request("POST", "/upload", body=body, headers={"Content-Type": ctype})
    assert r.status == 200, r
    assert r.json() == {"filename": "p.bin", "length": len(UPLOAD),
                        "sha256": hashlib.sha256(UPLOAD).hexdigest(), "note": "pyr"}


def test_pyramid_echo_with_curl_chunked(pyramid_srv, tmp_path):
    f = tmp_path / "body.bin"
    f.write_bytes(UPLOAD)
    out = curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{f}",
               f"http://127.0.0.1:{pyramid_srv.port}/echo")
    assert out == UPLOAD


def test_bottle_hello(bottle_srv):
    r = bottle_srv.get("/")
    assert r.status == 200
    assert r.body == b"Hello from Bottle!"
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["Content-Length"] == "18"


def test_bottle_echo_byte_for_byte(bottle_srv):
    r = bottle_srv.request("POST", "/echo", body=UPLOAD,
                           headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200
    assert r.body == UPLOAD
    assert r.headers["Content-Length"] == str(len(UPLOAD))


def test_bottle_multipart_upload_with_curl(bottle_srv, tmp_path):
    f = tmp_path / "b.bin"
    f.write_bytes(UPLOAD)
    out = curl("-F", f"file=@{f}", f"http://127.0.0.1:{bottle_srv.port}/upload")
    assert json.loads(out) == {"filename": "b.bin", "length": len(UPLOAD),
                               "sha256": hashlib.sha256(UPLOAD).hexdigest()}
