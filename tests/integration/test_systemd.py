"""systemd integration without systemd (issue 6): the test plays systemd's part.

Type=notify: the test binds the datagram socket that $NOTIFY_SOCKET names and
reads what the master says: READY=1 with MAINPID once the apps are imported,
RELOADING=1 then READY=1 around a HUP (a refused reload too), MAINPID of the new
master after a binary upgrade, STOPPING=1 on stop but not from an old master
whose upgrade was committed. Socket activation: the test opens the listening
socket, passes it as fd 3 with LISTEN_FDS/LISTEN_PID, and greenc serves on it
without binding (the port is taken, so binding would fail).
"""

import os
import signal
import socket
import subprocess

import pytest

from harness import GREENC_BIN, SLOW, Greenc, pid_alive, wait_for


class FakeSystemd:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.path = path

    def messages(self, timeout):
        """Every datagram that arrives within timeout seconds."""
        got = []
        self.sock.settimeout(timeout)
        try:
            while True:
                got.append(self.sock.recv(4096).decode())
                self.sock.settimeout(0.2)
        except socket.timeout:
            pass
        return got

    def wait_for(self, needle, timeout=10 * SLOW):
        """Datagrams up to and including the first that contains needle."""
        seen = []
        self.sock.settimeout(timeout)
        while True:
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                pytest.fail(f"no {needle!r} from greenc; got {seen!r}")
            seen.append(msg)
            if needle in msg:
                return seen

    def close(self):
        self.sock.close()


def fields(msg):
    return dict(line.split("=", 1) for line in msg.splitlines() if "=" in line)


@pytest.fixture
def systemd(tmp_path, monkeypatch):
    sd = FakeSystemd(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(sd.path))
    yield sd
    sd.close()


@pytest.mark.allow_log(r'\[emerg\] .*unknown directive "bogus_directive"')
def test_ready_reload_and_stop_are_announced(greenc_factory, systemd):
    g = greenc_factory()
    g.start(wait=False)
    ready = fields(systemd.wait_for("READY=1")[-1])
    assert ready["MAINPID"] == str(g.pid)
    assert "serving" in ready["STATUS"]
    # Ready means the apps answer.
    assert g.get("/").status == 200

    # The app does not see the socket: only the master speaks for the service.
    assert g.get("/env?name=NOTIFY_SOCKET").json() == {"value": None}

    g.send_signal(signal.SIGHUP)
    seen = systemd.wait_for("READY=1")
    assert "RELOADING=1" in seen[0] and "MONOTONIC_USEC=" in seen[0]
    assert "generation 2" in fields(seen[-1])["STATUS"]

    # A config error: the reload is refused, and systemd must still hear READY again.
    g.conf.write_text(g.conf.read_text() + "\nbogus_directive on;\n")
    g.send_signal(signal.SIGHUP)
    seen = systemd.wait_for("READY=1")
    assert "RELOADING=1" in seen[0]
    assert "generation 2" in fields(seen[-1])["STATUS"]
    assert g.get("/").status == 200

    g.send_signal(signal.SIGTERM)
    assert any("STOPPING=1" in m for m in systemd.wait_for("STOPPING=1"))
    g.wait_exit()


def test_app_failing_to_boot_still_ends_the_start_with_a_status(greenc_factory, systemd):
    g = greenc_factory(apps=("app hello {\n    wsgi no_such_module:application;\n"
                             "    workers 1;\n}\n"))
    g.start(wait=False)
    ready = fields(systemd.wait_for("READY=1")[-1])
    assert "failing to boot" in ready["STATUS"], ready


def test_upgrade_moves_mainpid_and_commit_does_not_say_stopping(greenc_factory, systemd):
    g = greenc_factory()
    g.start(wait=False)
    systemd.wait_for("READY=1")
    g.send_signal(signal.SIGUSR2)
    ready = fields(systemd.wait_for("READY=1")[-1])
    new_pid = int(ready["MAINPID"])
    assert new_pid != g.pid and pid_alive(new_pid)
    try:
        g.send_signal(signal.SIGQUIT)           # commit: the old master leaves
        g.wait_exit(timeout=10 * SLOW)
        assert not any("STOPPING=1" in m for m in systemd.messages(0.5))
        assert g.get("/").status == 200
    finally:
        if pid_alive(new_pid):
            os.kill(new_pid, signal.SIGTERM)
            wait_for(lambda: not pid_alive(new_pid), 10 * SLOW, what="the new master to exit")


def test_rolled_back_upgrade_gives_mainpid_back(greenc_factory, systemd):
    g = greenc_factory()
    g.start(wait=False)
    systemd.wait_for("READY=1")
    g.send_signal(signal.SIGUSR2)
    new_pid = int(fields(systemd.wait_for("READY=1")[-1])["MAINPID"])
    os.kill(new_pid, signal.SIGQUIT)            # the new binary is given up
    back = fields(systemd.wait_for("MAINPID=" + str(g.pid))[-1])
    assert back.get("READY") == "1"
    wait_for(lambda: not pid_alive(new_pid), 10 * SLOW, what="the new master to exit")
    assert g.get("/").status == 200

# As systemd does: the socket at fd 3, LISTEN_PID the pid that then execs greenc.
EXEC_ACTIVATED = """
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
os.environ.pop("NOTIFY_SOCKET", None)
os.execv(sys.argv[2], sys.argv[2:])
"""


def start_activated(g, sock):
    err = open(g.stderr_file, "ab")
    g.proc = subprocess.Popen(["/usr/bin/python3", "-c", EXEC_ACTIVATED, str(sock.fileno()),
                               GREENC_BIN, "-c", str(g.conf)],
                              pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL,
                              stdout=err, stderr=err)
    err.close()
    g.wait_ready()


def test_socket_activation_serves_on_the_passed_socket(tmp_path):
    g = Greenc(tmp_path / "srv")
    g.write_config()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", g.port))          # taken: greenc could not bind it itself
    lsock.listen(128)
    try:
        start_activated(g, lsock)
        assert g.get("/").status == 200
        assert "using 1 socket(s) passed by systemd" in g.log_text()
        assert g.get("/env?name=LISTEN_FDS").json() == {"value": None}
        # A reload keeps the passed socket (same address).
        g.send_signal(signal.SIGHUP)
        g.wait_log("generation 2")
        assert g.get("/").status == 200
    finally:
        g.stop()
        lsock.close()


def test_passed_socket_not_in_the_config_is_closed(tmp_path):
    g = Greenc(tmp_path / "srv")
    g.write_config()
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    try:
        start_activated(g, other)
        assert "is not in the configuration; closing it" in g.log_text()
        fd_dir = f"/proc/{g.pid}/fd"
        inode = os.fstat(other.fileno()).st_ino
        assert f"socket:[{inode}]" not in [os.readlink(f"{fd_dir}/{n}") for n in os.listdir(fd_dir)]
    finally:
        g.stop()
        other.close()
