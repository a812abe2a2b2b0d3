"""Signals on the master (BRIEF section 3) and `greenc -s` through the pid file.

TERM and QUIT stop gracefully (in-flight requests finish, bounded by
graceful_timeout), INT stops fast, HUP reloads config and code while serving,
USR1 reopens the log files.
"""

import signal
import time

import pytest

from harness import (READY_TIMEOUT, SLOW, RequestLoop, app_block, pid_alive, run_greenc,
                     start_in_flight, wait_for)


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
