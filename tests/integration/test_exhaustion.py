"""Resource exhaustion (issue 10): out of descriptors, out of address space, out of disk for
request-body temp files, at worker_connections. Each case must give a log line that says what
ran out, the right answer to the requests it hits (503 from the router, 500 from an app
worker, the connection queued at worker_connections), and service must come back by itself
once the pressure goes: no restart, no replaced worker unless the worker could not boot.

test_http_limits.py already has the accept side of EMFILE in an app worker (accepting pauses,
the pause is a timer) and the queueing at worker_connections; the tests here take each case
on to the requests it hits and to the recovery.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness import (REQUEST_TIMEOUT, SANITIZED, SLOW, Greenc, app_block, parse_responses,
                     recv_until_close, wait_for)

H = b"Host: t\r\n"
EMFILE_ACCEPT = (r'\[crit\] .*accept4\(\) on .* failed; pausing accepts for \d+ms '
                 r'\(24: Too many open files\)')


def ulimit_n(n):
    """A wrapper for Greenc.start(): the master (and all it forks) under `ulimit -n n`."""
    return ["sh", "-c", f'ulimit -n {n} && exec "$@"', "sh"]


def hold_until_paused(g, pid, limit=200):
    """Open idle connections until process pid logs that accepting paused (EMFILE): then
    every descriptor it may have is in use. Returns the connections; the first ones were
    accepted, the last ones wait in the listen queue."""
    held = []
    needle = f"] {pid}#"
    while len(held) < limit:
        held.append(socket.create_connection(("127.0.0.1", g.port), timeout=REQUEST_TIMEOUT))
        if len(held) % 8 == 0 and any(needle in line and "pausing accepts" in line
                                      for line in g.log_text().splitlines()):
            return held
    try:
        wait_for(lambda: any(needle in line and "pausing accepts" in line
                             for line in g.log_text().splitlines()), 5 * SLOW,
                 what=f"process {pid} to run out of descriptors")
    except AssertionError:
        for s in held:
            s.close()
        raise
    return held


def exchange(sock, request):
    """Send one request on an accepted connection and read its response whole."""
    sock.sendall(request)
    raw = recv_until_close(sock, REQUEST_TIMEOUT,
                           until=lambda b: _complete(b))
    (r,) = parse_responses(raw)
    return r


def _complete(data):
    try:
        parse_responses(data)
        return True
    except (ValueError, AssertionError, IndexError):
        return False


def upload(n):
    return (b"POST /upload HTTP/1.1\r\n" + H + b"Content-Length: %d\r\n" % n +
            b"Connection: close\r\n\r\n" + b"u" * n)


# ---------------------------------------------------------------------------
# out of descriptors


@pytest.mark.allow_log(EMFILE_ACCEPT)
def test_router_out_of_descriptors_answers_503_then_serves_again(greenc_factory):
    # The whole server under `ulimit -n 64`: the router (one C-only worker) runs out of
    # descriptors holding idle client connections. A request on one of them needs a
    # connection to the app: socket() fails with EMFILE, and that is the router being
    # overloaded for now (503), not the app being broken (502).
    g = greenc_factory()
    g.write_config(
        apps=app_block("a", wsgi="pressure_app:application", python_path=g.apps_dir,
                       workers=1) + "\n" +
        app_block("b", wsgi="pressure_app:application", python_path=g.apps_dir, workers=1),
        main_extra="router_workers 1;",
        locations='        location = /healthz { return 200 "ok\\n"; }\n'
                  "        location /b/ { pass b; }\n"
                  "        location / { pass a; }\n")
    g.start(wrapper=ulimit_n(64))
    g.wait_log('for group "router"')
    router = int(re.search(r'start worker process (\d+) for group "router"',
                           g.log_text()).group(1))
    held = hold_until_paused(g, router)
    try:
        r = exchange(held[0], b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        assert r.status == 503, r
        g.wait_log('socket() for app "a" failed; answering 503 (24: Too many open files)',
                   timeout=2 * SLOW)
    finally:
        for s in held:
            s.close()
    # The held connections close, the router's pause timer fires, and it serves again.
    r = g.get("/", headers={"Connection": "close"}, timeout=10 * SLOW)
    assert r.status == 200 and r.body == b"ok\n"
    assert r.status == g.get("/b/", headers={"Connection": "close"}).status
    assert router in g.worker_pids(), "the router was replaced"


@pytest.mark.allow_log(EMFILE_ACCEPT,
                       r'\[crit\] .*cannot create a temp file for a request body in '
                       r'".*" \(client_body_temp_path\) \(24: Too many open files\)')
def test_app_worker_out_of_descriptors_fails_an_upload_with_500_then_recovers(greenc_factory):
    # limit_nofile on the app: the worker runs out of descriptors holding idle connections.
    # An upload bigger than client_body_buffer_size then needs a temp file: 500 and a
    # [crit] line naming the temp path and EMFILE. Once the connections close, the same
    # upload is served by the same worker.
    g = greenc_factory()
    g.write_config(apps=app_block("hello", wsgi="pressure_app:application",
                                  python_path=g.apps_dir, workers=1,
                                  extra="limit_nofile 48;"),
                   http_extra="client_body_buffer_size 16k;")
    g.start()
    [worker] = g.wait_workers(1)
    held = hold_until_paused(g, worker)
    try:
        r = exchange(held[0], upload(64 << 10))
        assert r.status == 500, r
        line = next(x for x in g.log_text().splitlines() if "cannot create a temp file" in x)
        assert f"[crit] {worker}#" in line and "(24: Too many open files)" in line, line
        assert 'request: "POST /upload HTTP/1.1"' in line, line
    finally:
        for s in held:
            s.close()
    r = g.request("POST", "/upload", body=b"u" * (64 << 10), timeout=10 * SLOW,
                  headers={"Connection": "close"})
    assert r.status == 200 and r.json() == {"len": 64 << 10, "pid": worker}, r
    assert g.worker_pids() == [worker]


# ---------------------------------------------------------------------------
# out of address space


needs_real_limit_as = pytest.mark.skipif(
    SANITIZED, reason="AddressSanitizer reserves terabytes of address space for its shadow "
                      "memory: a small limit_as cannot be tested on a sanitizer build")


@needs_real_limit_as
def test_memory_error_under_limit_as_is_a_500_and_the_worker_serves_on(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block("hello", wsgi="pressure_app:application",
                                  python_path=g.apps_dir, workers=1,
                                  extra="limit_as 256m;"))
    g.start()
    [worker] = g.wait_workers(1)
    r = g.get("/alloc?mb=1024")
    assert r.status == 500
    log = g.log_text()
    tb = log[log.index('unhandled exception in WSGI application'):]
    assert "\nMemoryError\n" in tb, tb[:2000]
    assert "(out of memory within the app's limit_as of 268435456 bytes: raise " \
           "\"limit_as\" if the app needs more)" in tb, tb[:2000]
    # The same worker goes on, and can still allocate what fits.
    assert g.get("/alloc?mb=16").json() == {"allocated": 16 << 20}
    assert g.get("/").status == 200
    assert g.worker_pids() == [worker]


@needs_real_limit_as
def test_limit_as_too_small_to_boot_is_logged_and_a_reload_with_more_serves(greenc_factory):
    # 12m cannot even map libpython, 24m maps it but the interpreter runs out while it
    # starts: two different failures, each must say what ran out and point at limit_as.
    # Meanwhile the master backs off (no crash loop); a reload with room serves.
    g = greenc_factory()
    for limit, needle in (("12m", "cannot load the Python module: "),
                          ("24m", "MemoryError")):
        g.write_config(apps=app_block("hello", wsgi="pressure_app:application",
                                      python_path=g.apps_dir, workers=1,
                                      extra=f"limit_as {limit};"))
        if g.proc is None:
            g.start(wait=False)
        else:
            g.send_signal(signal.SIGHUP)
        g.wait_log(needle)
        wait_for(lambda: "failed to boot" in g.log_text().split(needle, 1)[1], 10 * SLOW,
                 what="the boot failure")
    log = g.log_text()
    line = next(x for x in log.splitlines() if "cannot load the Python module" in x)
    assert "[error]" in line and "limited to 12582912 bytes" in line and \
        '"limit_as" too small?' in line, line
    assert "MemoryError (the traceback could not be formatted)\n(out of memory within " \
           "the app's limit_as of 25165824 bytes" in log or \
           "\nMemoryError\n(out of memory within the app's limit_as of 25165824" in log, \
           log[-3000:]
    g.write_config(apps=app_block("hello", wsgi="pressure_app:application",
                                  python_path=g.apps_dir, workers=1, extra="limit_as 1g;"))
    g.send_signal(signal.SIGHUP)
    g.wait_ready("/", timeout=40 * SLOW)      # the backoff may still run a few seconds
    assert g.get("/").body == b"ok\n"


# ---------------------------------------------------------------------------
# out of disk for request bodies


def _can_mount_tmpfs():
    if os.geteuid() != 0:
        return "not root: cannot mount a tmpfs in a mount namespace"
    probe = tempfile.mkdtemp(prefix="greenc-tmpfs-probe-")
    try:
        out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                              f"mount -t tmpfs -o size=64k tmpfs {probe}"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare -m does not run here: {e}"
    finally:
        os.rmdir(probe)
    if out.returncode != 0:
        return f"cannot mount a tmpfs in a new mount namespace: {out.stderr.strip()}"
    return None


@pytest.mark.allow_log(r'\[crit\] .*writing a request body to its temp file failed '
                       r'\(28: No space left on device\)')
def test_full_temp_disk_fails_an_upload_with_500_then_recovers(greenc_factory):
    why = _can_mount_tmpfs()
    if why:
        print(f"test_exhaustion: {why}; the full-disk test is skipped")
        pytest.skip(why)
    g = greenc_factory()
    temp = g.dir / "body-temp"
    temp.mkdir()
    g.write_config(apps=app_block("hello", wsgi="pressure_app:application",
                                  python_path=g.apps_dir, workers=1),
                   http_extra=f"client_body_buffer_size 16k; client_body_temp_path {temp};")
    # greenc runs in its own mount namespace, where a 1 MiB tmpfs is mounted on the temp
    # path; the test reaches that tmpfs through /proc/PID/root.
    g.start(wrapper=["unshare", "-m", "--propagation", "private", "sh", "-c",
                     f'mount -t tmpfs -o size=1m tmpfs {temp} && exec "$@"', "sh"])
    [worker] = g.wait_workers(1)
    inside = Path(f"/proc/{g.pid}/root") / str(temp).lstrip("/")
    with open(f"/proc/{g.pid}/mounts") as f:
        assert any(line.split()[1:3] == [str(temp), "tmpfs"] for line in f), \
            "the tmpfs is not mounted in greenc's mount namespace"

    body = b"u" * (256 << 10)
    r = g.request("POST", "/upload", body=body, headers={"Connection": "close"})
    assert r.status == 200 and r.json()["len"] == len(body)

    # The worker closes the upload's temp file just after the response: wait for its blocks
    # to be free, or the filler leaves them for the next upload.
    wait_for(lambda: (lambda st: st.f_bfree == st.f_blocks)(os.statvfs(inside)), 5 * SLOW,
             what="the temp file's blocks to be freed")
    filler = inside / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:                                          # fill the tmpfs to the last block
        for size in (65536, 4096):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError as e:
                assert e.errno == 28, e
    finally:
        os.close(fd)
    try:
        r = g.request("POST", "/upload", body=body, headers={"Connection": "close"})
        assert r.status == 500
        line = next(x for x in g.log_text().splitlines()
                    if "temp file failed" in x)
        assert f"[crit] {worker}#" in line and "No space left on device" in line, line
        assert 'request: "POST /upload HTTP/1.1"' in line, line
    finally:
        filler.unlink()
    r = g.request("POST", "/upload", body=body, headers={"Connection": "close"})
    assert r.status == 200 and r.json() == {"len": len(body), "pid": worker}


# ---------------------------------------------------------------------------
# worker_connections


def test_worker_connections_reached_is_logged_once_and_the_queue_drains(greenc_factory):
    # At its limit a worker stops accepting (connections wait in the listen queue, none is
    # dropped or refused): one [warn] line says so and what to raise, not one per connection.
    g = greenc_factory()
    g.write_config(main_extra="worker_connections 16;",
                   apps=app_block("hello", python_path=g.apps_dir, workers=1))
    g.start()
    [worker] = g.wait_workers(1)
    waiting = []
    held = [g.connect() for _ in range(16)]
    try:
        for s in held:
            s.sendall(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
            s.settimeout(REQUEST_TIMEOUT)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        for _ in range(4):
            s = g.connect()
            s.sendall(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
            waiting.append(s)
        g.wait_log("worker_connections 16 reached")
        line = next(x for x in g.log_text().splitlines() if "worker_connections 16" in x)
        assert f"[warn] {worker}#" in line and "wait in the listen queue" in line, line
        for s in waiting:
            s.settimeout(0.3 * SLOW)
            with pytest.raises(socket.timeout):
                s.recv(4096)
        # Free the slots one by one: each waiting connection is served in turn.
        for s in waiting:
            held.pop().close()
            raw = recv_until_close(s, REQUEST_TIMEOUT)
            assert raw.closed and raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw[:200]
    finally:
        for s in held + waiting:
            s.close()
    assert g.log_text().count("worker_connections 16 reached") == 1
    assert g.get("/").status == 200
