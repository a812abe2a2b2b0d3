"""The status page (`status;`), allow/deny, and `greenc -s status`.

Every figure is read back from a real server after real requests over loopback:
the counts are compared as differences between two snapshots, since the
start-up probes (/healthz) and the status requests themselves are requests too.
"""

import json
import os
import re
import signal
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import (SLOW, app_block, default_locations, free_port, run_greenc,
                     start_in_flight, wait_for)

STATUS_LOC = "        location /status { allow 127.0.0.1; deny all; status; }\n"


def status_server(greenc_factory, workers=2, app_extra="", locations=None, wait_idle=True,
                  processes=None, **pieces):
    g = greenc_factory(**pieces)
    g.write_config(apps=app_block(python_path=g.apps_dir, workers=workers, extra=app_extra),
                   locations=locations if locations is not None
                   else STATUS_LOC + default_locations(), **pieces)
    g.start()
    g.wait_workers(processes or workers)
    if wait_idle:
        wait_for(lambda: app_status(g)["workers"]["idle"] == workers, 10 * SLOW,
                 what="every worker idle on the status page")
    return g


def status(g, **kw):
    r = g.get("/status", **kw)
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "application/json"
    return r.json()


def app_status(g):
    return status(g)["apps"]["hello"]


# ---------------------------------------------------------------------------
# JSON


def test_status_json_has_every_figure(greenc_factory):
    g = status_server(greenc_factory)
    s = status(g)
    assert s["generation"] == 1
    assert s["config_file"] == str(g.conf)
    assert s["config_mtime"] == int(os.stat(g.conf).st_mtime)
    assert s["master_pid"] == g.pid
    assert s["tls"] == {"handshakes": 0, "failures": 0}
    a = s["apps"]["hello"]
    assert set(a) == {"workers", "requests_total", "requests", "request_duration_seconds",
                      "in_flight", "timeouts", "restarts", "listen_queue", "processes"}
    assert a["workers"] == {"starting": 0, "idle": 2, "busy": 0, "draining": 0}
    assert set(a["requests"]) == {"1xx", "2xx", "3xx", "4xx", "5xx"}
    assert set(a["restarts"]) == {"exit", "signal", "timeout", "max_requests", "boot_failure"}
    assert a["timeouts"] == 0 and sum(a["restarts"].values()) == 0
    assert a["listen_queue"] == 0
    assert sorted(p["pid"] for p in a["processes"]) == sorted(g.worker_pids())
    for p in a["processes"]:
        assert p["state"] == "idle" and p["request_age_ms"] is None
    listener = s["listeners"][f"127.0.0.1:{g.port}"]
    assert listener["accepted"] >= 2            # the probes and this request
    assert listener["active"] >= 1              # this request's connection
    assert listener["queue"] == 0


def settled_snapshot(get_status, pick):
    """A status snapshot once pick(snapshot) stopped moving: a request is counted just after
    its last byte went out, so the one a client just read may not be counted yet."""
    prev = pick(get_status())
    for _ in range(int(50 * SLOW)):
        time.sleep(0.1)
        cur = get_status()
        if pick(cur) == prev:
            return cur
        prev = pick(cur)
    raise AssertionError("the counts never settled")


def status_on_its_own_listener(greenc_factory):
    """(g, port, get_status): the status page on a listener of its own, answered by the router
    group, so that reading it adds nothing to the app's figures."""
    port = free_port()
    extra = ("    server {\n"
             f"        listen 127.0.0.1:{port};\n"
             "        location /status { status; }\n"
             "    }\n")
    g = status_server(greenc_factory, extra_servers=extra, main_extra="router_workers 1;",
                      processes=3)

    def get_status():
        r = g.get("/status", port=port)
        assert r.status == 200, r
        return r.json()

    return g, port, get_status


