"""The access log and the error log's request context.

The access log: nginx's default file and `combined` format, log_format with every variable
and escaping (default and escape=json), buffer= / flush= / if=, `access_log off` at every
level, $request_id (generated, or taken from a trusted X-Request-ID) in the log, the environ
and the response. The error log: a malformed request's info line and an app's traceback name
the client, server, request, host and request id."""

import datetime
import json
import re
import signal
import threading
import time

from harness import (REQUEST_TIMEOUT, SLOW, app_block, default_locations, free_port,
                     http_request, parse_responses, recv_until_close, run_greenc, wait_for)

COMBINED = re.compile(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                      r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) '
                      r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$')


def _lines(path):
    """The file's lines, bytes as latin-1 (a log may hold any byte a client sent)."""
    return path.read_text(encoding="latin-1").splitlines() if path.exists() else []


def test_default_access_log_is_logs_access_log_in_combined_format(greenc_factory):
    g = greenc_factory()
    (g.dir / "conf").mkdir()
    (g.dir / "logs").mkdir()
    conf = g.dir / "conf" / "greenc.conf"
    # No access_log anywhere: nginx writes <prefix>/logs/access.log in "combined".
    conf.write_text(g.config_text().replace("    access_log off;\n", ""))
    g.conf = conf
    g.start()
    assert g.get("/?q=1", headers={"User-Agent": 'agent "x"', "Referer": "http://r/"}).status == 200
    log = g.dir / "logs" / "access.log"
    lines = wait_for(lambda: [l for l in _lines(log) if "/?q=1" in l], 5 * SLOW,
                     what="the request in logs/access.log")
    m = COMBINED.match(lines[-1])
    assert m, lines[-1]
    assert m["request"] == "GET /?q=1 HTTP/1.1"
    assert m["status"] == "200"
    assert int(m["bytes"]) == len(b"Hello, world!\n")
    assert m["referer"] == "http://r/"
    assert m["agent"] == r"agent \x22x\x22"        # quotes escaped as nginx does


def test_log_format_json_escapes_values(greenc_factory):
    g = greenc_factory()
    log = g.dir / "json.log"
    g.write_config(
        http_extra="log_format js escape=json '{\"status\":$status,\"uri\":\"$request_uri\","
                   "\"ua\":\"$http_user_agent\",\"t\":$request_time}';",
        locations=f"        access_log {log} js;\n" + default_locations())
    g.start()
    assert g.get("/gone", headers={"User-Agent": 'a"b\\c'}).status == 410
    lines = wait_for(lambda: [l for l in _lines(log) if "/gone" in l], 5 * SLOW,
                     what="the request in the json log")
    entry = json.loads(lines[-1])
    assert entry["status"] == 410 and entry["uri"] == "/gone" and entry["ua"] == 'a"b\\c'
    assert entry["t"] >= 0


