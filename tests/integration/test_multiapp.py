"""Three real apps in one config (issue 5, "Real material to test against"): Flask,
Django and Falcon from Debian's packages (the apps of apps/frameworks/), each its own
worker group, reached by host name and by path on one shared port (the router group),
each on a dedicated port of its own (direct listeners), Django also on a unix socket
driven with `curl --unix-socket`, static files served by greenc checked with curl's
conditional and range requests, and, when the tests run as root, two apps running as two
system users created for the test.

Every app is loaded through multi_entry.py (written below), which answers /_whoami with
the app's name, uid, SCRIPT_NAME and which `helpers` module it imported: each app's
first python_path holds its own helpers.py, so the answer shows that apps importing a
module of the same name do not see each other's.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile

import pytest

from harness import (HERE, READY_TIMEOUT, REPO, REQUEST_TIMEOUT, Greenc, children_of, free_port,
                     pid_alive, run_greenc, serving, wait_for)

FRAMEWORK_APPS = HERE / "apps" / "frameworks"
APPS = ("flask", "django", "falcon")
TARGETS = {"flask": "flask_full:app", "django": "djsite.wsgi:application",
           "falcon": "falcon_app:app"}
GREETING = {"flask": b"Hello from Flask!", "django": b"Hello from Django!",
            "falcon": b"Hello from Falcon!"}
HELLO_PATH = {"flask": "/", "django": "/hello/", "falcon": "/"}

ENTRY = '''\
"""multi_entry: loads $MULTI_TARGET (module:callable) and answers /_whoami itself."""
import importlib
import json
import os

import helpers

_module, _, _attr = os.environ["MULTI_TARGET"].partition(":")
_inner = getattr(importlib.import_module(_module), _attr)


def application(environ, start_response):
    if environ.get("PATH_INFO") != "/_whoami":
        return _inner(environ, start_response)
    body = json.dumps({"app": os.environ["MULTI_APP"], "helpers": helpers.WHO,
                       "helpers_file": helpers.__file__, "uid": os.getuid(),
                       "pid": os.getpid(), "script_name": environ.get("SCRIPT_NAME", ""),
                       "server_name": environ.get("SERVER_NAME")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

STATIC_BODY = b"".join(b"line %05d of the static file\n" for i in range(400))


def run(*cmd, check=True):
    out = subprocess.run(list(cmd), capture_output=True, timeout=REQUEST_TIMEOUT + 10)
    if check:
        assert out.returncode == 0, (cmd, out.stderr)
    return out


def curl(*args):
    """curl's head and body (-D -); the status line is the head's first line."""
    out = run("curl", "-sS", "--max-time", str(REQUEST_TIMEOUT), "--path-as-is", "-D", "-",
              *args)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def status_of(head):
    return int(head.split(" ", 2)[1])


def header(head, name):
    m = re.search(rf"^{name}: (.*)$", head, re.I | re.M)
    return m and m.group(1).strip()


def make_users():
    """Two system users for the per-app `user` when running as root, else None."""
    if os.geteuid() != 0:
        return None
    tag = secrets.token_hex(3)
    users = {"flask": f"grnmt-fl-{tag}", "django": f"grnmt-dj-{tag}"}
    made = []
    try:
        for name in users.values():
            run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name)
            made.append(name)
    except BaseException:
        for name in made:
            run("userdel", name, check=False)
        raise
    return users


def config(g, base, users, direct, sock):
    site = base / "site"
    apps = []
    for name in APPS:
        extra = ""
        if name == "django":
            extra = (f"env DJANGO_SETTINGS_MODULE=djsite.multi_settings; "
                     f"env GREENC_DJANGO_DB={base}/db.sqlite3;")
        if users and name in users:
            extra += f" user {users[name]};"
        apps.append(f"app {name} {{ wsgi multi_entry:application; "
                    f"python_path {base}/paths/{name}; python_path {base}/code; "
                    f"env MULTI_APP={name}; env MULTI_TARGET={TARGETS[name]}; "
                    f"workers {2 if name == 'flask' else 1}; {extra} }}")
    return f"""
