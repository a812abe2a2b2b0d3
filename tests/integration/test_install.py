"""`make install` lays greenc out under the configured paths, and what it
installs runs: the installed binary, started with the installed greenc.conf,
serves the installed demo app.

The first test installs this build (`make install DESTDIR=...` from the top of
the tree, with the tree's own ./configure choices). The second runs
./configure --prefix=/usr --conf-path=/etc/greenc/greenc.conf in a copy of the
tree (configure rewrites the top-level Makefile, so not in this one) and
installs the binary already built here rather than compiling it again
(`make -o build`).

What the tests change in an installed greenc.conf before they run it: the
listen port (8000 may be taken) and, for absolute paths, DESTDIR in front
(the files are not at their final place).
"""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness import (READY_TIMEOUT, REPO, SLOW, STOP_TIMEOUT, children_of, free_port,
                     http_request, wait_for)

MAKE_TIMEOUT = 600          # make install builds first if the tree is not built


def _build_dir(top):
    """The build directory the top-level Makefile forwards to."""
    makefile = top / "Makefile"
    if not makefile.exists():
        pytest.skip(f"{top} is not configured (no Makefile): run ./configure first")
    m = re.search(r"-f (\S+)/Makefile", makefile.read_text())
    assert m, "the top-level Makefile names no build directory"
    return top / m.group(1)


def _make_vars(builddir):
    """The installation paths in BUILDDIR/Makefile (written by ./configure)."""
    found = {}
    for line in (builddir / "Makefile").read_text().splitlines():
        m = re.match(r"([A-Z_]+) =\t+(.*)$", line)
        if m:
            found[m.group(1)] = m.group(2)
    paths = {k: found[k] for k in ("PREFIX", "SBIN_PATH", "CONF_PATH", "CONF_DIR",
                                   "PID_DIR", "LOGS_DIR", "DEMO_DIR")}
    paths["MANDIR"] = found["MANDIR"].replace("$(PREFIX)", paths["PREFIX"])
    for name, value in paths.items():
        assert value.startswith("/") and "'" not in value, (name, value)
    return paths


def _under(dest, path):
    return dest / path.lstrip("/")


def _check_layout(dest, paths):
    sbin = _under(dest, paths["SBIN_PATH"])
    assert sbin.is_file() and os.access(sbin, os.X_OK)
    conf_dir = _under(dest, paths["CONF_DIR"])
    assert _under(dest, paths["CONF_PATH"]).is_file()
    for name in ("mime.types", "greenc.conf.default", "mime.types.default"):
        assert (conf_dir / name).is_file(), name
    assert (conf_dir / "mime.types").read_text() == (REPO / "conf" / "mime.types").read_text()
    mandir = _under(dest, paths["MANDIR"])
    assert (mandir / "man5" / "greenc.conf.5").is_file()
    assert (mandir / "man8" / "greenc.8").is_file()
    assert _under(dest, paths["LOGS_DIR"]).is_dir()
    assert _under(dest, paths["PID_DIR"]).is_dir()
    assert (_under(dest, paths["DEMO_DIR"]) / "demo_app.py").is_file()


def _runnable_conf(dest, conf_path):
    """The installed greenc.conf with a free port and, in front of every
    absolute path it names, DESTDIR. Returns (path of the copy, port)."""
    text = conf_path.read_text()
    port = free_port()
    assert text.count("listen 127.0.0.1:8000;") == 1
    text = text.replace("listen 127.0.0.1:8000;", f"listen 127.0.0.1:{port};")
    text = re.sub(r"^(\s*(?:pid|include|python_path)\s+)(/\S+);",
                  lambda m: f"{m.group(1)}{_under(dest, m.group(2))};", text, flags=re.M)
    conf_path.write_text(text)
    return conf_path, port