def test_bad_request_is_logged_with_400(greenc_factory):
    g = greenc_factory()
    log = g.dir / "access.log"
    g.write_config(locations=f"        access_log {log};\n" + default_locations())
    g.start()
    assert g.raw(b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    wait_for(lambda: any('" 400 ' in l for l in _lines(log)), 5 * SLOW,
             what="a 400 line in the access log")


def test_access_log_off_writes_nothing(greenc_factory):
    g = greenc_factory()
    log = g.dir / "off.log"
    g.write_config(locations=f"        access_log {log};\n"
                             "        location /quiet { access_log off; return 200 \"q\\n\"; }\n"
                             + default_locations())
    g.start()
    assert g.get("/quiet").status == 200
    assert g.get("/gone").status == 410
    wait_for(lambda: any("/gone" in l for l in _lines(log)), 5 * SLOW, what="/gone logged")
    assert not any("/quiet" in l for l in _lines(log))


def test_unknown_log_variable_is_a_config_error(greenc_factory):
    g = greenc_factory()
    g.write_config(http_extra="log_format bad '$no_such_thing';")
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode == 1
    assert 'unknown "no_such_thing" variable' in r.stderr
    assert f"{g.conf}:" in r.stderr


# ---------------------------------------------------------------------------
# every variable, escaping, buffering, if=, off at every level, request ids

LOGS_LOCATIONS = ('        location = /healthz { access_log off; return 200 "ok\\n"; }\n'
                  '        location / { pass logs; }\n')

VARIABLES = ["remote_addr", "remote_port", "time_local", "time_iso8601", "request",
             "request_method", "request_uri", "uri", "args", "server_protocol", "status",
             "body_bytes_sent", "bytes_sent", "request_time", "request_length", "request_id",
             "app", "pid", "server_name", "server_port", "scheme", "host", "connection",
             "connection_requests", "msec", "http_x_custom", "http_user_agent",
             "sent_http_x_note", "sent_http_content_length", "sent_http_content_type",
             "sent_http_connection", "sent_http_transfer_encoding", "sent_http_server"]

ALL_JSON = "{" + ",".join(f'"{v}":"${v}"' for v in VARIABLES) + "}"


def _logs_server(greenc_factory, log_lines="", http_extra="", app_extra="", name="srv",
                 locations=LOGS_LOCATIONS, access_log_http="off"):
    """A server running tests/integration/apps/logging_app.py as app "logs"; log_lines
    go at server level (access_log, server_name, ...)."""
    g = greenc_factory(name)
    text = g.config_text(apps=app_block("logs", wsgi="logging_app:application",
                                        python_path=g.apps_dir, extra=app_extra),
                         http_extra=http_extra, locations=log_lines + locations)
    g.write_config(text.replace("    access_log off;\n",
                                f"    access_log {access_log_http};\n", 1))
    return g


def _log_path(g, name):
    """Puts the file `name` in g's directory where the config says LOG; returns its path."""
    path = g.dir / name
    g.write_config(g.conf.read_text().replace("access_log LOG", f"access_log {path}"))
    return path


def _read_response(sock, timeout=REQUEST_TIMEOUT):
    """One response from a keep-alive socket: (raw bytes, Response). Content-Length only."""
    raw = recv_until_close(sock, timeout, until=lambda d: b"\r\n\r\n" in d and len(d) >= (
        d.index(b"\r\n\r\n") + 4 + int(re.search(rb"(?i)content-length: (\d+)", d)[1])))
    (resp,) = parse_responses(raw)
    return bytes(raw), resp


def _wait_lines(path, n, timeout=5 * SLOW):
    return wait_for(lambda: (lambda l: l if len(l) >= n else None)(_lines(path)), timeout,
                    what=f"{n} lines in {path}")


def test_every_log_variable_has_its_exact_value(greenc_factory):
    g = _logs_server(greenc_factory, name="all",
                     http_extra=f"log_format all escape=json '{ALL_JSON}';",
                     log_lines="        access_log LOG all;\n"
                               "        server_name example.com www.example.com;\n"
                               "        add_request_id_header on;\n")
    log = _log_path(g, "all.log")
    g.start()

    with g.connect() as s:
        req1 = (b"GET /id?x=1&y=%20z HTTP/1.1\r\nHost: WWW.Example.COM:PORT\r\n"
                b"X-Custom: v1\r\nUser-Agent: ua/1\r\nContent-Length: 5\r\n\r\nhello"
                ).replace(b"PORT", str(g.port).encode())
        s.sendall(req1)
        raw1, resp1 = _read_response(s)
        req2 = b"GET /stream HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
        s.sendall(req2)
        raw2 = recv_until_close(s)
        client_port = s.getsockname()[1]
    assert raw2.closed
    (resp2,) = parse_responses(raw2)
    body1 = resp1.json()

    first, second = [json.loads(line) for line in _wait_lines(log, 2)]
    now = time.time()

    assert first["remote_addr"] == "127.0.0.1"
    assert first["remote_port"] == str(client_port)
    local = datetime.datetime.strptime(first["time_local"], "%d/%b/%Y:%H:%M:%S %z")
    assert abs(local.timestamp() - now) < 10 * SLOW
    iso = datetime.datetime.fromisoformat(first["time_iso8601"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", first["time_iso8601"])
    assert abs(iso.timestamp() - now) < 10 * SLOW
    assert first["request"] == "GET /id?x=1&y=%20z HTTP/1.1"
    assert first["request_method"] == "GET"
    assert first["request_uri"] == "/id?x=1&y=%20z"
    assert first["uri"] == "/id"
    assert first["args"] == "x=1&y=%20z"
    assert first["server_protocol"] == "HTTP/1.1"
    assert first["status"] == "200"
    assert first["body_bytes_sent"] == str(len(resp1.body))
    assert first["bytes_sent"] == str(len(raw1))              # head + body as received
    assert re.fullmatch(r"\d+\.\d{3}", first["request_time"])
    assert first["request_length"] == str(len(req1))          # line + headers + body
    assert re.fullmatch(r"[0-9a-f]{32}", first["request_id"])
    assert first["request_id"] == body1["request_id"] == resp1.headers["X-Request-ID"]
    assert first["app"] == "logs"
    assert first["pid"] == str(body1["pid"])
    assert first["server_name"] == "example.com"              # the server's first name
    assert first["server_port"] == str(g.port)
    assert first["scheme"] == "http"
    assert first["host"] == "www.example.com"                 # lower-cased, without the port
    assert first["connection_requests"] == "1"
    assert abs(float(first["msec"]) - now) < 10 * SLOW
    assert re.fullmatch(r"\d+\.\d{3}", first["msec"])
    assert first["http_x_custom"] == "v1"
    assert first["http_user_agent"] == "ua/1"
    assert first["sent_http_x_note"] == 'a "quoted" \\ value'
    assert first["sent_http_content_length"] == str(len(resp1.body))
    assert first["sent_http_content_type"] == "application/json"
    assert first["sent_http_connection"] == ""                # HTTP/1.1 keep-alive: none sent
    assert first["sent_http_transfer_encoding"] == ""
    assert first["sent_http_server"].startswith("greenc")

    # The second request on the same connection: chunked, Connection: close.
    assert second["connection"] == first["connection"] and int(first["connection"]) >= 1
    assert second["connection_requests"] == "2"
    assert second["request"] == "GET /stream HTTP/1.1"
    assert second["args"] == ""                               # JSON escaping: empty, not "-"
    assert second["host"] == "example.com"
    assert second["body_bytes_sent"] == str(len(b"one\ntwo\nthree\n")) == str(len(resp2.body))
    assert second["bytes_sent"] == str(len(raw2))             # chunk framing included
    assert second["sent_http_transfer_encoding"] == "chunked"
    assert second["sent_http_connection"] == "close"
    assert second["sent_http_content_length"] == ""
    assert second["request_length"] == str(len(req2))
    assert second["request_id"] != first["request_id"]

    # Another connection gets another number.
    assert g.get("/id", headers={"Host": "example.com"}).status == 200
    third = json.loads(_wait_lines(log, 3)[2])
    assert third["connection"] != first["connection"]
    assert third["connection_requests"] == "1"


def test_request_time_includes_the_time_in_the_app(greenc_factory):
    g = _logs_server(greenc_factory, http_extra="log_format rt '$request_time $status';",
                     log_lines="        access_log LOG rt;\n")
    log = _log_path(g, "rt.log")
    g.start()
    started = time.monotonic()
    assert g.get("/sleep?t=0.3").status == 200
    elapsed = time.monotonic() - started
    (line,) = _wait_lines(log, 1)
    seconds, status = line.split()
    assert status == "200"
    assert re.fullmatch(r"\d+\.\d{3}", seconds)
    assert 0.3 <= float(seconds) <= elapsed + 0.01


def test_hostile_header_values_are_escaped_in_json_and_default_formats(greenc_factory):
    js, plain = "js.log", "plain.log"
    g = _logs_server(greenc_factory,
                     http_extra="log_format js escape=json '{\"ua\":\"$http_user_agent\","
                                "\"note\":\"$sent_http_x_note\",\"uri\":\"$request_uri\"}'; "
                                "log_format plain '$http_user_agent|$sent_http_x_note|"
                                "$http_referer';")
    g.write_config(g.conf.read_text().replace(
        "    server {\n",
        f"    server {{\n        access_log {g.dir / js} js;\n"
        f"        access_log {g.dir / plain} plain;\n", 1))
    g.start()
    # A quote, a backslash, a tab and a byte above 0x7f: what header values may carry.
    hostile = b'x", "status": 999, "y": "\\\t\xff'
    raw = g.raw(b"GET /id?q=%22 HTTP/1.1\r\nHost: h\r\nUser-Agent: " + hostile +
                b"\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200")

    (line,) = _wait_lines(g.dir / js, 1)
    entry = json.loads(line)
    assert set(entry) == {"ua", "note", "uri"}                # nothing injected
    assert entry["ua"] == hostile.decode("latin-1")
    assert entry["note"] == 'a "quoted" \\ value'
    assert entry["uri"] == "/id?q=%22"
    assert "\\u0009" in line

    (line,) = _wait_lines(g.dir / plain, 1)
    ua, note, referer = line.split("|")
    assert ua == r"x\x22, \x22status\x22: 999, \x22y\x22: \x22\x5C\x09\xFF"
    assert note == r"a \x22quoted\x22 \x5C value"
    assert referer == "-"                                     # absent header


def test_buffered_lines_appear_after_the_flush_time(greenc_factory):
    g = _logs_server(greenc_factory, name="buf", log_lines="        access_log LOG combined "
                                                           "buffer=64k flush=2s;\n")
    log = _log_path(g, "buffered.log")
    g.start()
    sent = time.monotonic()
    assert g.get("/id?n=1").status == 200
    time.sleep(0.2)
    assert not any("/id?n=1" in l for l in _lines(log)), "written before the flush time"
    wait_for(lambda: any("/id?n=1" in l for l in _lines(log)), 10 * SLOW,
             what="the buffered line after flush=2s")
    assert time.monotonic() - sent >= 1.9


def _send_many(g, n, connections=4, path="/id"):
    """n requests over `connections` keep-alive connections in parallel; the raw answers."""
    results = []

    def client(count, tag):
        with g.connect() as s:
            for i in range(count):
                s.sendall(b"GET %s?c=%d&i=%d HTTP/1.1\r\nHost: h\r\n\r\n"
                          % (path.encode(), tag, i))
                results.append(_read_response(s)[1])

    threads = [threading.Thread(target=client, args=(n // connections, c))
               for c in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * SLOW)
    assert len(results) == n and all(r.status == 200 for r in results)
    return results


def test_buffered_lines_are_all_written_on_graceful_stop(greenc_factory):
    g = _logs_server(greenc_factory, name="stop", app_extra="threads     2;",
                     log_lines="        access_log LOG combined buffer=1m;\n")
    log = _log_path(g, "stop.log")
    g.start()
    _send_many(g, 200)
    time.sleep(0.3)
    assert not any("/id?" in l for l in _lines(log)), "a 1m buffer wrote before it was full"
    assert g.stop(signal.SIGTERM) == 0
    lines = [l for l in _lines(log) if "/id?" in l]
    assert len(lines) == 200
    assert len(set(lines)) == 200                              # whole lines, none twice
    assert all(COMBINED.match(l) for l in lines)


def test_buffered_lines_are_written_on_usr1_before_the_reopen(greenc_factory):
    g = _logs_server(greenc_factory, name="usr1",
                     log_lines="        access_log LOG combined buffer=1m;\n")
    log = _log_path(g, "rotated.log")
    g.start()
    _send_many(g, 40)
    assert not any("/id?" in l for l in _lines(log))
    old = g.dir / "rotated.log.1"
    log.rename(old)                                            # what logrotate does
    g.send_signal(signal.SIGUSR1)
    wait_for(lambda: len([l for l in _lines(old) if "/id?" in l]) == 40, 10 * SLOW,
             what="the 40 buffered lines in the renamed file")
    wait_for(log.exists, 10 * SLOW, what="the reopened log file")
    assert g.get("/id?after=1").status == 200
    g.stop(signal.SIGTERM)
    assert [l for l in _lines(log) if "/id?" in l] == \
        [l for l in _lines(log) if "/id?after=1" in l] != []
    assert len([l for l in _lines(old) if "/id?" in l]) == 40


def test_buffered_lines_of_every_thread_survive_usr1(greenc_factory):
    # Thread 0 reads USR1, flushes its buffer and reopens; the other threads flush theirs when
    # woken, into whichever file is open then. No line may be lost or written twice.
    g = _logs_server(greenc_factory, name="usr1t", app_extra="threads     2;",
                     log_lines="        access_log LOG combined buffer=1m;\n")
    log = _log_path(g, "rotated.log")
    g.start()
    _send_many(g, 200, connections=8)
    old = g.dir / "rotated.log.1"
    log.rename(old)
    g.send_signal(signal.SIGUSR1)

    def both():
        lines = [l for p in (old, log) for l in _lines(p) if "/id?" in l]
        return lines if len(lines) >= 200 else None

    lines = wait_for(both, 10 * SLOW, what="200 lines across the old and the new file")
    assert len(lines) == 200 and len(set(lines)) == 200
    assert all(COMBINED.match(l) for l in lines)


def test_buffered_lines_are_written_when_a_reload_retires_the_workers(greenc_factory):
    g = _logs_server(greenc_factory, name="hup",
                     log_lines="        access_log LOG combined buffer=1m;\n")
    log = _log_path(g, "hup.log")
    g.start()
    old_workers = g.worker_pids()
    _send_many(g, 40)
    assert not any("/id?" in l for l in _lines(log))
    g.send_signal(signal.SIGHUP)
    wait_for(lambda: len([l for l in _lines(log) if "/id?" in l]) == 40, 20 * SLOW,
             what="the old workers' 40 buffered lines after the reload")
    wait_for(lambda: not set(old_workers) & set(g.worker_pids()), 20 * SLOW,
             what="the old workers to exit")


def test_access_log_if_condition(greenc_factory):
    g = _logs_server(greenc_factory, log_lines="        access_log LOG combined if=$http_x_log;\n")
    log = _log_path(g, "if.log")
    g.start()
    assert g.get("/id?a=yes", headers={"X-Log": "1"}).status == 200
    assert g.get("/id?a=zero", headers={"X-Log": "0"}).status == 200
    assert g.get("/id?a=none").status == 200
    assert g.get("/id?a=word", headers={"X-Log": "yes"}).status == 200
    g.stop(signal.SIGTERM)
    logged = [m for l in _lines(log) for m in re.findall(r"a=(\w+)", l)]
    assert logged == ["yes", "word"]


def test_access_log_off_at_server_and_location_levels(greenc_factory):
    g = greenc_factory()
    log = g.dir / "levels.log"
    port2 = free_port()
    text = g.config_text(locations=(
        "        location /loud { return 200 \"loud\\n\"; }\n"
        "        location /quiet { access_log off; return 200 \"quiet\\n\"; }\n"
        + default_locations()), extra_servers=(
        "    server {\n"
        f"        listen 127.0.0.1:{port2};\n"
        "        access_log off;\n"
        "        location / { return 200 \"server off\\n\"; }\n"
        "        location /on { access_log " + str(g.dir / "levels.log") + "; "
        "return 200 \"on again\\n\"; }\n"
        "    }\n"))
    g.write_config(text.replace("    access_log off;\n", f"    access_log {log};\n", 1))
    g.start()
    assert g.get("/loud").status == 200
    assert g.get("/quiet").status == 200
    assert http_request(port2, "GET", "/off-server").status == 200
    assert http_request(port2, "GET", "/on").status == 200
    g.stop(signal.SIGTERM)
    text = log.read_text()
    assert "/loud" in text and "/on" in text
    assert "/quiet" not in text and "/off-server" not in text


def test_bad_access_log_parameters_are_config_errors(greenc_factory):
    cases = {
        "buffer=0": "invalid buffer size",
        "buffer=lots": "invalid buffer size",
        "flush=soon": "invalid flush time",
        "gzip": 'invalid parameter "gzip"',
        "if=$no_such_var": 'unknown "no_such_var" variable',
    }
    for i, (param, message) in enumerate(cases.items()):
        g = greenc_factory(f"bad{i}")
        g.write_config(locations=f"        access_log {g.dir / 'x.log'} combined {param};\n"
                                 + default_locations())
        r = run_greenc("-t", "-c", g.conf)
        assert r.returncode == 1, param
        assert message in r.stderr and f"{g.conf}:" in r.stderr, (param, r.stderr)

    g = greenc_factory("conflict")
    g.write_config(locations=f"        access_log {g.dir / 'x.log'} combined buffer=8k;\n"
                             f"        location /a {{ access_log {g.dir / 'x.log'} combined "
                             "buffer=16k; }\n" + default_locations())
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode == 1 and "already buffered" in r.stderr and f"{g.conf}:" in r.stderr


def test_request_ids_are_unique_across_1000_requests_workers_and_threads(greenc_factory):
    g = _logs_server(greenc_factory, name="ids", app_extra="threads     2;",
                     http_extra="log_format rid '$request_id $pid';",
                     log_lines="        access_log LOG rid;\n        add_request_id_header on;\n")
    log = _log_path(g, "ids.log")
    g.start()
    answers = _send_many(g, 1000, connections=8)
    header_ids = [r.headers["X-Request-ID"] for r in answers]
    env_ids = [r.json()["request_id"] for r in answers]
    assert header_ids == env_ids
    lines = _wait_lines(log, 1000)
    logged = [l.split()[0] for l in lines]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in logged)
    assert len(set(logged)) == 1000
    assert set(logged) == set(header_ids)
    assert len({l.split()[1] for l in lines}) >= 1


X_ID = "edge-7f3a.1:abc/XYZ+=@_"


def test_x_request_id_is_taken_only_from_trusted_peers(greenc_factory):
    def run(name, http_extra):
        g = _logs_server(greenc_factory, name=name, http_extra=http_extra,
                         log_lines="        add_request_id_header on;\n")
        g.start()
        r = g.get("/id", headers={"X-Request-ID": X_ID})
        bad = g.get("/id", headers={"X-Request-ID": "has space"})
        long = g.get("/id", headers={"X-Request-ID": "a" * 129})
        g.stop()
        return r, bad, long

    # Trusted peer (127.0.0.1 is in set_real_ip_from): the id is used everywhere.
    r, bad, long = run("trusted", "request_id_header X-Request-ID; "
                                  "set_real_ip_from 127.0.0.0/8;")
    assert r.json()["request_id"] == X_ID == r.headers["X-Request-ID"]
    assert r.json()["http_x_request_id"] == X_ID
    # ...but never a value that would need escaping, nor an overlong one.
    for answer in (bad, long):
        assert re.fullmatch(r"[0-9a-f]{32}", answer.json()["request_id"])
        assert answer.headers["X-Request-ID"] == answer.json()["request_id"]

    # Untrusted peer: a fresh id; the header still reaches the app as HTTP_X_REQUEST_ID.
    r, _, _ = run("untrusted", "request_id_header X-Request-ID; set_real_ip_from 10.0.0.0/8;")
    assert re.fullmatch(r"[0-9a-f]{32}", r.json()["request_id"])
    assert r.headers["X-Request-ID"] == r.json()["request_id"]
    assert r.json()["http_x_request_id"] == X_ID

    # Prefixes that end inside a byte: 127.0.0.1 is in 127.0.0.0/9, not in 127.0.0.2/31;
    # an IPv6 entry never matches an IPv4 peer.
    r, _, _ = run("bits9", "request_id_header X-Request-ID; set_real_ip_from 127.0.0.0/9;")
    assert r.json()["request_id"] == X_ID
    r, _, _ = run("bits31", "request_id_header X-Request-ID; set_real_ip_from 127.0.0.2/31; "
                            "set_real_ip_from ::1;")
    assert re.fullmatch(r"[0-9a-f]{32}", r.json()["request_id"])

    # No request_id_header: trusted or not, the incoming header is not the id.
    r, _, _ = run("noheader", "set_real_ip_from 127.0.0.1;")
    assert re.fullmatch(r"[0-9a-f]{32}", r.json()["request_id"])


def test_request_id_header_is_not_sent_unless_configured(greenc_factory):
    g = _logs_server(greenc_factory)
    g.start()
    r = g.get("/id")
    assert "X-Request-ID" not in r.headers
    assert re.fullmatch(r"[0-9a-f]{32}", r.json()["request_id"])      # environ has it anyway


# ---------------------------------------------------------------------------
# the error log's request context


def test_malformed_request_info_line_names_client_server_and_request(greenc_factory):
    g = _logs_server(greenc_factory, log_lines="        server_name ctx.example;\n")
    g.start()
    before = len(g.log_text())
    raw = g.raw(b"GET /dup HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400")
    g.wait_log("more than one Host")
    line = next(l for l in g.log_text()[before:].splitlines() if "more than one Host" in l)
    assert "[info]" in line
    assert line.endswith('client sent more than one Host header; answering 400, '
                         'client: 127.0.0.1, server: ctx.example, request: "GET /dup HTTP/1.1", '
                         'host: "a", request_id: ' + line[-32:])
    assert re.fullmatch(r"[0-9a-f]{32}", line[-32:])

    # Junk before a request line exists: the client and server only.
    raw = g.raw(b"\x01\x02 junk\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400")
    wait_for(lambda: [l for l in g.log_text()[before:].splitlines()
                      if "invalid request" in l], 5 * SLOW, what="the invalid request line")
    line = next(l for l in g.log_text()[before:].splitlines() if "invalid request" in l)
    assert "[info]" in line and "client: 127.0.0.1, server: ctx.example" in line


def test_app_traceback_and_wsgi_errors_lines_name_the_request(greenc_factory):
    g = _logs_server(greenc_factory, http_extra="log_format rid '$request_id $status';",
                     log_lines="        server_name ctx.example;\n"
                               "        add_request_id_header on;\n"
                               "        access_log LOG rid;\n")
    log = _log_path(g, "tb.log")
    g.start()
    r = g.get("/boom?x=1", headers={"Host": "ctx.example"})
    assert r.status == 500
    rid = r.headers["X-Request-ID"]
    g.wait_log("boom for the error log test")
    text = g.log_text()
    first = next(l for l in text.splitlines() if "unhandled exception" in l)
    assert "[error]" in first
    assert first.endswith('unhandled exception in WSGI application, client: 127.0.0.1, '
                          'server: ctx.example, request: "GET /boom?x=1 HTTP/1.1", '
                          f'host: "ctx.example", request_id: {rid}')
    assert f"{rid} 500" in _wait_lines(log, 1)[0]              # the same id in the access log

    r = g.get("/say?msg=note-from-app", headers={"Host": "ctx.example"})
    g.wait_log("note-from-app")
    line = next(l for l in g.log_text().splitlines() if "note-from-app" in l)
    assert line.endswith('note-from-app, client: 127.0.0.1, server: ctx.example, '
                         'request: "GET /say?msg=note-from-app HTTP/1.1", host: "ctx.example", '
                         f'request_id: {r.headers["X-Request-ID"]}')


def test_request_length_counts_streamed_and_spooled_bodies(greenc_factory):
    g = greenc_factory()
    log = g.dir / "length.log"
    g.write_config(http_extra="log_format len '$request_uri $request_length $status';",
                   locations=(f"        access_log {log} len;\n"
                              "        location /spool/ { client_body_buffer_size 1k; pass hello; "
                              "script_name /spool; }\n"
                              "        location /stream/ { request_buffering off; pass hello; "
                              "script_name /stream; }\n"
                              + default_locations()))
    g.start()
    body = b"x" * 50000
    requests = {
        "/spool/echo?m=1": b"POST /spool/echo?m=1 HTTP/1.1\r\nHost: h\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(body) + body,   # to a temp file
        "/stream/echo?m=2": b"POST /stream/echo?m=2 HTTP/1.1\r\nHost: h\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                        + b"".join(b"%x\r\n%s\r\n" % (5000, body[:5000]) for _ in range(10))
                        + b"0\r\n\r\n",                        # streamed to the app
    }
    for uri, raw in requests.items():
        with g.connect() as s:
            s.sendall(raw)
            _, answer = _read_response(s)
            assert answer.status == 200 and answer.body == body, (uri, answer)
    lines = [l for l in _wait_lines(log, 3) if "/healthz" not in l]
    got = {l.split()[0]: int(l.split()[1]) for l in lines}
    assert got == {uri: len(raw) for uri, raw in requests.items()}


def test_a_response_the_client_abandons_is_logged_with_what_was_sent(greenc_factory):
    g = _logs_server(greenc_factory, http_extra="log_format cut '$request_uri $status "
                                                "$body_bytes_sent $bytes_sent';",
                     log_lines="        access_log LOG cut;\n")
    log = _log_path(g, "cut.log")
    g.start()
    with g.connect() as s:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
        got = 0
        while got < 200000:
            got += len(s.recv(65536))
    # Closed with 50 MB unread: the server's next writes fail, and the line says how far it got.
    (line,) = _wait_lines(log, 1, timeout=10 * SLOW)
    uri, status, body_sent, bytes_sent = line.split()
    assert (uri, status) == ("/big", "200")
    assert got <= int(bytes_sent) < 800 * 65536
    assert int(body_sent) <= int(bytes_sent)
    assert g.get("/id").status == 200                          # the worker carries on
