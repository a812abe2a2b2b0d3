"""Routing as in nginx (BRIEF section 4): location precedence, regexes,
script_name mounts, server_name selection, and listeners with no app."""

import pytest

from harness import Greenc, app_block, free_port, run_greenc, serving

LOCATIONS = r"""
        location = /healthz { return 200 "ok\n"; }
        location = /exact   { return 200 "exact\n"; }
        location /exact     { return 200 "prefix exact\n"; }
        location /a/        { return 200 "prefix a\n"; }
        location /a/b/      { return 200 "prefix a/b\n"; }
        location ^~ /static/ { return 200 "caret static\n"; }
        location ~ \.php$   { return 200 "regex php\n"; }
        location ~* \.jpg$  { return 200 "regex jpg\n"; }
        location ~ ^/order/ { return 200 "first regex\n"; }
        location ~ ^/order/x { return 200 "second regex\n"; }
        location /api/      { pass hello; script_name /api; }
        location /          { pass hello; }
"""[1:]


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    g = Greenc(tmp_path_factory.mktemp("routing"))
    g.write_config(locations=LOCATIONS)
    with serving(g):
        yield g


@pytest.mark.parametrize("path, body", [
    ("/exact", "exact\n"),                      # "=" wins over the equal prefix
    ("/exact/more", "prefix exact\n"),          # "=" matches only the exact path
    ("/a/x", "prefix a\n"),
    ("/a/b/x", "prefix a/b\n"),                 # the longest prefix wins
    ("/a/b/x.php", "regex php\n"),              # a matching regex beats any prefix
    ("/static/x.php", "caret static\n"),        # "^~" stops the regex search
    ("/img/cat.jpg", "regex jpg\n"),
    ("/img/cat.JPG", "regex jpg\n"),            # "~*" ignores case
    ("/order/x", "first regex\n"),              # regexes are tried in file order
])
def test_location_precedence_follows_nginx(routed, path, body):
    r = routed.get(path)
    assert (r.status, r.text) == (200, body), path


def test_case_sensitive_regex_does_not_match_other_case(routed):
    r = routed.get("/X.PHP")
    assert r.status == 404 and r.body == b"not found in the test app\n"


def test_script_name_mount_splits_script_name_and_path_info(routed):
    env = routed.get("/api/environ?q=1").json()
    assert env["SCRIPT_NAME"] == "/api"
    assert env["PATH_INFO"] == "/environ"
    assert env["QUERY_STRING"] == "q=1"


def test_unmounted_location_has_empty_script_name(routed):
    env = routed.get("/environ").json()
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/environ"


NESTED = r"""
        location = /healthz { return 200 "ok\n"; }
        location /n/ {
            location ~ \.txt$   { return 200 "nested regex\n"; }
            location /n/deep/   { return 200 "nested prefix\n"; }
            location ^~ /n/lit/ { return 200 "nested caret\n"; }
            return 200 "outer prefix\n";
        }
        location ~ \.txt$ { return 200 "top regex txt\n"; }
        location ~ \.php$ { return 200 "top regex php\n"; }
        location / { pass hello; }
"""[1:]


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    g = Greenc(tmp_path_factory.mktemp("nested"))
    g.write_config(locations=NESTED)
    with serving(g):
        yield g


@pytest.mark.parametrize("path, body", [
    ("/n/x", "outer prefix\n"),               # the prefix itself
    ("/n/a.txt", "nested regex\n"),           # a nested regex beats the top-level one
    ("/n/deep/x", "nested prefix\n"),         # the longest prefix among the nested ones
    ("/n/deep/a.txt", "nested regex\n"),      # ... and a nested regex beats it
    ("/n/a.php", "top regex php\n"),          # no nested match: the top regexes follow
    ("/a.txt", "top regex txt\n"),            # outside /n/ the nested regex is not used
])
def test_nested_locations_match_as_nginx(nested, path, body):
    r = nested.get(path)
    assert (r.status, r.text) == (200, body), path


