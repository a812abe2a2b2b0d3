"""Signals on the master (BRIEF section 3) and `greenc -s` through the pid file.

TERM and QUIT stop gracefully (in-flight requests finish, bounded by
graceful_timeout), INT stops fast, HUP reloads config and code while serving,
USR1 reopens the log files.
"""

import os
import signal
import socket
import time

import pytest

from harness import (READY_TIMEOUT, SLOW, RequestLoop, app_block, default_locations, free_port,
                     pid_alive, recv_until_close, run_greenc, start_in_flight, wait_for)
from loadgen import Load


def _assert_workers_gone(pids, timeout=5 * SLOW):
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout,
             what=f"workers {pids} to exit")


def _graceful_stop_lets_in_flight_request_finish(g, sig):
    workers = g.wait_workers(2)
    in_flight = start_in_flight(g, 1)
    g.send_signal(sig)
    response, error = in_flight.result(timeout=15 * SLOW)
    assert error is None, f"in-flight request failed during graceful stop: {error!r}"
    assert response.status == 200 and response.body == b"slept\n"
    assert g.wait_exit() == 0
    assert not g.pid_file.exists(), "pid file left behind after a graceful stop"
    _assert_workers_gone(workers)


def test_pid_file_holds_the_master_pid(greenc):
    assert greenc.pid_file.read_text().strip() == str(greenc.pid)


def test_term_lets_in_flight_request_finish(greenc):
    _graceful_stop_lets_in_flight_request_finish(greenc, signal.SIGTERM)


def test_quit_lets_in_flight_request_finish(greenc):
    _graceful_stop_lets_in_flight_request_finish(greenc, signal.SIGQUIT)


def test_idle_graceful_stop_is_prompt(greenc):
    # With nothing in flight, TERM must not wait for graceful_timeout (5s).
    assert greenc.get("/").status == 200
    start = time.monotonic()
    greenc.send_signal(signal.SIGTERM)
    assert greenc.wait_exit() == 0
    assert time.monotonic() - start < 3 * SLOW


def test_int_stops_fast_without_waiting_for_requests(greenc):
    workers = greenc.wait_workers(2)
    in_flight = start_in_flight(greenc, 20, timeout=30)
    start = time.monotonic()
    greenc.send_signal(signal.SIGINT)
    greenc.wait_exit(timeout=5 * SLOW)
    assert time.monotonic() - start < 3 * SLOW, "INT waited like a graceful stop"
    _assert_workers_gone(workers)
    in_flight.result(timeout=5)                  # cut or not, it must be over


def test_graceful_stop_respects_graceful_timeout(greenc_factory):
    g = greenc_factory(graceful_timeout="2s")
    g.start()
    workers = g.wait_workers(2)
    in_flight = start_in_flight(g, 30, timeout=40)
    start = time.monotonic()
    g.send_signal(signal.SIGTERM)
    g.wait_exit(timeout=10 * SLOW)
    elapsed = time.monotonic() - start
    assert 1.5 <= elapsed < 6 * SLOW, f"graceful stop took {elapsed:.1f}s with graceful_timeout 2s"
    _assert_workers_gone(workers)
    in_flight.result(timeout=5)


def _wait_new_generation(g, old_workers, count=2):
    """Wait until `count` workers run and none of old_workers is among them."""
    def fresh():
        pids = g.worker_pids()
        return pids if len(pids) == count and not set(pids) & set(old_workers) else None
    return wait_for(fresh, READY_TIMEOUT, what="a new generation of workers")


def test_hup_keeps_serving_without_failed_requests(greenc):
    old = greenc.wait_workers(2)
    loop = RequestLoop(greenc, "/", limit=READY_TIMEOUT)
    loop.start()
    time.sleep(0.2)
    greenc.send_signal(signal.SIGHUP)
    new = _wait_new_generation(greenc, old)
    _assert_workers_gone(old)
    time.sleep(0.2)
    results = loop.stop()
    assert results, "no request completed during the reload"
    assert loop.failures() == [], f"requests failed during HUP: {loop.failures()[:5]}"
    assert pid_alive(greenc.pid)
    assert int(greenc.get("/pid").text) in new


