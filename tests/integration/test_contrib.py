"""The operator files in contrib/ work as shipped: the logrotate config rotates
a running greenc's logs with no line lost (logrotate(8) itself runs it), the
systemd units pass `systemd-analyze verify`, and the Vim syntax file knows every
directive `greenc -L` lists."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import GREENC_BIN, HERE, SLOW, Greenc, serving, wait_for

CONTRIB = HERE.parent.parent / "contrib"


def test_logrotate_config_rotates_with_no_line_lost(tmp_path):
    g = Greenc(tmp_path / "srv")
    g.write_config(g.config_text().replace("access_log off;",
                                           f"access_log {g.dir}/access.log;"))
    conf = (CONTRIB / "logrotate" / "greenc").read_text()
    # The two logs greenc writes (the harness keeps its stdout/stderr files there too).
    conf = conf.replace("/usr/local/greenc/logs/*.log", f"{g.dir}/access.log {g.dir}/error.log")
    conf = conf.replace("/usr/local/greenc/logs/greenc.pid", str(g.pid_file))
    rotate_conf = tmp_path / "logrotate.conf"
    rotate_conf.write_text(conf)
    with serving(g):
        for i in range(20):
            assert g.get(f"/?before={i}").status == 200
        cp = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(rotate_conf)],
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stderr
        assert (g.dir / "access.log.1").exists() and (g.dir / "error.log.1").exists()
        # The master says so in the old file, then reopens.
        g.wait_log("reopening logs", path=g.dir / "error.log.1")
        for i in range(20):
            assert g.get(f"/?after={i}").status == 200
        wait_for(lambda: (g.dir / "access.log").exists()
                 and (g.dir / "access.log").read_text().count("after=") == 20,
                 10 * SLOW, what="the after-rotation lines in the new access.log")
    old = (g.dir / "access.log.1").read_text()
    new = (g.dir / "access.log").read_text()
    assert old.count("before=") == 20 and "after=" not in old
    assert "before=" not in new


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("test_contrib: systemd-analyze is not installed (Debian: package systemd), "
              "so the units in contrib/systemd/ are not verified")
        pytest.skip("systemd-analyze not installed")
    conf = tmp_path / "greenc.conf"
    conf.write_text("daemon off;\n")
    units = sorted(p.name for p in (CONTRIB / "systemd").iterdir())
    assert {"greenc.service", "greenc.socket", "greenc-forking.service"} <= set(units)
    for name in units:
        text = (CONTRIB / "systemd" / name).read_text()
        # The installed layout the units name, pointed at this build.
        text = text.replace("/usr/local/greenc/sbin/greenc", str(Path(GREENC_BIN).resolve()))
        text = text.replace("/usr/local/greenc/conf/greenc.conf", str(conf))
        (tmp_path / name).write_text(text)
    cp = subprocess.run([analyze, "verify", *units], cwd=tmp_path, capture_output=True,
                        text=True, timeout=60)
    out = cp.stdout + cp.stderr
    print(f"systemd-analyze verify {' '.join(units)}: exit {cp.returncode}\n{out}")
    assert cp.returncode == 0, out
    # Unknown keys and bad values are only warnings (exit 0): none may name our units.
    complaints = [line for line in out.splitlines()
                  if any(name in line for name in units) or str(tmp_path) in line]
    assert complaints == [], complaints


def test_vim_syntax_knows_every_directive():
    syntax = (CONTRIB / "vim" / "syntax" / "greenc.vim").read_text()
    keywords = set()
    for line in syntax.splitlines():
        m = re.match(r"syn keyword greencDirective\s+(.*)", line)
        if m:
            keywords.update(m.group(1).split())
    listed = subprocess.run([GREENC_BIN, "-L"], capture_output=True, text=True,
                            check=True).stdout
    names = {line.split("\t")[0] for line in listed.splitlines()}
    assert names - keywords == set(), "directives missing from greenc.vim"
    assert keywords - names == set(), "greenc.vim names unknown directives"
