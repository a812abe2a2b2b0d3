"""Regex captures as variables (issue 5): named captures of a server_name regex
(`server_name ~^(?<sub>.+)\\.example\\.com$;`) and of location regexes, and $1..$9,
in `return` (text and URL), `root` and `log_format`. Templates are compiled once when
the config is read; a $name that no regex of the config defines is a `greenc -t` error
with file:line."""

import pytest

from harness import run_greenc

SITES = ("alpha", "beta")


def captures_config(g, extra_server=""):
    d = g.dir
    return f"""
daemon off;
pid {g.pid_file};
error_log {g.error_log} info;
http {{
    log_format caps '$sub|$1|$name|$status|$uri';
    access_log {d}/access.log caps;
    server {{
        listen 127.0.0.1:{g.port} default_server;
        location = /healthz {{ return 200 "ok\\n"; }}
        location /text {{ return 200 "default server [$sub]"; }}
    }}
    server {{
        listen 127.0.0.1:{g.port};
        server_name ~^(?<sub>[^/]+)\\.example\\.com$;
        location /text {{ return 200 "hello $sub\\n"; }}
        location /go {{ return 302 https://$sub.example.org/landing$uri?from=$host; }}
        location ~ ^/user/(?<name>[a-z]+)/(\\d+)$ {{
            return 200 "user=$name id=$2 whole=$0 sub=$sub";
        }}
        location /site/ {{ root {d}/sites/$sub; }}
{extra_server}
    }}
}}
"""


@pytest.fixture
def caps(greenc_factory):
    g = greenc_factory("caps")
    for name in SITES:
        (g.dir / "sites" / name / "site").mkdir(parents=True)
        (g.dir / "sites" / name / "site" / "page.txt").write_text(f"page of {name}\n")
    (g.dir / "site").mkdir()
    (g.dir / "site" / "page.txt").write_text("outside every site\n")
    g.write_config(captures_config(g))
    g.start()
    return g


def get(g, path, host):
    return g.get(path, headers={"Host": host})


def test_named_capture_of_server_name_in_return_text(caps):
    for name in SITES:
        r = get(caps, "/text", f"{name}.example.com")
        assert r.status == 200 and r.body == f"hello {name}\n".encode(), r
    r = get(caps, "/text", "Alpha.Example.COM:8080")      # matched lower-cased, port dropped
    assert r.body == b"hello alpha\n"
    # no regex matched: the default server, and its template sees no capture
    r = get(caps, "/text", "elsewhere.test")
    assert r.body == b"default server []"


def test_named_capture_in_a_return_url(caps):
    r = get(caps, "/go/x", "beta.example.com")
    assert r.status == 302
    assert r.headers["Location"] == \
        "https://beta.example.org/landing/go/x?from=beta.example.com", r.headers


def test_location_regex_captures_named_and_numbered(caps):
    r = get(caps, "/user/bob/42", "alpha.example.com")
    assert r.status == 200
    assert r.body == b"user=bob id=42 whole=/user/bob/42 sub=alpha"
    r = get(caps, "/user/Bob/42", "alpha.example.com")      # the regex does not match: 404
    assert r.status == 404


def test_root_with_a_capture_serves_each_hosts_directory(caps):
    for name in SITES:
        r = get(caps, "/site/page.txt", f"{name}.example.com")
        assert r.status == 200 and r.body == f"page of {name}\n".encode(), r
    r = get(caps, "/site/page.txt", "gamma.example.com")
    assert r.status == 404


@pytest.mark.parametrize("host", ["...example.com", "..example.com", "%2e%2e.example.com"])
def test_root_capture_cannot_climb_out(caps, host):
    out = caps.raw(f"GET /site/page.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                   .encode())
    status = int(out.split(b" ", 2)[1])
    assert status in (400, 404), out[:300]
    assert b"outside every site" not in out
    if host.startswith("."):
        caps.wait_log("from variables is not a plain directory: 404", timeout=5)


def test_log_format_writes_captures(caps):
    get(caps, "/text", "alpha.example.com")
    get(caps, "/user/bob/7", "beta.example.com")
    get(caps, "/text", "elsewhere.test")
    caps.stop()
    lines = (caps.dir / "access.log").read_text().splitlines()
    assert "alpha|alpha|-|200|/text" in lines, lines
    # $1 is the last match's: the location regex's first group
    assert "beta|bob|bob|200|/user/bob/7" in lines, lines
    assert "-|-|-|200|/text" in lines, lines


def test_a_capture_defined_by_a_later_regex_is_accepted(greenc_factory):
    g = greenc_factory("later")
    g.write_config(f"""
daemon off;
pid {g.pid_file};
error_log {g.error_log} info;
http {{
    log_format early '$late';
    access_log off;
    server {{
        listen 127.0.0.1:{g.port};
        location = /a {{ return 200 "$late"; }}
        location ~ ^/(?<late>b)$ {{ return 204; }}
    }}
}}
""")
    out = run_greenc("-t", "-c", str(g.conf))
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("directive", [
    "log_format bad '$nosuch';",
    'server { listen 127.0.0.1:@PORT@; location /x { return 200 "a $nosuch b"; } }',
    "server { listen 127.0.0.1:@PORT@; location /x { return 302 http://$nosuch/; } }",
    "server { listen 127.0.0.1:@PORT@; location /x { root /srv/$nosuch; } }",
])
def test_t_names_an_unknown_variable_with_file_and_line(greenc_factory, directive):
    g = greenc_factory("unknown")
    text = f"""daemon off;
pid {g.pid_file};
error_log {g.error_log} info;
http {{
    access_log off;
    server {{ listen 127.0.0.1:{g.port}; server_name ~^(?<sub>.+)$; location / {{ return 204; }} }}
    {directive.replace("@PORT@", str(g.port))}
}}
"""
    g.write_config(text)
    out = run_greenc("-t", "-c", str(g.conf))
    assert out.returncode == 1, out.stderr
    assert 'unknown "nosuch" variable' in out.stderr, out.stderr
    assert out.stderr.splitlines()[0].endswith(f" in {g.conf}:7"), out.stderr
