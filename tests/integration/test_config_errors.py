"""The config language (BRIEF section 4) through `greenc -t`: every mistake is
refused with exit status 1 and `greenc: [emerg] MESSAGE in FILE:LINE`, and the
accepted syntax (quotes, escapes, comments, include globs, sizes, times)
means what it says.

In the templates, @DIR@ is the test's directory, @PORT@ a free port, and the
line holding the marker `#<-` is the line the error must name. Files that end
in an error at end of file have no final newline, so that the last line is
also the line of EOF whichever way a parser counts it.
"""

import shutil

import pytest

from harness import APPS_SRC, free_port, run_greenc

BASE_APP = """\
app hello {
    wsgi        app:application;
    python_path @DIR@/apps;
    workers     1;
}"""

BASE_HTTP = """\
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        location / { pass hello; }
    }
}"""

HEAD = """\
daemon off;
pid @DIR@/greenc.pid;
error_log @DIR@/error.log info;
"""

CASES = {
    # Found by fuzz_conf (tests/fuzz-regressions/conf/): these crashed `greenc -t`.
    "include_of_itself": ('"include" of "@DIR@/greenc.conf" nests files more than 16 deep',
                          """\
include @DIR@/greenc.conf; #<-
""" + HEAD),

    "set_real_ip_from_address_too_long": ('it must be an address or CIDR', HEAD + BASE_APP + """
http {
    set_real_ip_from 12345678901234567890123456789012345678901234567890; #<-
    server {
        listen 127.0.0.1:@PORT@;
        location / { pass hello; }
    }
}
"""),

    "blocks_nested_too_deep": ('blocks nest more than 32 deep', HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
""" + "        location /a {\n" * 30 + """\
        location /a { #<-
""" + "        }\n" * 31 + """\
    }
}
"""),

    "unknown_directive": ('unknown directive "bogus_directive"', HEAD + """\
bogus_directive on; #<-
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),

    "unknown_directive_in_server": ('unknown directive "lisen"', HEAD + BASE_APP + """
http {
    server {
        lisen 127.0.0.1:@PORT@; #<-
        location / { pass hello; }
    }
}
"""),

    "app_directive_in_main": ('"workers" directive is not allowed here', HEAD + """\
workers 2; #<-
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),

    "location_outside_server": ('"location" directive is not allowed here', HEAD + BASE_APP + """
http {
    location /x { return 410; } #<-
    server {
        listen 127.0.0.1:@PORT@;
        location / { pass hello; }
    }
}
"""),

    "listen_in_app": ('"listen" directive is not allowed here', HEAD + """\
app hello {
    wsgi        app:application;
    listen      8000; #<-
}
""" + BASE_HTTP + "\n"),

    "server_in_main": ('"server" directive is not allowed here', HEAD + BASE_APP + """
server { #<-
    listen 127.0.0.1:@PORT@;
}
"""),

    "pass_in_server": ('"pass" directive is not allowed here', HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        pass hello; #<-
    }
}
"""),

    "pid_without_argument": ('invalid number of arguments in "pid" directive', """\
daemon off;
pid; #<-
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),

    "wsgi_with_two_arguments": ('invalid number of arguments in "wsgi" directive', HEAD + """\
app hello {
    wsgi app:application other:thing; #<-
}
""" + BASE_HTTP + "\n"),

    "time_unit_as_separate_word": (
        'invalid number of arguments in "graceful_timeout" directive', HEAD + """\
graceful_timeout 5 parsecs; #<-
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),

    "duplicate_daemon": ('"daemon" directive is duplicate', HEAD + """\
daemon on; #<-
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),

    "stray_closing_brace": ('unexpected "}"', HEAD + BASE_APP + "\n" + BASE_HTTP + """
} #<-
"""),

    "eof_inside_block": ('unexpected end of file, expecting "}"', HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        location / { pass hello; }
    } #<-"""),

    "eof_after_directive": ('unexpected end of file, expecting ";" or "}"',
                            HEAD + BASE_APP + "\n" + BASE_HTTP + """
graceful_timeout 5s #<-"""),

    "invalid_flag": ('invalid value "maybe" in "daemon" directive', """\
daemon maybe; #<-
pid @DIR@/greenc.pid;
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),

    "invalid_size": ('invalid value "1x" in "client_max_body_size" directive',
                     HEAD + BASE_APP + """
http {
    client_max_body_size 1x; #<-
    server {
        listen 127.0.0.1:@PORT@;
        location / { pass hello; }
    }
}
"""),

    "invalid_time": ('invalid value "5parsecs" in "graceful_timeout" directive', HEAD + """\
graceful_timeout 5parsecs; #<-
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),

    "invalid_number": ('invalid value "lots" in "workers" directive', HEAD + """\
app hello {
    wsgi        app:application;
    python_path @DIR@/apps;
    workers     lots; #<-
}
""" + BASE_HTTP + "\n"),

    "invalid_log_level": ('invalid value "loud" in "error_log" directive', """\
daemon off;
error_log @DIR@/error.log loud; #<-
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),

    "unknown_app_in_pass": ('unknown app "nosuch" in "pass" directive', HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        location /other { pass nosuch; } #<-
        location / { pass hello; }
    }
}
"""),

    "invalid_port": ('invalid port in "127.0.0.1:99999" of the "listen" directive',
                     HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:99999; #<-
        location / { pass hello; }
    }
}
"""),

    "duplicate_app": ('duplicate app "hello"', HEAD + BASE_APP + """
