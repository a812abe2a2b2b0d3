"""Binary upgrade on USR2, the nginx procedure: the pid file becomes .oldbin, the
new master adopts the listening sockets, both generations serve, WINCH drains
the old workers, QUIT on the old master commits, HUP on the old master plus
QUIT on the new one rolls back, a failed exec gives the pid file back."""

import os
import shutil
import signal
import subprocess
import time

import pytest

import harness
from harness import SLOW, RequestLoop, pid_alive, wait_for


def _read_pid(path):
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _new_master(g):
    oldbin = g.pid_file.with_name(g.pid_file.name + ".oldbin")
    wait_for(lambda: oldbin.exists() and _read_pid(g.pid_file) not in (None, g.pid),
             10 * SLOW, what="the new master's pid file next to .oldbin")
    assert _read_pid(oldbin) == g.pid
    return _read_pid(g.pid_file), oldbin


def _stop_new(pid):
    if pid and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pid_alive(pid), 10 * SLOW, what="the new master to exit")


def test_usr2_then_winch_and_quit_upgrades_without_a_failed_request(greenc):
    old_workers = greenc.wait_workers(2)
    loop = RequestLoop(greenc, "/pid", limit=30 * SLOW)
    loop.start()
    new_pid = None
    try:
        time.sleep(0.2)
        greenc.send_signal(signal.SIGUSR2)
        new_pid, oldbin = _new_master(greenc)
        new_workers = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(
            harness.children_of(new_pid)), 10 * SLOW, what="the new master's workers")
        greenc.send_signal(signal.SIGWINCH)
        wait_for(lambda: not any(pid_alive(p) for p in old_workers), 10 * SLOW,
                 what="the old workers to drain")
        greenc.send_signal(signal.SIGQUIT)
        greenc.wait_exit(timeout=10 * SLOW)
        assert not oldbin.exists()
        assert _read_pid(greenc.pid_file) == new_pid
        time.sleep(0.3)
        results = loop.stop()
        assert results and loop.failures() == [], loop.failures()[:5]
        served = {int(greenc.get("/pid").text) for _ in range(6)}
        assert served <= set(new_workers)
    finally:
        loop.stop()
        _stop_new(new_pid)


def test_hup_on_old_master_and_quit_on_new_rolls_back(greenc):
    old_workers = greenc.wait_workers(2)
    greenc.send_signal(signal.SIGUSR2)
    new_pid, oldbin = _new_master(greenc)

    def old_masters_workers():                 # the new master is a child of the old one too
        return [p for p in harness.children_of(greenc.pid) if p != new_pid]

    try:
        greenc.send_signal(signal.SIGWINCH)
        wait_for(lambda: not any(pid_alive(p) for p in old_workers), 10 * SLOW,
                 what="old workers drained")
        assert old_masters_workers() == []
        greenc.send_signal(signal.SIGHUP)          # rollback step 1: old workers come back
        wait_for(lambda: len(old_masters_workers()) == 2, 10 * SLOW,
                 what="the old master's workers back")
        os.kill(new_pid, signal.SIGQUIT)           # rollback step 2: the new master goes
        wait_for(lambda: not pid_alive(new_pid), 10 * SLOW, what="the new master to exit")
        wait_for(lambda: _read_pid(greenc.pid_file) == greenc.pid, 10 * SLOW,
                 what="the pid file back to the old master")
        assert not oldbin.exists()
        assert greenc.get("/").status == 200
    finally:
        _stop_new(new_pid)


@pytest.mark.allow_log(r'\[alert\] .*execv\(".*/greenc-copy"\) failed '
                        r'\(2: No such file or directory\)')
def test_failed_exec_keeps_the_old_master_and_its_pid_file(greenc_factory, tmp_path,
                                                           monkeypatch):
    binary = tmp_path / "greenc-copy"
    shutil.copy(harness.GREENC_BIN, binary)
    monkeypatch.setattr(harness, "GREENC_BIN", str(binary))
    g = greenc_factory()
    g.start()
    binary.unlink()                                # the next exec finds nothing
    g.send_signal(signal.SIGUSR2)
    g.wait_log("execv(")
    wait_for(lambda: _read_pid(g.pid_file) == g.pid, 10 * SLOW, what="the pid file back")
    assert not g.pid_file.with_name(g.pid_file.name + ".oldbin").exists()
    assert g.get("/").status == 200