def test_status_counts_requests_by_class_exactly(greenc_factory):
    g, _, get_status = status_on_its_own_listener(greenc_factory)

    def hello(s):
        return s["apps"]["hello"]["requests"]

    before = settled_snapshot(get_status, hello)["apps"]["hello"]
    for _ in range(5):
        assert g.get("/").status == 200
    for _ in range(3):
        assert g.get("/gone").status == 410
    for _ in range(2):
        assert g.get("/error").status == 500
    after = settled_snapshot(get_status, hello)["apps"]["hello"]
    delta = {k: after["requests"][k] - before["requests"][k] for k in before["requests"]}
    assert delta == {"1xx": 0, "2xx": 5, "3xx": 0, "4xx": 3, "5xx": 2}
    assert after["requests_total"] - before["requests_total"] == 10
    h_before = before["request_duration_seconds"]
    h_after = after["request_duration_seconds"]
    assert h_after["count"] - h_before["count"] == 10
    assert h_after["buckets"]["+Inf"] == h_after["count"] == after["requests_total"]
    counts = list(h_after["buckets"].values())
    assert counts == sorted(counts), "cumulative buckets must not decrease"


def test_request_durations_are_summed_in_microseconds(greenc_factory):
    # A fast request takes well under a millisecond: with a millisecond clock the sum stayed
    # 0.000 however many were served.
    g, port, get_status = status_on_its_own_listener(greenc_factory)

    def hist(s):
        return s["apps"]["hello"]["request_duration_seconds"]

    before = hist(settled_snapshot(get_status, hist))
    for _ in range(20):
        assert g.get("/").status == 200
    fast = hist(settled_snapshot(get_status, hist))
    assert fast["count"] - before["count"] == 20
    assert 0 < fast["sum"] - before["sum"] < 20 * 0.05 * SLOW
    assert g.get("/sleep?t=0.015").status == 200
    slow = hist(settled_snapshot(get_status, hist))
    assert 0.015 <= slow["sum"] - fast["sum"] < 0.015 + 0.5 * SLOW
    # ... and it lands above the 10 ms bucket's bound
    assert slow["buckets"]["0.01"] == fast["buckets"]["0.01"]
    prom = g.get("/status?format=prometheus", port=port).text
    line = next(x for x in prom.splitlines()
                if x.startswith("greenc_request_duration_seconds_sum") and 'app="hello"' in x)
    assert float(line.split()[-1]) >= slow["sum"]


def test_listener_counts_open_and_idle_connections_and_returns_to_zero(greenc_factory):
    g = status_server(greenc_factory)
    key = f"127.0.0.1:{g.port}"
    socks = []
    for _ in range(5):
        c = socket.create_connection(("127.0.0.1", g.port), timeout=5 * SLOW)
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv(65536).startswith(b"HTTP/1.1 200")
        socks.append(c)
    silent = socket.create_connection(("127.0.0.1", g.port), timeout=5 * SLOW)  # sends nothing
    socks.append(silent)
    # the five answered ones wait for their next request, so does the silent one
    # (and the status request's own is open; an earlier one's close may still be on its way)
    wait_for(lambda: (lambda l: l["idle"] == 6 and l["active"] == 7)(
        status(g)["listeners"][key]), 5 * SLOW, what="six idle connections of seven")
    for c in socks:
        c.close()
    wait_for(lambda: (lambda l: l["active"] == 1 and l["idle"] == 0)(
        status(g)["listeners"][key]), 5 * SLOW, what="the connections closed")


def test_status_shows_a_busy_worker_and_its_request_age(greenc_factory):
    g = status_server(greenc_factory)
    slow = start_in_flight(g, 3)
    a = app_status(g)
    assert a["workers"]["busy"] == 1 and a["workers"]["idle"] == 1
    busy = [p for p in a["processes"] if p["state"] == "busy"]
    assert len(busy) == 1 and busy[0]["request_age_ms"] >= 0
    assert a["in_flight"] >= 2                  # the slow request and this one
    time.sleep(0.5)
    later = [p for p in app_status(g)["processes"] if p["state"] == "busy"]
    assert later and later[0]["request_age_ms"] >= busy[0]["request_age_ms"] + 400
    response, error = slow.result(10 * SLOW)
    assert error is None and response.status == 200
    a = app_status(g)
    assert a["workers"]["busy"] == 0 and a["workers"]["idle"] == 2