def _serve_demo(binary, conf, port, workdir):
    """Start the installed binary with conf, check it serves the demo app and
    answers `-s status`, stop it by PID."""
    cp = subprocess.run([binary, "-t", "-c", conf], capture_output=True, text=True,
                        timeout=30 * SLOW)
    assert cp.returncode == 0, cp.stderr
    err_path = workdir / "greenc.stderr"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([binary, "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err)
    try:
        def healthy():
            assert proc.poll() is None, err_path.read_text()
            try:
                return http_request(port, "GET", "/healthz", timeout=1 * SLOW).status == 200
            except OSError:
                return False
        wait_for(healthy, READY_TIMEOUT, interval=0.05, what="the installed greenc")
        r = http_request(port, "GET", "/")
        assert r.status == 200 and "Served by greenc" in r.text, r
        # The page names the worker that served it: one of this master's.
        worker = int(re.search(r"worker pid</th><td>(\d+)<", r.text).group(1))
        assert worker in children_of(proc.pid)
        status = subprocess.run([binary, "-s", "status", "-c", conf], capture_output=True,
                                text=True, timeout=30 * SLOW)
        assert status.returncode == 0, status.stderr
        assert "demo" in status.stdout, status.stdout
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    assert proc.returncode == 0, err_path.read_text()


def test_make_install_lays_out_the_prefix_and_the_installed_server_serves_the_demo(tmp_path):
    builddir = _build_dir(REPO)
    paths = _make_vars(builddir)
    dest = tmp_path / "dest"
    started = time.monotonic()
    cp = subprocess.run(["make", "install", f"DESTDIR={dest}"], cwd=REPO,
                        capture_output=True, text=True, timeout=MAKE_TIMEOUT)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    print(f"make install: {time.monotonic() - started:.1f}s")
    _check_layout(dest, paths)

    prefix = paths["PREFIX"]
    if paths["CONF_PATH"] == prefix + "/conf/greenc.conf":
        # The default layout: everything under the prefix, as the issue lists it.
        installed = sorted(str(p.relative_to(_under(dest, prefix)))
                           for p in _under(dest, prefix).rglob("*") if p.is_file())
        assert installed == ["conf/greenc.conf", "conf/greenc.conf.default",
                             "conf/mime.types", "conf/mime.types.default",
                             "sbin/greenc", "share/greenc/demo/demo_app.py",
                             "share/man/man5/greenc.conf.5", "share/man/man8/greenc.8"]
        assert _under(dest, prefix + "/logs").is_dir()

    conf, port = _runnable_conf(dest, _under(dest, paths["CONF_PATH"]))
    _serve_demo(_under(dest, paths["SBIN_PATH"]), conf, port, tmp_path)

    # A second install keeps the edited config and the old binary as .old.
    cp = subprocess.run(["make", "install", f"DESTDIR={dest}"], cwd=REPO,
                        capture_output=True, text=True, timeout=MAKE_TIMEOUT)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    assert f"listen 127.0.0.1:{port};" in conf.read_text()
    assert _under(dest, paths["SBIN_PATH"] + ".old").is_file()


def test_make_install_with_fhs_paths_puts_files_where_the_fhs_says(tmp_path):
    builddir = _build_dir(REPO)
    binary = builddir / "greenc"
    if not binary.exists():
        pytest.skip(f"{binary} is not built: run make first")
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", builddir.name, "Makefile",
                                                  "__pycache__", ".pytest_cache"))
    started = time.monotonic()
    cp = subprocess.run(["./configure", "--prefix=/usr", "--conf-path=/etc/greenc/greenc.conf",
                         "--builddir=build-fhs"], cwd=src, capture_output=True, text=True,
                        timeout=MAKE_TIMEOUT)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    print(f"configure: {time.monotonic() - started:.1f}s")
    assert _build_dir(src) == src / "build-fhs"
    header = (src / "build-fhs" / "grn_auto_config.h").read_text()
    assert '"/run/greenc.pid"' in header and '"/var/log/greenc/error.log"' in header
    assert '"/etc/greenc/greenc.conf"' in header

    # The binary built here stands in for a build of the copy: -o build
    # keeps make from compiling it again.
    shutil.copy2(binary, src / "build-fhs" / "greenc")
    dest = tmp_path / "dest"
    cp = subprocess.run(["make", "-f", "build-fhs/Makefile", "-o", "build", "install",
                         f"DESTDIR={dest}"], cwd=src, capture_output=True, text=True,
                        timeout=MAKE_TIMEOUT)
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    assert " -c " not in cp.stdout, "make install compiled: -o build did not hold"

    paths = _make_vars(src / "build-fhs")
    assert paths == {"PREFIX": "/usr", "SBIN_PATH": "/usr/sbin/greenc",
                     "CONF_PATH": "/etc/greenc/greenc.conf", "CONF_DIR": "/etc/greenc",
                     "PID_DIR": "/run", "LOGS_DIR": "/var/log/greenc",
                     "DEMO_DIR": "/usr/share/greenc/demo", "MANDIR": "/usr/share/man"}
    _check_layout(dest, paths)
    assert not (dest / "usr" / "logs").exists() and not (dest / "usr" / "conf").exists()
    conf_path = dest / "etc" / "greenc" / "greenc.conf"
    text = conf_path.read_text()
    # The installed config names the installed files, with absolute paths:
    # greenc resolves relative ones against /etc here.
    assert re.search(r"^pid /run/greenc\.pid;", text, re.M)
    assert re.search(r"^\s+include /etc/greenc/mime\.types;", text, re.M)
    assert re.search(r"^\s+python_path /usr/share/greenc/demo;", text, re.M)

    conf, port = _runnable_conf(dest, conf_path)
    _serve_demo(dest / "usr" / "sbin" / "greenc", conf, port, tmp_path)