app hello { wsgi app:application; python_path @DIR@/apps; } #<-
""" + BASE_HTTP + "\n"),

    "app_without_wsgi": ('app "nowsgi" has no "wsgi" directive', HEAD + BASE_APP + """
app nowsgi { workers 1; } #<-
""" + BASE_HTTP + "\n"),

    "duplicate_location": ('duplicate location "/x"', HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        location /x { return 410; }
        location /x { return 404; } #<-
        location / { pass hello; }
    }
}
"""),

    "bad_regex": ("pcre2_compile() failed", HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        location ~ "(unclosed" { return 404; } #<-
        location / { pass hello; }
    }
}
"""),

    "bad_regex_offset": ('missing closing parenthesis at offset 9 of "(unclosed"',
                         HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        location ~ "(unclosed" { return 404; } #<-
        location / { pass hello; }
    }
}
"""),

    "bad_regex_in_server_name": ('syntax error in subpattern name (missing terminator?) '
                                 'at offset 7 of "^(?<sub.+)$"', HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        server_name good.example.com ~^(?<sub.+)$; #<-
        location / { pass hello; }
    }
}
"""),

    # nginx warns and gives the name to the first server; greenc refuses (docs/architecture.md)
    "conflicting_server_name": ('conflicting server name "app.example.com" on 127.0.0.1:',
                                HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        server_name app.example.com;
        location / { pass hello; }
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name other.example.com APP.example.com; #<-
        location / { return 204; }
    }
}
"""),

    "conflicting_regex_server_name": ('conflicting server name "~^(?<sub>.+)\\.example\\.com$"',
                                      HEAD + BASE_APP + """
http {
    server {
        listen 127.0.0.1:@PORT@;
        server_name ~^(?<sub>.+)\\.example\\.com$;
        location / { pass hello; }
    }
    server {
        listen 127.0.0.1:@PORT@;
        server_name ~^(?<sub>.+)\\.example\\.com$; #<-
        location / { return 204; }
    }
}
"""),

    "missing_include": ('open() "@DIR@/missing.conf" failed', HEAD + """\
include @DIR@/missing.conf; #<-
""" + BASE_APP + "\n" + BASE_HTTP + "\n"),
}


@pytest.fixture
def confdir(tmp_path):
    shutil.copytree(APPS_SRC, tmp_path / "apps")
    return tmp_path


def render(confdir, template):
    return template.replace("@DIR@", str(confdir)).replace("@PORT@", str(free_port()))


def marker_line(text):
    return next(n for n, line in enumerate(text.split("\n"), 1) if "#<-" in line)


def assert_config_error(result, conf, message, where):
    """exit 1, `greenc: [emerg] ...message... in WHERE` on one line, and `test failed`."""
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stderr}"
    lines = [line for line in result.stderr.splitlines()
             if line.startswith("greenc: [emerg] ") and message in line]
    assert lines, f"no [emerg] line with {message!r}:\n{result.stderr}"
    assert lines[0].endswith(f" in {where}"), \
        f"expected {message!r} ... in {where}, got:\n{lines[0]}"
    assert f"greenc: configuration file {conf} test failed" in result.stderr, result.stderr


def write_conf(confdir, text, name="greenc.conf"):
    conf = confdir / name
    conf.write_text(text)
    return conf


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_mistake_is_reported_with_file_and_line(confdir, case):
    message, template = CASES[case]
    text = render(confdir, template)
    conf = write_conf(confdir, text)
    message = message.replace("@DIR@", str(confdir))
    r = run_greenc("-t", "-c", conf)
    assert_config_error(r, conf, message, f"{conf}:{marker_line(text)}")


def test_error_in_included_file_names_that_file_and_line(confdir):
    inc = confdir / "conf.d"
    inc.mkdir()
    (inc / "broken.conf").write_text("# included\nenv OK=1;\nbogus_directive on;\n")
    text = render(confdir, HEAD + f"include {inc}/*.conf;\n" + BASE_APP + "\n" + BASE_HTTP + "\n")
    conf = write_conf(confdir, text)
    r = run_greenc("-t", "-c", conf)
    assert_config_error(r, conf, 'unknown directive "bogus_directive"', f"{inc}/broken.conf:3")


def test_missing_config_file_is_reported():
    r = run_greenc("-t", "-c", "/nonexistent/greenc.conf")
    assert r.returncode == 1
    assert 'open() "/nonexistent/greenc.conf" failed' in r.stderr


def test_g_error_is_reported_in_command_line(confdir):
    conf = write_conf(confdir, render(confdir, HEAD + BASE_APP + "\n" + BASE_HTTP + "\n"))
    r = run_greenc("-t", "-c", conf, "-g", "bogus_directive on;")
    assert_config_error(r, conf, 'unknown directive "bogus_directive"', "command line")