def test_status_counts_a_timeout_and_the_killed_worker_as_a_restart(greenc_factory):
    g = status_server(greenc_factory, app_extra="timeout 1s;")
    before = app_status(g)
    try:
        g.get("/sleep?t=10", timeout=8 * SLOW)
    except OSError:
        pass                                    # the stuck worker is killed mid-request
    a = wait_for(lambda: (lambda a: a if a["restarts"]["timeout"] == 1 else None)(app_status(g)),
                 10 * SLOW, what="the timeout kill counted as a restart")
    assert a["timeouts"] == 1
    assert a["restarts"]["signal"] == 0 and a["restarts"]["exit"] == 0
    g.wait_workers(2)
    # the counts of the killed worker survive it
    assert a["requests_total"] >= before["requests_total"] + 1


@pytest.mark.allow_log(r'worker process \d+ of app "hello" exited on signal 9$')
def test_status_counts_a_crashed_worker_and_keeps_its_counts(greenc_factory):
    g = status_server(greenc_factory, workers=1)
    for _ in range(4):
        assert g.get("/").status == 200
    before = app_status(g)
    [victim] = g.worker_pids()
    os.kill(victim, signal.SIGKILL)
    a = wait_for(lambda: (lambda a: a if a["restarts"]["signal"] == 1
                          and a["workers"]["idle"] == 1 else None)(
        (lambda: status(g, timeout=2 * SLOW))()["apps"]["hello"]),
        15 * SLOW, what="the killed worker counted and replaced")
    assert victim not in [p["pid"] for p in a["processes"]]
    assert a["requests"]["2xx"] >= before["requests"]["2xx"] + 1
    assert a["timeouts"] == 0


def test_status_counts_max_requests_retirements(greenc_factory):
    g = status_server(greenc_factory, workers=1, app_extra="max_requests 3;")
    for _ in range(6):
        assert g.get("/").status == 200
    a = wait_for(lambda: (lambda a: a if a["restarts"]["max_requests"] >= 1 else None)(
        app_status(g)), 10 * SLOW, what="a max_requests retirement counted")
    assert a["restarts"]["signal"] == 0 and a["restarts"]["exit"] == 0


def test_status_counts_boot_failures_of_an_app_that_cannot_import(greenc_factory):
    port = free_port()
    g = greenc_factory()
    apps = app_block(python_path=g.apps_dir, workers=1) + "\n" + app_block(
        "broken", wsgi="broken_app:application", python_path=g.apps_dir, workers=1)
    extra = ("    server {\n"
             f"        listen 127.0.0.1:{port};\n"
             "        location / { pass broken; }\n"
             "    }\n")
    g.write_config(apps=apps, locations=STATUS_LOC + default_locations(), extra_servers=extra)
    g.start()
    s = wait_for(lambda: (lambda s: s if s["apps"]["broken"]["restarts"]["boot_failure"] >= 1
                          else None)(status(g)), 15 * SLOW, what="a boot failure counted")
    broken = s["apps"]["broken"]
    assert broken["restarts"]["exit"] == 0 and broken["restarts"]["signal"] == 0
    assert broken["requests_total"] == 0
    assert s["apps"]["hello"]["restarts"]["boot_failure"] == 0


def test_status_generation_follows_reloads(greenc_factory):
    g = status_server(greenc_factory)
    assert status(g)["generation"] == 1
    g.send_signal(signal.SIGHUP)
    wait_for(lambda: status(g)["generation"] == 2, 15 * SLOW, what="generation 2")


# ---------------------------------------------------------------------------
# Prometheus

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? '
                    r'(-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')


def parse_prometheus(text):
    """Every line is HELP, TYPE or a sample; returns (types, samples)."""
    types, helps, samples = {}, set(), []
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in types, f"family {name} described twice"
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                 m.group(3) or ""))
        samples.append((m.group(1), labels, float(m.group(4))))
    assert set(types) == helps
    for name, _, _ in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name) \
            if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        assert family in types, f"sample {name} without HELP/TYPE"
    return types, samples