daemon off;
pid {g.pid_file};
error_log {g.error_log} info;
graceful_timeout 5s;
router_workers 1;
{chr(10).join(apps)}
http {{
    access_log {base}/access.log;
    server {{
        listen 127.0.0.1:{g.port} default_server;
        server_name flask.test;
        location = /healthz {{ return 200 "ok\\n"; }}
        location /static/ {{ root {site}; }}
        location /api/ {{ pass falcon; script_name /api; }}
        location / {{ pass flask; }}
    }}
    server {{
        listen 127.0.0.1:{g.port};
        server_name django.test;
        location / {{ pass django; }}
    }}
    server {{
        listen 127.0.0.1:{g.port};
        server_name ~^(?<tenant>[a-z]+)\\.tenants\\.test$;
        location = /hello {{ return 200 "tenant $tenant\\n"; }}
        location /static/ {{ root {base}/tenants/$tenant; }}
        location / {{ pass falcon; }}
    }}
    server {{
        listen 127.0.0.1:{direct['flask']};
        location /static/ {{ root {site}; }}
        location / {{ pass flask; }}
    }}
    server {{
        listen 127.0.0.1:{direct['django']};
        location / {{ pass django; }}
    }}
    server {{
        listen 127.0.0.1:{direct['falcon']};
        location / {{ pass falcon; }}
    }}
    server {{
        listen unix:{sock};
        location / {{ pass django; }}
    }}
}}
"""


@pytest.fixture(scope="module")
def three():
    if not shutil.which("curl"):
        pytest.skip("curl not installed")
    # Not under pytest's 0700 tmp dir: apps that run as other users must read their code.
    base = type(HERE)(tempfile.mkdtemp(prefix="greenc-multi-"))
    users = None
    try:
        base.chmod(0o755)
        shutil.copytree(FRAMEWORK_APPS, base / "code",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (base / "code" / "multi_entry.py").write_text(ENTRY)
        (base / "code" / "djsite" / "multi_settings.py").write_text(
            "from .settings import *  # noqa: F401,F403\nALLOWED_HOSTS = ['*']\n")
        for name in APPS:
            (base / "paths" / name).mkdir(parents=True)
            (base / "paths" / name / "helpers.py").write_text(f"WHO = {name!r}\n")
        (base / "site" / "static").mkdir(parents=True)
        (base / "site" / "static" / "page.txt").write_bytes(STATIC_BODY)
        (base / "secret.txt").write_text("outside the root\n")
        (base / "tenants" / "acme" / "static").mkdir(parents=True)
        (base / "tenants" / "acme" / "static" / "page.txt").write_text("acme's page\n")
        for d, _, files in os.walk(base):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)

        users = make_users()
        if users is None:
            print("test_multiapp: not root, so the apps run as the test's user and the "
                  "per-app user checks are skipped")
        g = Greenc(base / "srv")
        g.direct = {name: free_port() for name in APPS}
        g.sock = f"/tmp/greenc-multi-{secrets.token_hex(4)}.sock"
        g.base, g.users = base, users
        g.write_config(config(g, base, users, g.direct, g.sock))
        with serving(g):
            wait_for(lambda: all(_whoami_ok(g, name) for name in APPS), READY_TIMEOUT,
                     interval=0.1, what="the three apps behind the router")
            yield g
    finally:
        for name in (users or {}).values():
            run("userdel", name, check=False)
        shutil.rmtree(base, ignore_errors=True)


def route(name):
    """(Host, path prefix) of an app on the shared port."""
    return {"flask": ("flask.test", ""), "django": ("django.test", ""),
            "falcon": ("flask.test", "/api")}[name]


def whoami(g, name, port=None):
    host, prefix = route(name)
    if port is not None:
        host, prefix = "127.0.0.1", ""
    r = g.get(prefix + "/_whoami", headers={"Host": host}, port=port)
    assert r.status == 200, (name, r.status, r.body[:300], g.diagnostics())
    return r.json()


def _whoami_ok(g, name):
    try:
        return whoami(g, name)["app"] == name
    except (OSError, AssertionError):
        return False


def group_pids(g, group):
    """Live worker pids of a group, from the master's "start worker process" lines."""
    pids = re.findall(rf'start worker process (\d+) for (?:app|group) "{group}"', g.log_text())
    return sorted({int(p) for p in pids
                   if pid_alive(int(p)) and int(p) in children_of(g.pid)})


# --- routing -------------------------------------------------------------------------


def test_two_virtual_hosts_on_one_port_reach_their_apps(three):
    for name in ("flask", "django"):
        host, _ = route(name)
        r = three.get(HELLO_PATH[name], headers={"Host": host})
        assert r.status == 200 and r.body == GREETING[name], (name, r)
        who = whoami(three, name)
        assert who["app"] == name and who["script_name"] == ""
    # an unknown host gets the default server (flask.test)
    r = three.get("/", headers={"Host": "nobody.test"})
    assert r.body == GREETING["flask"]


