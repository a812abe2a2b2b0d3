"""`daemon on`: the command returns at once, the master lives on detached (its
own session, not a session leader, stdio on /dev/null, parent init or a
subreaper), writes the pid file, serves, and stops on TERM by that pid."""

import os
import signal

from harness import READY_TIMEOUT, SLOW, pid_alive, wait_for


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return {"ppid": int(fields[1]), "pgrp": int(fields[2]), "session": int(fields[3])}


def _answers(g):
    try:
        return g.get("/").status == 200
    except OSError:
        return False


def test_daemon_on_detaches_and_serves(greenc_factory):
    g = greenc_factory()
    g.write_config(g.config_text().replace("daemon off;", "daemon on;"))
    g.start(wait=False)
    assert g.proc.wait(timeout=10 * SLOW) == 0           # the launcher returns at once
    daemon = wait_for(lambda: g.pid_file.exists() and int(g.pid_file.read_text()),
                      READY_TIMEOUT, what="the daemon's pid file")
    try:
        assert daemon != g.proc.pid and pid_alive(daemon)
        wait_for(lambda: _answers(g), READY_TIMEOUT, what="the daemon to serve")
        st = _stat(daemon)
        assert st["session"] != os.getsid(0)              # its own session ...
        assert st["session"] != daemon                    # ... but not its leader
        assert st["ppid"] != os.getpid()
        # stdin, stdout and stderr all on /dev/null: nothing written to the launcher's
        # terminal or pipe once it has returned (the harness gave it files for 1 and 2).
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{daemon}/fd/{fd}") == "/dev/null", fd
        # The error log (a file in this config) still gets the lines.
        assert "started, generation 1" in g.log_text()
    finally:
        os.kill(daemon, signal.SIGTERM)
        wait_for(lambda: not pid_alive(daemon), 10 * SLOW, what="the daemon to exit")
    assert not g.pid_file.exists()
