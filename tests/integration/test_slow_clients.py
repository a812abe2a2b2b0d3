"""Slow clients never take the service down (issue 3).

slowhttptest (Debian package) attacks greenc in its four modes: slow headers
(-H, slowloris), slow body (-B), slow read (-X) and Range (-R). The tool exits
0 either way; its CSV has one row per second whose last column is non-zero
while its probe connection was answered ("service available"). Every row
must be. greenc is probed by the test too, during each attack.

The starvation test: while 50 keep-alive clients hammer a 2-worker app, a
fresh connection's request is answered fast (uWSGI's --http11-socket serves
as many connections as it has workers and leaves the rest waiting).
"""

import csv
import shutil
import statistics
import subprocess
import sys
import textwrap
import time

import pytest

from h11_check import h11_responses
from harness import SLOW, RequestLoop, recv_until_close

SLOWHTTPTEST = shutil.which("slowhttptest")
DURATION = 6                        # seconds of each attack

MODES = {
    "slow_headers": ["-H", "-i", "1", "-s", "4096"],
    "slow_body": ["-B", "-i", "1", "-s", "8192"],
    "slow_read": ["-X", "-k", "4", "-w", "10", "-y", "20", "-n", "1", "-z", "32"],
    "range": ["-R", "-a", "10", "-b", "3000"],
}


@pytest.mark.skipif(SLOWHTTPTEST is None, reason="slowhttptest is not installed "
                    "(contrib/deps-debian.sh --test)")
@pytest.mark.parametrize("mode", sorted(MODES))
def test_slowhttptest_leaves_the_service_available(greenc, tmp_path, mode):
    out = tmp_path / mode
    cmd = [SLOWHTTPTEST, *MODES[mode], "-c", "200", "-r", "100", "-l", str(DURATION),
           "-p", str(2 * SLOW), "-g", "-o", str(out),
           "-u", f"http://127.0.0.1:{greenc.port}/"]
    probe = RequestLoop(greenc, "/healthz", limit=DURATION + 2, timeout=2 * SLOW)
    tool = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)                       # let the attack connections open first
        probe.start()
        tool.wait(timeout=DURATION + 30)
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait(5)
        results = probe.stop()

    rows = list(csv.reader(open(f"{out}.csv")))
    assert rows[0][-1].strip().lower().startswith("service available"), rows[0]
    data = [r for r in rows[1:] if r]
    # The tool stops early when greenc has closed every attack connection (-R:
    # each range request is simply answered), so fewer rows than seconds is fine.
    assert len(data) >= 2, rows
    down = [r for r in data if int(r[-1]) == 0]
    assert not down, f"slowhttptest saw the service unavailable: {down}"
    assert results, "the probe never ran"
    failures = [r for r in results if r[1] != 200]
    assert not failures, f"probe requests failed during the attack: {failures[:5]}"
    assert greenc.get("/").status == 200


HAMMER = textwrap.dedent("""
    import http.client, sys, threading, time
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    deadline = time.monotonic() + seconds
    counts = []
    def client():
        n = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            try:
                conn.request("GET", "/")
                conn.getresponse().read()
                n += 1
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.close()
        counts.append(n)
    threads = [threading.Thread(target=client) for _ in range(50)]
    for t in threads: t.start()
    for t in threads: t.join(seconds + 15)
    print(sum(counts))
""")


def test_fresh_connection_is_served_while_50_keepalive_clients_hammer(greenc):
    seconds = 5
    hammer = subprocess.Popen([sys.executable, "-c", HAMMER, str(greenc.port), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    latencies = []
    try:
        time.sleep(1)                       # the 50 connections are open and busy
        for _ in range(15):
            t0 = time.monotonic()
            with greenc.connect(timeout=5 * SLOW) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                raw = recv_until_close(s, timeout=5 * SLOW)
            latencies.append(time.monotonic() - t0)
            (r,) = h11_responses(raw, closed=raw.closed)
            assert r.status == 200
            time.sleep(0.15)
        assert hammer.poll() is None, "the hammer ended before the measurements"
    finally:
        out, _ = hammer.communicate(timeout=seconds + 30)
    served = int(out.strip() or 0)
    assert served > 100, f"the hammer clients were barely served ({served} requests)"
    median, worst = statistics.median(latencies), max(latencies)
    assert median < 0.05 * SLOW, f"median {median * 1000:.1f} ms: {latencies}"
    assert worst < 0.25 * SLOW, f"max {worst * 1000:.1f} ms: {latencies}"