def test_prometheus_output_parses_line_by_line(greenc_factory):
    g = status_server(greenc_factory)
    for path in ("/", "/", "/gone", "/error"):
        g.get(path)
    # counted just after the response went out: wait for the 5xx to show
    wait_for(lambda: (lambda c: c["4xx"] == 1 and c["5xx"] == 1)(app_status(g)["requests"]),
             10 * SLOW, what="the 4xx and the 5xx counted")
    r = g.get("/status?format=prometheus")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4"
    types, samples = parse_prometheus(r.text)
    assert types["greenc_requests_total"] == "counter"
    assert types["greenc_request_duration_seconds"] == "histogram"
    assert types["greenc_workers"] == "gauge"
    for family in ("greenc_generation", "greenc_config_mtime_seconds",
                   "greenc_requests_in_flight", "greenc_request_timeouts_total",
                   "greenc_worker_restarts_total", "greenc_listen_queue",
                   "greenc_listener_accepted_total", "greenc_listener_connections",
                   "greenc_tls_handshakes_total"):
        assert family in types, family

    def value(name, **labels):
        found = [v for n, lb, v in samples if n == name and lb == labels]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    assert value("greenc_requests_total", app="hello", code="4xx") >= 1
    assert value("greenc_requests_total", app="hello", code="5xx") >= 1
    assert value("greenc_workers", app="hello", state="idle") == 2
    buckets = [(lb["le"], v) for n, lb, v in samples
               if n == "greenc_request_duration_seconds_bucket" and lb["app"] == "hello"]
    assert buckets[-1][0] == "+Inf"
    bounds = [float(le) for le, _ in buckets[:-1]]
    assert bounds == sorted(bounds)
    counts = [v for _, v in buckets]
    assert all(a <= b for a, b in zip(counts, counts[1:])), counts
    assert counts[-1] == value("greenc_request_duration_seconds_count", app="hello")
    assert value("greenc_request_duration_seconds_sum", app="hello") >= 0
    total = sum(value("greenc_requests_total", app="hello", code=c)
                for c in ("1xx", "2xx", "3xx", "4xx", "5xx"))
    assert total == counts[-1]
    assert value("greenc_listener_accepted_total", listener=f"127.0.0.1:{g.port}") >= 5
    assert value("greenc_tls_handshakes_total") == 0

    # and by Prometheus' own parser (Debian's python3-prometheus-client)
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    hist = families["greenc_request_duration_seconds"]
    assert hist.type == "histogram"
    assert {s.name for s in hist.samples} == {"greenc_request_duration_seconds_bucket",
                                              "greenc_request_duration_seconds_sum",
                                              "greenc_request_duration_seconds_count"}
    # the parser drops the _total suffix from a counter family's name
    assert families["greenc_requests"].type == "counter"
    assert families["greenc_workers"].type == "gauge"
    assert len(families) == len(types)


def test_prometheus_is_chosen_by_accept_text_plain(greenc_factory):
    g = status_server(greenc_factory)
    r = g.get("/status", headers={"Accept": "text/plain"})
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4"
    assert "# TYPE greenc_requests_total counter" in r.text
    r = g.get("/status", headers={"Accept": "application/json"})
    assert r.headers["Content-Type"] == "application/json"
    json.loads(r.body)


# ---------------------------------------------------------------------------
# allow / deny

def test_deny_gives_403_on_a_status_and_a_pass_location(greenc_factory):
    locations = (
        "        location /status { deny 127.0.0.1; allow all; status; }\n"
        "        location /private/ { allow 10.0.0.0/8; deny all; pass hello; }\n"
        "        location /open/ { allow 127.0.0.0/8; deny all; pass hello; }\n"
        + default_locations())
    g = status_server(greenc_factory, locations=locations, wait_idle=False)
    assert g.get("/status").status == 403
    r = g.get("/private/")
    assert r.status == 403 and b"test app" not in r.body     # the app never saw it
    r = g.get("/open/")
    assert r.status == 404 and b"not found in the test app" in r.body  # the app answered
    assert g.get("/").status == 200
    g.wait_log("access forbidden by rule")