def test_api_mount_reaches_falcon_with_script_name(three):
    r = three.get("/api/", headers={"Host": "flask.test"})
    assert r.status == 200 and r.body == GREETING["falcon"], r
    who = whoami(three, "falcon")
    assert who["app"] == "falcon" and who["script_name"] == "/api"
    body = os.urandom(70_000)
    r = three.request("POST", "/api/upload", headers={"Host": "flask.test",
                                                      "Content-Type": "application/x-bin"},
                      body=body)
    assert r.status == 200, r
    assert r.json()["length"] == len(body)
    # the mount is on flask.test only: on django.test, /api/ is Django's (a 404 page)
    r = three.get("/api/", headers={"Host": "django.test"})
    assert r.status == 404


@pytest.mark.parametrize("name", APPS)
def test_each_app_answers_on_its_dedicated_port(three, name):
    port = three.direct[name]
    r = three.get(HELLO_PATH[name], port=port)
    assert r.status == 200 and r.body == GREETING[name], (name, r)
    who = whoami(three, name, port=port)
    assert who["app"] == name and who["script_name"] == ""
    assert who["pid"] in group_pids(three, name)


def test_unix_socket_listener_with_curl(three):
    head, body = curl("--unix-socket", three.sock, "http://localhost/hello/")
    assert status_of(head) == 200, head
    assert body == GREETING["django"]
    head, body = curl("--unix-socket", three.sock, "http://localhost/_whoami")
    assert json.loads(body)["app"] == "django"


def test_apps_importing_a_module_of_the_same_name_do_not_see_each_others(three):
    for name in APPS:
        who = whoami(three, name)
        assert who["helpers"] == name, who
        assert who["helpers_file"] == f"{three.base}/paths/{name}/helpers.py", who


def test_server_name_captures_through_the_router(three):
    r = three.get("/hello", headers={"Host": "acme.tenants.test"})
    assert r.status == 200 and r.body == b"tenant acme\n", r
    r = three.get("/static/page.txt", headers={"Host": "acme.tenants.test"})
    assert r.status == 200 and r.body == b"acme's page\n", r
    r = three.get("/static/page.txt", headers={"Host": "other.tenants.test"})
    assert r.status == 404
    r = three.get("/", headers={"Host": "acme.tenants.test"})
    assert r.status == 200 and r.body == GREETING["falcon"]


# --- static files --------------------------------------------------------------------


STATIC_URLS = ("router", "direct")


def static_url(g, kind, path="/static/page.txt"):
    if kind == "router":
        return [f"http://127.0.0.1:{g.port}{path}", "-H", "Host: flask.test"]
    return [f"http://127.0.0.1:{g.direct['flask']}{path}"]


@pytest.mark.parametrize("kind", STATIC_URLS)
def test_static_file_with_validators(three, kind):
    head, body = curl(*static_url(three, kind))
    assert status_of(head) == 200, head
    assert body == STATIC_BODY
    assert header(head, "Content-Length") == str(len(STATIC_BODY))
    assert header(head, "ETag") and header(head, "Last-Modified"), head


@pytest.mark.parametrize("kind", STATIC_URLS)
def test_curl_z_conditional_requests(three, kind):
    local = three.base / "site" / "static" / "page.txt"
    # -z FILE sends If-Modified-Since with the file's mtime: the same file, so 304
    head, body = curl("-z", str(local), *static_url(three, kind))
    assert status_of(head) == 304 and body == b"", head
    head, body = curl("-z", "1 Jan 2001 00:00:00 GMT", *static_url(three, kind))
    assert status_of(head) == 200 and body == STATIC_BODY, head
    # -z -DATE sends If-Unmodified-Since: modified since 2001, so 412
    head, body = curl("-z", "-1 Jan 2001 00:00:00 GMT", *static_url(three, kind))
    assert status_of(head) == 412, head


@pytest.mark.parametrize("kind", STATIC_URLS)
def test_curl_etag_compare_gets_304(three, kind, tmp_path):
    etag = tmp_path / "etag"
    head, body = curl("--etag-save", str(etag), *static_url(three, kind))
    assert status_of(head) == 200 and etag.read_text().strip() == header(head, "ETag")
    head, body = curl("--etag-compare", str(etag), *static_url(three, kind))
    assert status_of(head) == 304 and body == b"", head
    etag.write_text('"not-the-etag"\n')
    head, body = curl("--etag-compare", str(etag), *static_url(three, kind))
    assert status_of(head) == 200 and body == STATIC_BODY, head


