"""The command line: -v, -V, -h, -t, -T, -p and -g (BRIEF section 3)."""

import re

from harness import app_block, default_locations, free_port, run_greenc


def test_v_prints_version():
    r = run_greenc("-v")
    assert r.returncode == 0
    assert re.search(r"greenc version: greenc/\d+\.\d+\.\d+", r.stderr), r.stderr


def test_V_prints_build_options_and_library_versions():
    r = run_greenc("-V")
    assert r.returncode == 0
    out = r.stderr + r.stdout
    assert re.search(r"greenc version: greenc/\d+\.\d+\.\d+", out), out
    for needle in ("configure arguments:", "Python 3.", "OpenSSL", "PCRE2", "llhttp"):
        assert needle in out, f"-V does not mention {needle!r}:\n{out}"


def test_h_prints_usage():
    r = run_greenc("-h")
    assert r.returncode == 0
    out = r.stderr + r.stdout
    assert "-s signal" in out, out
    for option in ("-c", "-p", "-g", "-t", "-T", "-v", "-V", "-h"):
        assert re.search(rf"(^|[\s\[]){option}\b", out, re.M), f"usage lacks {option}:\n{out}"


def test_unknown_option_is_refused():
    r = run_greenc("-Z")
    assert r.returncode != 0
    assert "Z" in r.stderr


def test_t_reports_valid_config_and_starts_nothing(greenc_factory):
    g = greenc_factory()
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode == 0, r.stderr
    assert f"greenc: the configuration file {g.conf} syntax is ok" in r.stderr
    assert f"greenc: configuration file {g.conf} test is successful" in r.stderr
    assert not g.pid_file.exists()


def test_t_fails_when_app_module_cannot_be_found(greenc_factory):
    # BRIEF 3: -t checks that each app's module can be found.
    g = greenc_factory()
    g.write_config(apps=app_block(wsgi="no_such_module:application", python_path=g.apps_dir))
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode == 1
    assert "no_such_module" in r.stderr
    assert f"greenc: configuration file {g.conf} test failed" in r.stderr


def test_T_prints_main_and_included_files(greenc_factory, tmp_path):
    g = greenc_factory()
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "a.conf").write_text("env FROM_A=1;\n")
    (conf_d / "b.conf").write_text("# second include\nenv FROM_B=2;\n")
    g.write_config(main_extra=f"include {conf_d}/*.conf;")
    r = run_greenc("-T", "-c", g.conf)
    assert r.returncode == 0, r.stderr
    assert f"configuration file {g.conf} test is successful" in r.stderr
    out = r.stdout
    for path in (g.conf, conf_d / "a.conf", conf_d / "b.conf"):
        header = f"# configuration file {path}:\n"
        assert header in out, f"-T did not print {path}:\n{out}"
        assert path.read_text() in out.split(header, 1)[1], f"-T misprinted {path}"


def _relative_config(port):
    return (
        "daemon off;\n"
        "pid logs/greenc.pid;\n"
        "error_log logs/error.log info;\n"
        "include conf.d/*.conf;\n"
        + app_block(python_path="apps") + "\n"
        "http {\n"
        "    access_log off;\n"
        "    server {\n"
        f"        listen 127.0.0.1:{port};\n"
        + default_locations() +
        "    }\n"
        "}\n")


def _use_prefix(g, prefix, conf):
    """Point the Greenc helper at a layout with relative paths under prefix."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "conf.d").mkdir(exist_ok=True)
    (prefix / "conf.d" / "extra.conf").write_text("env FROM_INCLUDE=yes;\n")
    g.apps_dir = prefix / "apps"
    g.install_apps()
    g.pid_file = prefix / "logs" / "greenc.pid"
    g.error_log = prefix / "logs" / "error.log"
    g.conf = conf
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(_relative_config(g.port))


def _assert_paths_resolved_under(g, prefix):
    assert g.pid_file.read_text().strip() == str(g.pid)
    assert g.error_log.exists()
    assert str(prefix / "apps") in g.get("/syspath").json()
    assert g.get("/env?name=FROM_INCLUDE").json() == {"value": "yes"}


def test_p_resolves_relative_paths_against_prefix(greenc_factory, tmp_path):
    g = greenc_factory()
    prefix = tmp_path / "prefix"
    # The config lives elsewhere: without -p, nothing it names would be found.
    _use_prefix(g, prefix, tmp_path / "elsewhere" / "conf" / "greenc.conf")
    r = run_greenc("-t", "-p", prefix, "-c", g.conf)
    assert r.returncode == 0, r.stderr
    g.start(args=("-p", str(prefix)))
    _assert_paths_resolved_under(g, prefix)


def test_default_prefix_is_parent_of_config_directory(greenc_factory, tmp_path):
    g = greenc_factory()
    site = tmp_path / "site"
    _use_prefix(g, site, site / "conf" / "greenc.conf")
    g.start()
    _assert_paths_resolved_under(g, site)


def test_g_adds_main_context_directives(greenc_factory):
    g = greenc_factory()
    g.start(args=("-g", "env FROM_G=yes;"))
    assert g.get("/env?name=FROM_G").json() == {"value": "yes"}


def test_t_with_g_checks_command_line_directives(greenc_factory):
    g = greenc_factory()
    r = run_greenc("-t", "-c", g.conf, "-g", "env FROM_G=yes;")
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def test_listen_with_port_only_is_accepted(greenc_factory):
    # "listen PORT;" (all addresses) must parse; -t only, nothing is bound.
    g = greenc_factory()
    g.write_config(g.config_text().replace(f"listen 127.0.0.1:{g.port};",
                                           f"listen {free_port()};"))
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode == 0, r.stderr
