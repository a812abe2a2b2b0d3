"""The access log: nginx's default file and `combined` format, log_format with
variables and escaping (default and escape=json), `access_log off`."""

import json
import re

from harness import SLOW, default_locations, run_greenc, wait_for

COMBINED = re.compile(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                      r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) '
                      r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$')


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


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