def test_a_nested_prefix_match_leaves_the_server_regexes_to_run(nested):
    # nginx (ngx_http_core_find_location): a search among /n/'s nested locations that ends
    # on a prefix (not "=" and not a regex) returns "declined" to the server level, which
    # then tries its own regexes, since /n/ itself is not "^~". A nested "^~" skips only the
    # regexes nested beside it.
    assert nested.get("/n/deep/x").text == "nested prefix\n"
    assert nested.get("/n/lit/x").text == "nested caret\n"
    got = {path: nested.get(path).text for path in ("/n/deep/a.php", "/n/lit/a.txt")}
    assert got == {"/n/deep/a.php": "top regex php\n", "/n/lit/a.txt": "top regex txt\n"}


def _server(port, names, who, default=False):
    return (
        "    server {\n"
        f"        listen 127.0.0.1:{port}{' default_server' if default else ''};\n"
        f"        server_name {names};\n"
        f'        location = /who {{ return 200 "{who}\\n"; }}\n'
        "        location / { pass hello; }\n"
        "    }\n")


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    g = Greenc(tmp_path_factory.mktemp("server_name"))
    g.write_config(
        locations=("        server_name a.example.com;\n"
                   '        location = /who { return 200 "a\\n"; }\n'
                   "        location / { pass hello; }\n"),
        extra_servers=(_server(g.port, "b.example.com *.wild.example.com", "b", default=True)
                       + _server(g.port, "www.trail.*", "c")
                       + _server(g.port, r"~^(?<sub>.+)\.regex\.org$", "d")))
    try:
        g.start(ready_path="/who")
        yield g
    finally:
        g.stop()
    assert not g.sanitizer_reports(), g.diagnostics()


@pytest.mark.parametrize("host, who", [
    ("a.example.com", "a"),                     # exact name
    ("A.Example.COM", "a"),                     # names ignore case
    ("a.example.com:1234", "a"),                # the port is not part of the name
    ("a.example.com.", "a"),                    # nor is a trailing dot (the root)
    ("A.EXAMPLE.com.:1234", "a"),
    ("x.wild.example.com.", "b"),
    ("www.trail.net.", "c"),
    ("foo.regex.org.", "d"),
    ("x.wild.example.com", "b"),                # leading wildcard
    ("www.trail.net", "c"),                     # trailing wildcard
    ("foo.regex.org", "d"),                     # regex
    ("unknown.host", "b"),                      # default_server
])
def test_server_name_selects_the_server(named, host, who):
    r = named.get("/who", headers={"Host": host})
    assert (r.status, r.text) == (200, f"{who}\n"), host


def test_listener_with_only_return_locations_is_served(greenc_factory):
    g = greenc_factory()
    port2 = free_port()
    g.write_config(extra_servers=(
        "    server {\n"
        f"        listen 127.0.0.1:{port2};\n"
        '        location = /healthz { return 200 "ok from the C-only group\\n"; }\n'
        "        location / { return 404; }\n"
        "    }\n"))
    g.start()
    g.wait_ready(port=port2)
    assert g.get("/healthz", port=port2).body == b"ok from the C-only group\n"
    assert g.get("/anything", port=port2).status == 404
    assert g.get("/").body == b"Hello, world!\n"


def test_two_apps_under_one_server_use_their_own_workers(greenc_factory):
    """Path mounts of two apps on one listener need the router group (BRIEF 1).
    Planned: until then the config must be refused at -t with a clear message."""
    g = greenc_factory()
    g.write_config(
        apps=(app_block("hello", python_path=g.apps_dir, workers=1) + "\n"
              + app_block("other", python_path=g.apps_dir, workers=1)),
        locations=('        location = /healthz { return 200 "ok\\n"; }\n'
                   "        location /other/ { pass other; script_name /other; }\n"
                   "        location / { pass hello; }\n"))
    r = run_greenc("-t", "-c", g.conf)
    if r.returncode != 0:
        assert "router" in r.stderr, r.stderr
        pytest.skip("router group planned: " + r.stderr.strip().splitlines()[0])
    g.start()
    a = int(g.get("/pid").text)
    b = int(g.get("/other/pid").text)
    assert a != b