def test_workers_of_a_new_generation_hold_only_its_own_log_files(greenc_factory):
    # A reload opens the logs again; the old generation's descriptors stay open in the master
    # until its workers exit. A worker forked meanwhile must not keep them: one descriptor
    # more per reload, for the worker's whole life (the soak saw it).
    g = greenc_factory()
    g.write_config(locations=f"        access_log {g.dir}/access.log;\n" + default_locations())
    g.start()
    old = g.wait_workers(2)
    for _ in range(2):
        g.send_signal(signal.SIGHUP)
        old = _wait_new_generation(g, old)
    for pid in g.worker_pids():
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert links.count(str(g.error_log)) == 1, (pid, links)
        assert links.count(str(g.dir / "access.log")) == 1, (pid, links)


def test_hup_loads_new_config_and_code(greenc):
    old = greenc.wait_workers(2)
    assert greenc.get("/env?name=GREETING").json() == {"value": "hi"}
    greenc.write_config(apps=app_block(python_path=greenc.apps_dir,
                                       extra="env GREETING=reloaded;"))
    (greenc.apps_dir / "app.py").write_text(
        (greenc.apps_dir / "app.py").read_text().replace("Hello, world!", "Hello again!"))
    greenc.send_signal(signal.SIGHUP)
    _wait_new_generation(greenc, old)
    wait_for(lambda: greenc.get("/env?name=GREETING").json() == {"value": "reloaded"},
             READY_TIMEOUT, what="the reloaded env")
    assert greenc.get("/").body == b"Hello again!\n"


@pytest.mark.allow_log(r'\[emerg\] .*unknown directive "bogus_directive"')
def test_hup_with_invalid_config_keeps_serving_old_generation(greenc):
    old = greenc.wait_workers(2)
    greenc.write_config(main_extra="bogus_directive on;")
    greenc.send_signal(signal.SIGHUP)
    greenc.wait_log('unknown directive "bogus_directive"')
    assert f"{greenc.conf}:5" in greenc.log_text()
    assert pid_alive(greenc.pid)
    assert greenc.get("/").status == 200
    assert greenc.worker_pids() == old


def test_usr1_reopens_error_log(greenc):
    workers = greenc.wait_workers(2)
    rotated = greenc.error_log.with_name("error.log.1")
    greenc.error_log.rename(rotated)
    greenc.send_signal(signal.SIGUSR1)
    wait_for(greenc.error_log.exists, READY_TIMEOUT, what="a new error.log after USR1")
    # Each worker reopens when it handles the master's USR1 and says so in the
    # new file; from then on every app traceback lands there, whichever worker
    # served it.
    for pid in workers:
        greenc.wait_log(f"{pid}#0: logs reopened")
    for _ in range(6):
        assert greenc.get("/error", headers={"Connection": "close"}).status == 500
    wait_for(lambda: greenc.log_text().count("RuntimeError: boom from the test app") >= 6,
             READY_TIMEOUT, what="six tracebacks in the new error.log")
    assert "boom from the test app" not in rotated.read_text()


def test_s_stop_stops_master_named_by_pid_file(greenc):
    workers = greenc.wait_workers(2)
    r = run_greenc("-s", "stop", "-c", greenc.conf)
    assert r.returncode == 0, r.stderr
    assert greenc.wait_exit() == 0
    assert not greenc.pid_file.exists()
    _assert_workers_gone(workers)


def test_s_quit_lets_in_flight_request_finish(greenc):
    greenc.wait_workers(2)
    in_flight = start_in_flight(greenc, 1)
    r = run_greenc("-s", "quit", "-c", greenc.conf)
    assert r.returncode == 0, r.stderr
    response, error = in_flight.result(timeout=15 * SLOW)
    assert error is None and response.status == 200
    assert greenc.wait_exit() == 0


def test_s_reload_starts_new_workers(greenc):
    old = greenc.wait_workers(2)
    r = run_greenc("-s", "reload", "-c", greenc.conf)
    assert r.returncode == 0, r.stderr
    _wait_new_generation(greenc, old)
    assert greenc.get("/").status == 200


def test_s_reopen_reopens_error_log(greenc):
    greenc.error_log.rename(greenc.error_log.with_name("error.log.1"))
    r = run_greenc("-s", "reopen", "-c", greenc.conf)
    assert r.returncode == 0, r.stderr
    wait_for(greenc.error_log.exists, READY_TIMEOUT, what="a new error.log after -s reopen")


