"""The soak script (contrib/soak/soak.py) for 20 s, with a HUP every 5 s and a kill -9 every
7 s: every kind of client (keep-alive, close, 1 MiB uploads, streamed responses, slow
clients, TLS, through the router) gets served, nothing fails that a killed worker does not
explain, the master's and the router's descriptors do not grow, and the error log has no
[emerg], [crit] or [alert] line but the killed workers' exits. The run's report is printed,
so the test log shows what the soak saw.
"""

import json
import subprocess

from harness import GREENC_BIN, REPO, SANITIZED, SLOW

SOAK = REPO / "contrib" / "soak" / "soak.py"


def test_short_soak_with_reloads_and_kills_fails_nothing_and_leaks_no_descriptor(tmp_path):
    report_file = tmp_path / "report.json"
    out = subprocess.run(["/usr/bin/python3", str(SOAK), "--greenc", GREENC_BIN,
                          "--duration", "20", "--hup-every", "5", "--kill-every", "7",
                          "--workdir", str(tmp_path / "soak"), "--json", str(report_file)],
                         capture_output=True, text=True, timeout=180 * SLOW)
    print("\n" + out.stdout + out.stderr)
    assert out.returncode == 0, out.stdout + out.stderr
    r = json.loads(report_file.read_text())
    assert r["problems"] == []
    assert r["hups"] >= 3 and r["kills"] >= 2, r
    # Every kind of client was served, and in numbers.
    assert set(r["ok_by_kind"]) == {"keepalive", "close", "upload", "stream", "slow", "tls",
                                    "router"}, r["ok_by_kind"]
    assert r["requests"] > (500 if SANITIZED else 5000), r["requests"]
    assert r["failures"] == {}, r["failure_samples"]
    # Only the requests a killed worker had in flight may fail: a few per kill.
    assert sum(r["failures_attributed_to_killed_workers"].values()) <= 8 * r["kills"], r
    assert r["master_fds"][0] == r["master_fds"][1], r["master_fds"]
    assert r["router_fds"][1] <= r["router_fds"][0], r["router_fds"]
    levels = r["log_lines_by_level"]
    assert levels.get("alert", 0) == r["kills"], levels           # "exited on signal 9"
    assert "emerg" not in levels and "crit" not in levels, levels
    assert r["sanitizer_lines"] == []
    # The report has every process, at the start and at the end, with its RSS and fds.
    for when in ("processes_start", "processes_end"):
        roles = sorted(p["role"] for p in r[when].values())
        assert roles == ["app b", "app soak", "app soak", "master", "router"], r[when]
        assert all(p["rss_kb"] > 0 and p["fds"] > 0 for p in r[when].values())