@pytest.mark.parametrize("kind", STATIC_URLS)
def test_curl_range_requests(three, kind):
    size = len(STATIC_BODY)
    head, body = curl("-r", "100-199", *static_url(three, kind))
    assert status_of(head) == 206, head
    assert header(head, "Content-Range") == f"bytes 100-199/{size}"
    assert body == STATIC_BODY[100:200]
    head, body = curl("-r", "-50", *static_url(three, kind))
    assert status_of(head) == 206 and body == STATIC_BODY[-50:], head
    head, body = curl("-r", f"{size + 10}-", *static_url(three, kind))
    assert status_of(head) == 416, head
    assert header(head, "Content-Range") == f"bytes */{size}"


TRAVERSALS = (
    "/static/../../etc/passwd",
    "/static/../../../../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/static/.%2e/.%2e/secret.txt",
    "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/..%2f..%2fsecret.txt",
    "/static/%2e%2e/secret.txt",
)


@pytest.mark.parametrize("kind", STATIC_URLS)
@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_through_the_three_app_config_never_leaks_a_file(three, kind, target):
    port = three.port if kind == "router" else three.direct["flask"]
    out = three.raw(f"GET {target} HTTP/1.1\r\nHost: flask.test\r\nConnection: close\r\n\r\n"
                    .encode(), port=port)
    assert out.startswith(b"HTTP/1.1 "), out[:200]
    status = int(out.split(b" ", 2)[1])
    # what normalizes back inside / goes to the Flask app, whose 404 is fine too
    assert status in (400, 404), out[:300]
    assert b"root:" not in out and b"outside the root" not in out


# --- processes and users ---------------------------------------------------------------


def has_libpython(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libpython" in f.read()


def test_no_python_in_the_master_or_the_router(three):
    routers = group_pids(three, "router")
    assert len(routers) == 1, routers
    assert not has_libpython(three.pid), "the master maps libpython"
    assert not has_libpython(routers[0]), "the router maps libpython"
    for name in APPS:
        pids = group_pids(three, name)
        assert len(pids) == (2 if name == "flask" else 1), (name, pids)
        assert all(has_libpython(p) for p in pids), name
    out = run("ps", "-o", "pid=,comm=", "--ppid", str(three.pid)).stdout.decode()
    assert {int(line.split()[0]) for line in out.splitlines()} == \
        set(routers) | {p for name in APPS for p in group_pids(three, name)}, out


def test_each_app_runs_as_its_user(three):
    if three.users is None:
        pytest.skip("not root: cannot create users or switch workers to them")
    import pwd
    out = run("ps", "-o", "user=,pid=,comm=", "--ppid", str(three.pid)).stdout.decode()
    ps_user = {int(pid): user for user, pid, *_ in (line.split() for line in out.splitlines())}
    for name in APPS:
        want = three.users.get(name, "root")
        uid = pwd.getpwnam(want).pw_uid
        for pid in group_pids(three, name):
            # ps truncates long names to 8 chars + "+", /proc/PID/status does not
            assert ps_user[pid] in (want, want[:7] + "+", str(uid)), (name, pid, out)
            with open(f"/proc/{pid}/status") as f:
                uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
            assert uids == [str(uid)] * 4, (name, pid, uids)
        assert whoami(three, name)["uid"] == uid
    # the master and the router stay root (no main `user` in this config)
    assert ps_user[group_pids(three, "router")[0]] == "root"


# --- the documented example ------------------------------------------------------------


EXAMPLE = REPO / "conf" / "examples" / "three-apps.conf"


def example_prefix(tmp_path):
    for d in ("blog/src/blog", "blog/public", "shop/src", "api/src", "logs", "run"):
        (tmp_path / d).mkdir(parents=True)
    for f in ("blog/src/blog/__init__.py", "blog/src/blog/wsgi.py", "shop/src/shop.py",
              "api/src/api.py"):
        (tmp_path / f).write_text("")
    return tmp_path


def test_the_three_app_example_config_passes_t(tmp_path):
    out = run_greenc("-t", "-p", str(example_prefix(tmp_path)), "-c", str(EXAMPLE))
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stderr


def test_the_three_app_example_names_a_missing_app_module(tmp_path):
    prefix = example_prefix(tmp_path)
    (prefix / "shop" / "src" / "shop.py").unlink()
    out = run_greenc("-t", "-p", str(prefix), "-c", str(EXAMPLE))
    assert out.returncode == 1 and 'app "shop"' in out.stderr, out.stderr
