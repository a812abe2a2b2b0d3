"""The log gate itself (conftest.py, harness.Greenc.gated_lines): which lines fail a test,
which an allow_log marker lets through, and that it sees a real worker killed by the test."""

import os
import signal

import pytest

from harness import Greenc, SLOW, wait_for

LOG = """\
2026/12/06 00:47:20 [emerg] 10#0: unknown directive "bogus" in /x.conf:3
2026/12/06 00:47:20 [notice] 10#0: greenc/0.1.0 started, generation 1
2026/12/06 00:47:21 [info] 10#0: worker process 11 of app "hello" is ready
2026/12/06 00:47:22 [alert] 10#0: worker process 11 of app "hello" exited on signal 9
2026/12/06 00:47:22 [crit] 12#0: open() "/x" failed (13: Permission denied)
  Traceback text that mentions [alert] in the middle is not a log line
2026/12/06 00:47:23 [emerg] 10#0: unknown directive "bogus" in /x.conf:3
2026/12/06 00:47:23 [error] 12#0: an error is not gated
"""


def test_gate_finds_alert_crit_and_emerg_after_start_only(tmp_path):
    g = Greenc(tmp_path / "g")
    g.error_log.write_text(LOG)
    g.stderr_file.write_text("greenc: [emerg] bad config\ngreenc: [alert] on stderr\n")
    found = g.gated_lines()
    assert [f.split(" ", 4)[-1] if f.startswith("error") else f for f in found] == [
        '[alert] 10#0: worker process 11 of app "hello" exited on signal 9',
        '[crit] 12#0: open() "/x" failed (13: Permission denied)',
        '[emerg] 10#0: unknown directive "bogus" in /x.conf:3',
        "stderr: greenc: [alert] on stderr"], found


def test_gate_reads_from_the_mark_and_lets_named_lines_through(tmp_path):
    g = Greenc(tmp_path / "g")
    g.error_log.write_text(LOG)
    mark = (LOG.index("2026/12/06 00:47:22 [crit]"), 0)
    assert len(g.gated_lines(mark)) == 2
    assert g.gated_lines(allowed=(r"exited on signal 9", r"open\(\) .* failed",
                                  r"unknown directive")) == []


@pytest.mark.allow_log(r'\[alert\] \d+#0: worker process \d+ of app "hello" exited on signal 9$')
def test_gate_sees_a_worker_killed_by_the_test(greenc):
    victim, _ = greenc.wait_workers(2)
    mark = greenc.log_marks()
    os.kill(victim, signal.SIGKILL)
    greenc.wait_log(f"worker process {victim} of app \"hello\" exited on signal 9")
    wait_for(lambda: len(greenc.worker_pids()) == 2, 20 * SLOW, what="a replacement")
    found = greenc.gated_lines(mark)
    assert len(found) == 1 and "[alert]" in found[0] and "exited on signal 9" in found[0]
    # So without its allow_log marker this test would fail in teardown.