@pytest.mark.parametrize("command", ["stop", "reload"])
def test_s_without_running_master_fails(greenc_factory, command):
    g = greenc_factory()                         # config written, never started
    r = run_greenc("-s", command, "-c", g.conf)
    assert r.returncode != 0
    assert str(g.pid_file) in r.stderr


def test_s_with_stale_pid_file_fails_without_signalling(greenc_factory):
    g = greenc_factory()
    # A pid that surely does not exist (beyond pid_max is not allowed; pick a free one).
    pid = 4194000
    while pid_alive(pid):
        pid -= 1
    g.pid_file.write_text(f"{pid}\n")
    r = run_greenc("-s", "reload", "-c", g.conf)
    assert r.returncode != 0
    assert "stale" in r.stderr


def test_s_with_pid_file_naming_another_process_sends_nothing(greenc_factory):
    import subprocess
    g = greenc_factory()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        g.pid_file.write_text(f"{sleeper.pid}\n")
        r = run_greenc("-s", "stop", "-c", g.conf)
        assert r.returncode != 0
        assert "is not greenc" in r.stderr
        time.sleep(0.2)
        assert sleeper.poll() is None, "greenc -s signalled a process that is not greenc"
    finally:
        sleeper.kill()
        sleeper.wait()


# --- listeners and generations across HUP ----------------------------------------------


def _listening_inode(port):
    """The inode of the socket listening on 127.0.0.1:port (from /proc/net/tcp), or None."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":         # 0A: LISTEN
                return int(fields[9])
    return None


def _fds_of_socket(pid, inode):
    """The fd numbers under which process pid holds socket inode."""
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                fds.append(int(fd))
        except FileNotFoundError:
            pass
    return fds


def _server(port, app="hello"):
    return ("    server {\n"
            f"        listen 127.0.0.1:{port};\n"
            f"        location / {{ pass {app}; }}\n"
            "    }\n")


def test_hup_keeps_a_kept_listener_opens_an_added_one_and_closes_a_removed_one(greenc_factory):
    g = greenc_factory()
    removed, added = free_port(), free_port()
    g.write_config(extra_servers=_server(removed))
    g.start()
    old = g.wait_workers(2)
    kept_inode = _listening_inode(g.port)
    kept_fds = _fds_of_socket(g.pid, kept_inode)
    assert kept_inode and kept_fds, "the master does not hold the listening socket"
    assert g.get("/", port=removed).status == 200

    g.write_config(extra_servers=_server(added))
    with Load(g.port, threads=4, limit=30 * SLOW) as load:
        time.sleep(0.3)
        g.send_signal(signal.SIGHUP)
        g.wait_log("generation 2 configured")
        _wait_new_generation(g, old)
        _assert_workers_gone(old, timeout=10 * SLOW)
        time.sleep(0.3)
    counts = load.counts()
    print(f"\nHUP with listeners kept, added, removed: {counts} load: {load.shape()}")
    assert counts["ok"] > 50
    assert load.failures() == {}, (counts, load.details)

    # The kept address is the very same socket, under the same fd, never re-bound.
    assert _listening_inode(g.port) == kept_inode
    assert _fds_of_socket(g.pid, kept_inode) == kept_fds
    # The added one is listening, held by the master, and served.
    assert _fds_of_socket(g.pid, _listening_inode(added))
    assert g.get("/", port=added).body == b"Hello, world!\n"
    # The removed one is gone from every process.
    removed_inode = _listening_inode(removed)
    assert removed_inode is None, (
        f"127.0.0.1:{removed} still listens, held by "
        f"{[p for p in [g.pid] + g.worker_pids() if _fds_of_socket(p, removed_inode)]} "
        f"(master {g.pid})")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", removed), timeout=2).close()


SECOND_APP = """
if BROKEN:
    raise RuntimeError("second app broken on purpose")


def application(environ, start_response):
    body = b"second " + VERSION + b"\\n"
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""


def _write_second_app(g, version, broken=False):
    (g.apps_dir / "second_app.py").write_text(
        f"BROKEN = {broken}\nVERSION = {version!r}\n" + SECOND_APP)