def test_g_directive_duplicating_the_file_is_refused(confdir):
    conf = write_conf(confdir, render(confdir, HEAD + BASE_APP + "\n" + BASE_HTTP + "\n"))
    r = run_greenc("-t", "-c", conf, "-g", "daemon off;")
    assert r.returncode == 1, r.stderr
    assert '"daemon" directive is duplicate' in r.stderr
    assert "test failed" in r.stderr


# --- what the language accepts ------------------------------------------------


def assert_config_ok(confdir, text, *args):
    conf = write_conf(confdir, text)
    r = run_greenc("-t", "-c", conf, *args)
    assert r.returncode == 0, r.stderr
    assert f"configuration file {conf} test is successful" in r.stderr
    return conf


@pytest.mark.parametrize("size", ["512", "8k", "8K", "1m", "1M", "2g"])
def test_sizes_with_units_are_accepted(confdir, size):
    assert_config_ok(confdir, render(confdir, HEAD + BASE_APP + f"""
http {{
    client_max_body_size {size};
    server {{
        listen 127.0.0.1:@PORT@;
        location / {{ pass hello; }}
    }}
}}
"""))


@pytest.mark.parametrize("time_value", ["500ms", "30s", "5m", "1h", "2d", "30"])
def test_times_with_units_are_accepted(confdir, time_value):
    assert_config_ok(confdir, render(
        confdir, HEAD + f"graceful_timeout {time_value};\n" + BASE_APP + "\n" + BASE_HTTP + "\n"))


def test_comments_are_ignored_everywhere(confdir):
    assert_config_ok(confdir, render(confdir, """\
# a comment line with ; and { and } in it
daemon off;   # trailing comment
pid @DIR@/greenc.pid;#no space before it
error_log @DIR@/error.log info;
app hello {   # after an opening brace
    # inside a block
    wsgi        app:application;
    python_path @DIR@/apps;
}             # after a closing brace
http {
    access_log off;
    server {
        listen 127.0.0.1:@PORT@;
        location / { pass hello; }
    }
}
# last line is a comment without a newline"""))


def test_quoted_arguments_may_hold_separators_and_quotes(confdir):
    assert_config_ok(confdir, render(confdir, HEAD + """\
env "QUOTED=a b;c{d}#e";
env 'SINGLE=it\\'s';
""" + BASE_APP + "\n" + BASE_HTTP + "\n"))


def test_unterminated_quote_is_an_error(confdir):
    text = render(confdir, HEAD + BASE_APP + "\n" + BASE_HTTP + '\nenv "OPEN=never closed;')
    conf = write_conf(confdir, text)
    r = run_greenc("-t", "-c", conf)
    assert r.returncode == 1
    assert "unexpected end of file" in r.stderr
    assert f"in {conf}:" in r.stderr


def test_include_glob_reads_every_matching_file(confdir):
    inc = confdir / "conf.d"
    inc.mkdir()
    (inc / "a.conf").write_text("env FROM_A=1;\n")
    (inc / "b.conf").write_text("env FROM_B=2;\n")
    (inc / "ignored.txt").write_text("this is not config\n")
    conf = assert_config_ok(confdir, render(
        confdir, HEAD + f"include {inc}/*.conf;\n" + BASE_APP + "\n" + BASE_HTTP + "\n"))
    r = run_greenc("-T", "-c", conf)
    assert f"# configuration file {inc}/a.conf:" in r.stdout
    assert f"# configuration file {inc}/b.conf:" in r.stdout
    assert "ignored.txt" not in r.stdout


def test_include_glob_matching_nothing_is_not_an_error(confdir):
    # nginx behaviour: an empty glob includes nothing.
    assert_config_ok(confdir, render(
        confdir, HEAD + f"include {confdir}/none.d/*.conf;\n" + BASE_APP + "\n" + BASE_HTTP + "\n"))


def test_include_inside_a_block(confdir):
    (confdir / "locations.inc").write_text('location = /inc { return 200 "inc\\n"; }\n')
    assert_config_ok(confdir, render(confdir, HEAD + BASE_APP + f"""
http {{
    server {{
        listen 127.0.0.1:@PORT@;
        include {confdir}/locations.inc;
        location / {{ pass hello; }}
    }}
}}
"""))


def test_quotes_and_escapes_reach_the_values(greenc_factory):
    g = greenc_factory(
        main_extra="env \"QUOTED=a b;c{d}#e\";\nenv 'SINGLE=it\\'s';",
        locations=(
            '        location = /healthz { return 200 "ok\\n"; }\n'
            '        location = /dq { return 200 "a \\"b\\" c;{}#d\\te\\n"; }\n'
            "        location = /sq { return 200 'it\\'s \"x\" \\\\ #y\\n'; }\n"
            "        location / { pass hello; }\n"))
    g.start()
    assert g.get("/dq").body == b'a "b" c;{}#d\te\n'
    assert g.get("/sq").body == b"it's \"x\" \\ #y\n"
    assert g.get("/env?name=QUOTED").json() == {"value": "a b;c{d}#e"}
    assert g.get("/env?name=SINGLE").json() == {"value": "it's"}