def test_allow_deny_first_match_wins_in_order(greenc_factory):
    locations = (
        "        location /a { allow 127.0.0.1; deny 127.0.0.0/8; return 200 a; }\n"
        "        location /b { deny 127.0.0.0/8; allow 127.0.0.1; return 200 b; }\n"
        "        location /c { deny 10.0.0.0/8; deny ::1; return 200 c; }\n"
        + default_locations())
    g = status_server(greenc_factory, locations=locations, wait_idle=False)
    assert g.get("/a").status == 200
    assert g.get("/b").status == 403
    assert g.get("/c").status == 200            # no rule matches: let in


def test_allow_deny_are_inherited_from_server_unless_a_location_has_its_own(greenc_factory):
    locations = (
        "        deny 127.0.0.1;\n"
        "        location /mine { allow all; return 200 mine; }\n"
        + default_locations())
    g = greenc_factory()
    g.write_config(apps=app_block(python_path=g.apps_dir, workers=1), locations=locations)
    g.start(wait=False)
    wait_for(lambda: g.log_text().count("is ready") >= 1, 15 * SLOW, what="the worker ready")
    assert g.get("/mine").status == 200
    assert g.get("/").status == 403
    assert g.get("/healthz").status == 403
    assert g.get("/nowhere-else").status == 403


def test_http_level_rules_reach_every_server(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block(python_path=g.apps_dir, workers=1),
                   http_extra="deny all;")
    g.start(wait=False)
    wait_for(lambda: g.log_text().count("is ready") >= 1, 15 * SLOW, what="the worker ready")
    assert g.get("/healthz").status == 403
    assert g.get("/").status == 403


def test_ipv6_rules(greenc_factory):
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    port = free_port()
    extra = (
        "    server {\n"
        f"        listen [::1]:{port};\n"
        "        location /v6 { deny ::1/128; return 200 v6; }\n"
        "        location /net { allow 2001:db8::/32; allow ::/0; deny all; return 200 net; }\n"
        "        location /four { deny 127.0.0.0/8; return 200 four; }\n"
        "    }\n")
    status_server(greenc_factory, extra_servers=extra, main_extra="router_workers 1;",
                  processes=3)

    def get6(path):
        import http.client
        c = http.client.HTTPConnection("::1", port, timeout=5 * SLOW)
        try:
            c.request("GET", path)
            return c.getresponse().status
        finally:
            c.close()

    assert get6("/v6") == 403
    assert get6("/net") == 200
    assert get6("/four") == 200                 # an IPv4 rule never matches an IPv6 client


@pytest.mark.parametrize("value", ["10.0.0.0/33", "::1/129", "not-an-address", "10.0.0/8"])
def test_bad_allow_value_is_a_config_error_with_file_and_line(tmp_path, value):
    conf = tmp_path / "greenc.conf"
    conf.write_text("daemon off;\nhttp {\n  server {\n    listen 127.0.0.1:1;\n"
                    f"    location / {{ allow {value}; return 200; }}\n  }}\n}}\n")
    r = run_greenc("-t", "-c", conf)
    assert r.returncode != 0
    assert f'invalid value "{value}" in "allow" directive' in r.stderr
    assert f"{conf}:5" in r.stderr


def test_allow_outside_http_is_refused(tmp_path):
    conf = tmp_path / "greenc.conf"
    conf.write_text("daemon off;\nallow all;\n")
    r = run_greenc("-t", "-c", conf)
    assert r.returncode != 0
    assert '"allow" directive is not allowed here' in r.stderr and f"{conf}:2" in r.stderr


# ---------------------------------------------------------------------------
# greenc -s status

def test_s_status_prints_workers_generation_and_totals(greenc_factory):
    g = status_server(greenc_factory)
    for _ in range(3):
        g.get("/")
    slow = start_in_flight(g, 2)
    r = run_greenc("-s", "status", "-c", g.conf)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"master {g.pid}, generation 1, config {g.conf}" in out
    assert 'app "hello": 2 workers (1 idle, 1 busy, 0 starting, 0 draining)' in out
    for pid in g.worker_pids():
        assert re.search(rf"^  {pid} +(idle|busy) +\d+  ", out, re.M), out
    assert re.search(r"^  \d+ +busy +\d+  \d+\.\ds$", out, re.M), out
    assert re.search(r"^total: 2 workers, \d+ requests, 0 timeouts, 0 restarts$", out, re.M)
    assert f"listener 127.0.0.1:{g.port}: accepted" in out
    assert len(out.splitlines()) <= 24, "one screen"
    slow.result(10 * SLOW)