UPGRADE_SH = harness.HERE.parent.parent / "contrib" / "greenc-upgrade.sh"


def _run_upgrade_script(g, path):
    return subprocess.run(["sh", str(UPGRADE_SH), str(g.pid_file),
                           f"http://127.0.0.1:{g.port}{path}", str(int(15 * SLOW))],
                          capture_output=True, text=True, timeout=120 * SLOW)


def test_upgrade_script_commits_when_the_new_binary_serves(greenc):
    greenc.wait_workers(2)
    loop = RequestLoop(greenc, "/", limit=60 * SLOW)
    loop.start()
    new_pid = None
    try:
        cp = _run_upgrade_script(greenc, "/healthz")
        assert cp.returncode == 0, cp.stderr
        greenc.wait_exit(timeout=10 * SLOW)          # the old master is gone
        new_pid = _read_pid(greenc.pid_file)
        assert new_pid != greenc.pid and pid_alive(new_pid)
        assert f"upgraded: master {new_pid}" in cp.stderr
        results = loop.stop()
        assert results and loop.failures() == [], loop.failures()[:5]
    finally:
        loop.stop()
        _stop_new(new_pid)


def test_upgrade_script_rolls_back_when_the_new_binary_does_not_serve(greenc):
    greenc.wait_workers(2)
    loop = RequestLoop(greenc, "/", limit=60 * SLOW)
    loop.start()
    try:
        cp = _run_upgrade_script(greenc, "/gone")       # answers 410: not healthy
        assert cp.returncode == 1, cp.stderr
        assert f"rolled back: master {greenc.pid}" in cp.stderr
        assert _read_pid(greenc.pid_file) == greenc.pid
        assert not greenc.pid_file.with_name(greenc.pid_file.name + ".oldbin").exists()
        assert len(greenc.wait_workers(2)) == 2
        results = loop.stop()
        assert results and loop.failures() == [], loop.failures()[:5]
    finally:
        loop.stop()


def test_second_usr2_during_an_upgrade_is_refused_with_a_log_line(greenc):
    greenc.wait_workers(2)
    greenc.send_signal(signal.SIGUSR2)
    new_pid, oldbin = _new_master(greenc)
    try:
        wait_for(lambda: len(harness.children_of(new_pid)) == 2, 10 * SLOW,
                 what="the new master's workers")
        greenc.send_signal(signal.SIGUSR2)                 # to the old master again
        greenc.wait_log(f"USR2 ignored: a binary upgrade is already under way "
                        f"(new master {new_pid})")
        # Nothing moved: one new master, the pid files as they were.
        assert _read_pid(oldbin) == greenc.pid and _read_pid(greenc.pid_file) == new_pid
        masters = [p for p in harness.children_of(greenc.pid)
                   if harness.children_of(p)]
        assert masters == [new_pid], masters
        assert greenc.log_text().count("binary upgrade: starting") == 1
        assert greenc.get("/").status == 200
    finally:
        _stop_new(new_pid)


def test_usr2_to_the_new_master_during_an_upgrade_is_refused(greenc):
    """nginx ignores USR2 in a new master whose old master still runs: a third master
    would rename the new master's pid file over the old one's .oldbin."""
    greenc.wait_workers(2)
    greenc.send_signal(signal.SIGUSR2)
    new_pid, oldbin = _new_master(greenc)
    third = None
    try:
        wait_for(lambda: len(harness.children_of(new_pid)) == 2, 10 * SLOW,
                 what="the new master's workers")
        new_workers = harness.children_of(new_pid)

        def third_masters():
            return [p for p in harness.children_of(new_pid) if p not in new_workers]

        os.kill(new_pid, signal.SIGUSR2)
        wait_for(lambda: "USR2 ignored" in greenc.log_text() or third_masters(), 10 * SLOW,
                 what="the new master to refuse USR2 (or start a third master)")
        time.sleep(0.5)                    # a third master would have written its pid file
        third = third_masters()
        assert third == [], f"the new master started a third one: {third}"
        assert "USR2 ignored" in greenc.log_text()
        assert _read_pid(oldbin) == greenc.pid and _read_pid(greenc.pid_file) == new_pid
    finally:
        for pid in third or []:
            _stop_new(pid)
        _stop_new(new_pid)
