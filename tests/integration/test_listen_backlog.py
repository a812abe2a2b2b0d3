"""The listen queue: by default as long as the system allows (net.core.somaxconn), so that
bursts of connections wait in the kernel instead of being refused; `listen ... backlog=N`
still sets it. Read back with `ss -ltn`, whose Send-Q column is a listener's backlog."""

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import free_port


def _backlog(port):
    if shutil.which("ss") is None:
        pytest.fail("ss (Debian package iproute2) is needed to read the listen backlog")
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                         check=True).stdout.split()
    # State Recv-Q Send-Q Local-Address:Port Peer-Address:Port
    assert out and out[0] == "LISTEN", out
    return int(out[2])


def test_default_backlog_is_the_system_maximum(greenc):
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert _backlog(greenc.port) == somaxconn


def test_listen_backlog_parameter_sets_it(greenc_factory):
    port2 = free_port()
    g = greenc_factory(extra_servers=("    server {\n"
                                      f"        listen 127.0.0.1:{port2} backlog=77;\n"
                                      '        location / { return 200 "x\\n"; }\n'
                                      "    }\n"))
    g.start()
    assert _backlog(port2) == 77