def test_hup_with_one_app_failing_import_moves_only_the_other_app(greenc_factory):
    g = greenc_factory()
    port2 = free_port()
    _write_second_app(g, b"v1")
    g.write_config(apps=(app_block("hello", python_path=g.apps_dir, workers=1) + "\n"
                         + app_block("second", wsgi="second_app:application",
                                     python_path=g.apps_dir, workers=1)),
                   extra_servers=_server(port2, "second"))
    g.start()
    g.wait_ready(path="/", port=port2)
    hello_old = int(g.get("/pid").text)
    second_old = [p for p in g.wait_workers(2) if p != hello_old]
    assert g.get("/", port=port2).body == b"second v1\n"

    app = g.apps_dir / "app.py"
    app.write_text(app.read_text().replace("Hello, world!", "Hello again!"))
    _write_second_app(g, b"v2", broken=True)
    g.send_signal(signal.SIGHUP)
    g.wait_log("RuntimeError: second app broken on purpose")
    wait_for(lambda: g.get("/").body == b"Hello again!\n", READY_TIMEOUT,
             what="hello's new code")
    _assert_workers_gone([hello_old], timeout=10 * SLOW)

    log = g.log_text()
    assert "Traceback (most recent call last)" in log
    source = (g.apps_dir / "second_app.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "raise RuntimeError" in text)
    assert f'second_app.py", line {line}, in <module>' in log, log[-3000:]
    # The broken app's old worker still serves, with the old code.
    for _ in range(5):
        assert g.get("/", port=port2, headers={"Connection": "close"}).body == b"second v1\n"
    assert all(pid_alive(p) for p in second_old)
    assert hello_old not in g.worker_pids()


def test_hup_kills_an_old_worker_whose_request_outlives_graceful_timeout(greenc_factory):
    g = greenc_factory(graceful_timeout="1s")
    g.start()
    old = g.wait_workers(2)
    stuck = start_in_flight(g, 30, timeout=20 * SLOW)
    victim = int(stuck.mark.read_text())
    g.send_signal(signal.SIGHUP)
    new = _wait_new_generation(g, old)
    ready_at = time.monotonic()
    g.wait_log(f"worker process {victim} did not exit in time; killing it", timeout=5 * SLOW)
    killed_after = time.monotonic() - ready_at
    _assert_workers_gone(old)
    response, error = stuck.result(timeout=5 * SLOW)
    assert response is None and error is not None, "the 30 s request was not cut"
    assert killed_after < 3 * SLOW, f"killed {killed_after:.1f}s after the new generation"
    assert int(g.get("/pid", headers={"Connection": "close"}).text) in new


def test_hup_closes_idle_keepalive_connections_of_old_workers_promptly(greenc_factory):
    g = greenc_factory(http_extra="keepalive_timeout 60s;")
    g.start()
    old = g.wait_workers(2)
    idle = []
    for _ in range(4):
        s = g.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        first = harness_recv(s)
        assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"Hello, world!\n"), first
        idle.append(s)
    start = time.monotonic()
    g.send_signal(signal.SIGHUP)
    try:
        for s in idle:
            rest = recv_until_close(s, timeout=max(0.1, start + 3 * SLOW - time.monotonic()))
            assert rest.closed and rest == b"", (rest.closed, rest[:200])
    finally:
        for s in idle:
            s.close()
    # Promptly: the old workers exit once their successors are ready, not at graceful_timeout.
    assert time.monotonic() - start < 3 * SLOW
    _wait_new_generation(g, old)


def harness_recv(s):
    return recv_until_close(s, until=lambda b: b.endswith(b"Hello, world!\n"))


def test_term_refuses_new_connections_while_a_request_runs(greenc_factory):
    """Graceful stop means stop accepting at once (BRIEF 3): the listening socket must be
    gone from every process while a worker still runs its last request, so that a new
    client is refused instead of queued, then served or reset when the worker is done."""
    g = greenc_factory()
    g.write_config(apps=app_block(python_path=g.apps_dir, workers=1))
    g.start()
    g.wait_workers(1)
    in_flight = start_in_flight(g, 3)
    g.send_signal(signal.SIGTERM)
    g.wait_log("graceful shutdown")
    try:
        wait_for(lambda: _listening_inode(g.port) is None, 1.5 * SLOW,
                 what=f"127.0.0.1:{g.port} to stop listening after TERM")
    finally:
        response, error = in_flight.result(timeout=10 * SLOW)
        assert error is None and response.status == 200
        assert g.wait_exit() == 0
