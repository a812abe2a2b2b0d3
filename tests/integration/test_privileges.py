"""Privileges (issue 10): what an app worker that runs as its app's `user` can reach, when the
master refuses to run app code as root, and the modes of the files and sockets greenc makes.

The users are created for the test (useradd --system) and removed after it; the tests that
need them, or that switch users at all, run only as root and say so when skipped. The app is
apps/pressure_app.py: GET /open?path=P tells whether the worker can open P, and with which
errno it could not.
"""

import errno
import http.client
import os
import pwd
import secrets
import shutil
import signal
import ssl
import stat
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from harness import (REQUEST_TIMEOUT, Greenc, free_port, run_greenc, serving, wait_for)


def _run(*cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, (cmd, out.stderr)
    return out


def _need_root():
    if os.geteuid() != 0:
        print("test_privileges: not root, so this privilege check is skipped")
        pytest.skip("not root: cannot create users or have greenc switch to them")


@pytest.fixture
def users():
    """Two system users, each with its own group: the users of apps "a" and "b"."""
    _need_root()
    tag = secrets.token_hex(3)
    names = {"a": f"grnpriv-a-{tag}", "b": f"grnpriv-b-{tag}"}
    made = []
    try:
        for name in names.values():
            _run("useradd", "--system", "--user-group", "--no-create-home",
                 "--shell", "/usr/sbin/nologin", name)
            made.append(name)
        yield names
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)
            subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def base():
    """A directory every user may traverse (pytest's tmp dirs are 0700 root)."""
    d = Path(tempfile.mkdtemp(prefix="greenc-priv-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _server(base):
    g = Greenc(base / "srv")
    for d in (g.dir, g.apps_dir):
        d.chmod(0o755)
    return g


def _opens(g, path, port=None):
    r = g.get("/open?path=" + str(path), port=port, headers={"Connection": "close"})
    assert r.status == 200, r
    return r.json()


def _self_signed(d):
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", str(d / "tls.key"), "-out", str(d / "tls.pem"))
    (d / "tls.key").chmod(0o600)
    return d / "tls.pem", d / "tls.key"


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return {k: v.split() for k, _, v in (line.partition(":") for line in f)}


def test_app_user_cannot_read_the_tls_key_nor_the_other_apps_files(users, base):
    g = _server(base)
    pem, key = _self_signed(base)
    assert (key.stat().st_uid, stat.S_IMODE(key.stat().st_mode)) == (0, 0o600)
    private = {}
    for app, user in users.items():
        d = base / f"{app}-data"
        d.mkdir()
        (d / "secret.txt").write_text(f"{app}'s secret\n")
        pw = pwd.getpwnam(user)
        for p in (d, d / "secret.txt"):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        d.chmod(0o700)
        private[app] = d / "secret.txt"
    # Readable by group root: a worker that kept root's supplementary groups could read it.
    root_group = base / "root-group.txt"
    root_group.write_text("root's group only\n")
    root_group.chmod(0o640)

    port_b, tls_port = free_port(), free_port()
    g.write_config(textwrap.dedent(f"""\
        daemon off;
        pid {g.pid_file};
        error_log {g.error_log} info;
        app a {{ wsgi pressure_app:application; python_path {g.apps_dir}; workers 1;
                user {users['a']}; }}
        app b {{ wsgi pressure_app:application; python_path {g.apps_dir}; workers 1;
                user {users['b']}; }}
        http {{
            access_log off;
            server {{
                listen 127.0.0.1:{g.port};
                location = /healthz {{ return 200 "ok\\n"; }}
                location / {{ pass a; }}
            }}
            server {{ listen 127.0.0.1:{port_b}; location / {{ pass b; }} }}
            server {{
                listen 127.0.0.1:{tls_port} ssl;
                ssl_certificate {pem};
                ssl_certificate_key {key};
                location / {{ pass a; }}
            }}
        }}
        """))
    with serving(g):
        g.wait_ready("/")
        g.wait_ready("/", port=port_b)
        # Each app reads its own files (the endpoint works, the user is right) ...
        assert _opens(g, private["a"]) == {"ok": True}
        assert _opens(g, private["b"], port=port_b) == {"ok": True}
        # ... and nothing else: not the other app's, not the key, not root's group's.
        for path, port in ((private["b"], None), (private["a"], port_b), (key, None),
                           (key, port_b), (root_group, None), (root_group, port_b)):
            got = _opens(g, path, port=port)
            assert (got["ok"], got.get("errno")) == (False, errno.EACCES), (path, port, got)
        # The worker that cannot read the key still serves TLS with it (the master loaded it).
        ctx = ssl.create_default_context(cafile=str(pem))
        ctx.check_hostname = False
        conn = http.client.HTTPSConnection("127.0.0.1", tls_port, context=ctx,
                                           timeout=REQUEST_TIMEOUT)
        conn.request("GET", "/open?path=" + str(private["a"]))
        assert conn.getresponse().read() == b'{"ok": true}'
        conn.close()
        # And holds no descriptor of it either (one the app could read through /proc).
        uids = {str(pwd.getpwnam(u).pw_uid) for u in users.values()}
        for pid in g.wait_workers(2):
            st = _status(pid)
            assert st["Uid"][0] in uids and len(set(st["Uid"])) == 1, st["Uid"]
            assert "0" not in st["Groups"], st["Groups"]
            fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            assert not [f for f in fds if f.startswith(str(base)) and
                        not f.startswith(str(g.dir))], fds


def _root_app_config(g, main_extra="", app_extra="user root;"):
    return textwrap.dedent(f"""\
        daemon off;
        pid {g.pid_file};
        error_log {g.error_log} info;
        {main_extra}
        app hello {{ wsgi pressure_app:application; python_path {g.apps_dir}; workers 1;
                    {app_extra} }}
        http {{
            access_log off;
            server {{
                listen 127.0.0.1:{g.port};
                location = /healthz {{ return 200 "ok\\n"; }}
                location / {{ pass hello; }}
            }}
        }}
        """)


REFUSED = ('app "hello" in {conf}:5 would run as root (user "root"): set another "user", or '
           '"allow_root_workers on;" in the main context if the app must run as root')


def test_explicit_user_root_is_refused_unless_allow_root_workers(greenc_factory):
    _need_root()
    g = greenc_factory()
    refused = REFUSED.format(conf=g.conf)
    for main_extra, app_extra in (("", "user root;"), ("user root;", ""),
                                  ("", "user root root;")):
        g.write_config(_root_app_config(g, main_extra, app_extra))
        out = run_greenc("-t", "-c", g.conf)
        assert out.returncode == 1 and refused in out.stderr, (main_extra, app_extra, out)
        g.start(wait=False)
        assert g.proc.wait(timeout=REQUEST_TIMEOUT) == 1
        assert refused in g.stderr_text()
        g.stderr_file.write_text("")
    # Confirmed: it starts, and its worker is root.
    g.write_config(_root_app_config(g, "allow_root_workers on;"))
    assert run_greenc("-t", "-c", g.conf).returncode == 0
    g.start()
    g.wait_ready("/")
    [worker] = g.wait_workers(1)
    assert _status(worker)["Uid"] == ["0"] * 4


REFUSED_LINE = r'\[emerg\] .*app "hello" in .* would run as root \(user "root"\)'


@pytest.mark.allow_log(REFUSED_LINE)
def test_reload_to_user_root_is_refused_and_the_old_workers_serve_on(base):
    _need_root()
    g = _server(base)
    g.write_config(_root_app_config(g, app_extra="user nobody;"))
    with serving(g, allow_log=(REFUSED_LINE,)):
        g.wait_ready("/")
        [worker] = g.wait_workers(1)
        g.write_config(_root_app_config(g, app_extra="user root;"))
        g.send_signal(signal.SIGHUP)
        g.wait_log("would run as root")
        g.wait_log("reload failed; still serving with the previous configuration")
        assert g.get("/").status == 200
        assert g.worker_pids() == [worker]
        assert _status(worker)["Uid"][0] == str(pwd.getpwnam("nobody").pw_uid)


def test_pid_file_logs_and_unix_sockets_have_safe_modes_under_umask_000(greenc_factory, base):
    # Started with umask 000, greenc still makes nothing that others may write: the pid file
    # and the logs are 0644, a unix listener has exactly its mode= (0666 without one, as
    # documented: a listener is there to be connected to).
    g = greenc_factory()
    private, public = base / "private.sock", base / "public.sock"      # others may traverse
    g.write_config(textwrap.dedent(f"""\
        daemon off;
        pid {g.pid_file};
        error_log {g.error_log} info;
        app hello {{ wsgi pressure_app:application; python_path {g.apps_dir}; workers 1; }}
        http {{
            access_log {g.dir}/access.log;
            server {{
                listen 127.0.0.1:{g.port};
                location = /healthz {{ return 200 "ok\\n"; }}
                location / {{ pass hello; }}
            }}
            server {{ listen unix:{private} mode=0600; location / {{ pass hello; }} }}
            server {{ listen unix:{public}; location / {{ pass hello; }} }}
        }}
        """))
    g.start(wrapper=["sh", "-c", 'umask 000 && exec "$@"', "sh"])
    g.get("/")
    wait_for(lambda: (g.dir / "access.log").exists(), 5, what="the access log")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode)
             for p in (g.pid_file, g.error_log, g.dir / "access.log", private, public)}
    assert modes == {"greenc.pid": 0o644, "error.log": 0o644, "access.log": 0o644,
                     "private.sock": 0o600, "public.sock": 0o666}, modes
    assert g.pid_file.stat().st_uid == os.geteuid()
    if os.geteuid() != 0:
        print("test_privileges: not root, so the connect-as-another-user half is skipped")
        return
    # The modes hold: another user cannot connect to the 0600 socket, can to the 0666 one.
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1]); print('connected')\n"
             "except OSError as e:\n    print(e.errno)\n")
    for sock, want in ((private, str(errno.EACCES)), (public, "connected")):
        out = _run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   "/usr/bin/python3", "-c", probe, str(sock))
        assert out.stdout.strip() == want, (sock, out.stdout)