def test_s_status_without_a_status_location_says_what_to_add(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block(python_path=g.apps_dir, workers=1))
    g.start()
    r = run_greenc("-s", "status", "-c", g.conf)
    assert r.returncode == 1
    assert 'has no "status" location' in r.stderr


def test_s_status_refused_by_deny_says_so(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block(python_path=g.apps_dir, workers=1),
                   locations="        location /status { deny all; status; }\n"
                   + default_locations())
    g.start()
    r = run_greenc("-s", "status", "-c", g.conf)
    assert r.returncode == 1
    assert "403" in r.stderr and "allow/deny" in r.stderr


def test_s_status_without_a_running_master(tmp_path):
    conf = tmp_path / "greenc.conf"
    conf.write_text(f"daemon off;\npid {tmp_path}/none.pid;\nhttp {{ server {{ "
                    "listen 127.0.0.1:1; location /status { status; } } }\n")
    r = run_greenc("-s", "status", "-c", conf)
    assert r.returncode == 1
    assert "is greenc running?" in r.stderr


# ---------------------------------------------------------------------------
# through the router group

def test_status_and_deny_on_a_listener_shared_by_two_apps(greenc_factory):
    g = greenc_factory()
    apps = g.apps_dir
    g.write_config(f"""
daemon off;
pid {g.pid_file};
error_log {g.error_log} info;
router_workers 1;
app blog {{ wsgi router_app:application; python_path {apps}; env APP_ID=blog; workers 1; }}
app api  {{ wsgi router_app:application; python_path {apps}; env APP_ID=api; workers 1; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{g.port};
        location = /healthz {{ return 200 "ok\\n"; }}
        location /status {{ allow 127.0.0.1; deny all; status; }}
        location /closed/ {{ deny 127.0.0.1; pass blog; }}
        location /api/ {{ pass api; script_name /api; }}
        location / {{ pass blog; }}
    }}
}}
""")
    g.start()
    g.wait_workers(3)

    def apps_ready():
        s = status(g)
        return s if (s["apps"]["blog"]["workers"]["idle"] == 1
                     and s["apps"]["api"]["workers"]["idle"] == 1) else None
    wait_for(apps_ready, 15 * SLOW, what="both apps idle on the status page")
    for path in ("/whoami", "/api/whoami"):
        wait_for(lambda: g.get(path).status == 200, 15 * SLOW, what=f"{path} answered")
    before = settled_snapshot(lambda: status(g), lambda s: (s["apps"]["blog"]["requests"],
                                                            s["apps"]["api"]["requests"]))
    for _ in range(3):
        assert g.get("/whoami").json()["app"] == "blog"
    for _ in range(2):
        assert g.get("/api/whoami").json()["app"] == "api"
    r = g.get("/closed/whoami")
    assert r.status == 403                      # refused by the router, the app never saw it

    def delta(s, group, cls):
        g_now = s["router"] if group == "router" else s["apps"][group]
        g_then = before["router"] if group == "router" else before["apps"][group]
        return g_now["requests"][cls] - g_then["requests"][cls]

    def settled():
        s = status(g)
        return s if (delta(s, "blog", "2xx") == 3 and delta(s, "api", "2xx") == 2
                     and delta(s, "router", "4xx") == 1) else None
    s = wait_for(settled, 5 * SLOW, interval=0.1, what="the counts through the router")
    assert delta(s, "blog", "4xx") == 0
    assert delta(s, "router", "2xx") >= 5       # what it forwarded, and the status requests
    assert s["router"]["workers"]["starting"] == 0
    assert len(s["router"]["processes"]) == 1
    assert s["router"]["listen_queue"] == 0
    assert s["apps"]["blog"]["listen_queue"] is None    # only the internal unix socket
    assert s["listeners"][f"127.0.0.1:{g.port}"]["accepted"] >= 7
