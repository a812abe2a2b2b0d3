"""The WSGI contract as the app sees it: environ, wsgi.input, wsgi.errors,
errors in the app, and the app block's env / chdir / python_path / factory.

Tests marked "BRIEF 5" protect PEP 3333 details of BRIEF section 5 beyond the
first contract.
"""

import subprocess

import pytest

from harness import (app_block, default_locations, free_port, parse_responses,
                     recv_until_close, wait_for)


def test_environ_has_cgi_and_wsgi_keys(shared_greenc):
    r = shared_greenc.get("/environ?a=1&b=two", headers={"X-Custom": "yes"})
    assert r.status == 200
    env = r.json()
    assert env["REQUEST_METHOD"] == "GET"
    assert env["PATH_INFO"] == "/environ"
    assert env["QUERY_STRING"] == "a=1&b=two"
    assert env["SERVER_NAME"]
    assert env["SERVER_PORT"] == str(shared_greenc.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.version"] == [1, 0]
    assert all(env["has"].values()), env["has"]
    assert env["http"]["HTTP_X_CUSTOM"] == "yes"
    assert env["http"]["HTTP_HOST"] == f"127.0.0.1:{shared_greenc.port}"


def test_environ_is_a_plain_dict_of_native_strings(shared_greenc):
    env = shared_greenc.get("/environ").json()
    assert env["environ_is_dict"]
    assert env["non_str_cgi_keys"] == []


def test_post_sets_content_length_and_type_without_http_prefix(shared_greenc):
    env = shared_greenc.request("POST", "/environ", body=b"12345",
                                headers={"Content-Type": "text/plain"}).json()
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_LENGTH"] == "5"
    assert env["CONTENT_TYPE"] == "text/plain"
    assert "HTTP_CONTENT_LENGTH" not in env["http"]
    assert "HTTP_CONTENT_TYPE" not in env["http"]


def test_path_info_is_percent_decoded_and_query_is_not(shared_greenc):
    env = shared_greenc.get("/environ/a%20b%2Fc?x=%20y").json()
    assert env["PATH_INFO"] == "/environ/a b/c"
    assert env["QUERY_STRING"] == "x=%20y"


def test_repeated_headers_are_joined_with_commas(shared_greenc):
    # BRIEF 5
    raw = shared_greenc.raw(b"GET /environ HTTP/1.1\r\nHost: localhost\r\n"
                            b"X-Multi: one\r\nX-Multi: two\r\nConnection: close\r\n\r\n")
    (r,) = parse_responses(raw)
    env = r.json()
    assert env["http"]["HTTP_X_MULTI"] in ("one,two", "one, two")


def test_app_env_directive_is_in_os_environ(shared_greenc):
    assert shared_greenc.get("/env?name=GREETING").json() == {"value": "hi"}


def test_python_path_directive_is_on_sys_path(shared_greenc):
    assert str(shared_greenc.apps_dir) in shared_greenc.get("/syspath").json()


def test_app_exception_gives_500_and_traceback_in_error_log(shared_greenc):
    r = shared_greenc.get("/error")
    assert r.status == 500
    shared_greenc.wait_log("Traceback (most recent call last)")
    shared_greenc.wait_log("boom from the test app")
    # the worker survives an app exception
    assert shared_greenc.get("/").status == 200


def test_wsgi_errors_writes_to_error_log(shared_greenc):
    assert shared_greenc.get("/log?msg=hello-from-wsgi-errors").status == 200
    shared_greenc.wait_log("hello-from-wsgi-errors")


def test_response_iterable_close_is_called(shared_greenc):
    mark = shared_greenc.dir / "closed.mark"
    r = shared_greenc.get(f"/close?mark={mark}")
    assert r.status == 200 and r.body == b"closing"
    wait_for(mark.exists, 5, what="close() of the response iterable")


def test_wsgi_input_supports_readline_and_readlines(shared_greenc):
    # BRIEF 5
    r = shared_greenc.request("POST", "/lines", body=b"line one\nline two\nthree\nfour")
    assert r.status == 200
    assert r.json() == {"first": "line one\n", "second_limited": "lin",
                        "rest_of_second": "e two\n", "remaining": ["three\n", "four"]}


def test_main_context_env_reaches_every_app(greenc_factory):
    g = greenc_factory(main_extra="env MAIN_VAR=from-main;")
    g.start()
    assert g.get("/env?name=MAIN_VAR").json() == {"value": "from-main"}
    assert g.get("/env?name=GREETING").json() == {"value": "hi"}


def test_chdir_directive_sets_worker_cwd(greenc_factory, tmp_path):
    workdir = tmp_path / "app-cwd"
    workdir.mkdir()
    g = greenc_factory()
    g.write_config(apps=app_block(python_path=g.apps_dir, extra=f"chdir {workdir};"))
    g.start()
    assert g.get("/cwd").text == str(workdir)


def test_wsgi_factory_call_syntax_calls_the_factory(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block(wsgi="app:make_app()", python_path=g.apps_dir))
    g.start()
    r = g.get("/")
    assert r.status == 200 and r.body == b"Hello from the factory!\n"


def test_two_apps_on_two_listeners_each_serve_their_own(greenc_factory):
    g = greenc_factory()
    port_b = free_port()
    apps = (app_block("alpha", python_path=g.apps_dir, workers=1, extra="env GREETING=alpha;")
            + "\n" +
            app_block("beta", python_path=g.apps_dir, workers=1, extra="env GREETING=beta;"))
    g.write_config(apps=apps, locations=default_locations("alpha"), extra_servers=(
        "    server {\n"
        f"        listen 127.0.0.1:{port_b};\n"
        f"{default_locations('beta')}"
        "    }\n"))
    g.start()
    g.wait_ready(port=port_b)
    assert g.get("/env?name=GREETING").json() == {"value": "alpha"}
    assert g.get("/env?name=GREETING", port=port_b).json() == {"value": "beta"}
    pid_a, pid_b = int(g.get("/pid").text), int(g.get("/pid", port=port_b).text)
    assert pid_a != pid_b
    assert set(g.worker_pids()) >= {pid_a, pid_b}


def test_factory_with_literal_arguments_is_called_with_them(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block(wsgi="'app:make_app(\"Hi there\", punct=\"?\")'",
                                  python_path=g.apps_dir))
    g.start()
    assert g.get("/").text == "Hi there?\n"


def test_factory_arguments_must_be_literals(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block(wsgi="'app:make_app(__import__(\"os\").getcwd())'",
                                  python_path=g.apps_dir))
    g.start(wait=False)
    g.wait_log("failed to boot")
    assert "must be literals" in g.log_text() or "malformed node" in g.log_text()


def test_home_virtualenv_gives_the_app_its_site_packages_and_prefix(greenc_factory, tmp_path):
    # A venv as `python -m venv` makes it (no network, nothing installed), with a module that
    # only its site-packages holds: the app imports it, and sys.prefix is the venv's.
    venv = tmp_path / "venv"
    made = subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages",
                           "--without-pip", str(venv)], capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "greenc_venv_marker.py").write_text("WHERE = 'in the venv'\n")
    g = greenc_factory()
    g.write_config(apps=app_block(wsgi="venv_app:application", python_path=g.apps_dir,
                                  extra=f"home {venv};"))
    g.start()
    r = g.get("/")
    assert r.status == 200, g.diagnostics()
    got = r.json()
    assert got["marker"] == str(site / "greenc_venv_marker.py")
    assert got["marker_value"] == "in the venv"
    assert got["prefix"] == str(venv)
    assert got["base_prefix"] != str(venv)
    # --system-site-packages: Debian's packages stay importable, as with the venv's python.
    assert got["system_site"] and not got["system_site"].startswith(str(venv))


def _chunks_server(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block("chunks", wsgi="chunks_app:application",
                                  python_path=g.apps_dir, workers=1),
                   locations=default_locations("chunks"))
    return g.start()


def test_headers_wait_for_the_first_non_empty_chunk(greenc_factory):
    g = _chunks_server(greenc_factory)
    with g.connect() as s:
        s.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(100)                      # the app has yielded only b"" so far
        s.settimeout(10)
        raw = recv_until_close(s)
    (r,) = parse_responses(bytes(raw))
    assert r.status == 200 and r.body == b"late bytes\n"


def test_an_error_after_only_empty_chunks_is_still_a_500(greenc_factory):
    g = _chunks_server(greenc_factory)
    r = g.get("/fails-before-bytes", headers={"Connection": "close"})
    assert r.status == 500
    g.wait_log("failed before any byte of the body")


def test_a_one_element_list_goes_out_in_one_write(greenc_factory):
    """Head and body in one writev: the worker's write-syscall count grows by one."""
    g = _chunks_server(greenc_factory)
    (worker,) = g.wait_workers(1)

    def writes():
        with open(f"/proc/{worker}/io") as f:
            return int([line for line in f if line.startswith("syscw:")][0].split()[1])

    def body_of(size):
        return lambda b: b"\r\n\r\n" in b and len(b.split(b"\r\n\r\n", 1)[1]) >= size

    with g.connect() as s:
        s.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")   # warm up the connection
        recv_until_close(s, until=body_of(100000))
        before = writes()
        s.sendall(b"GET /one?60000 HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = recv_until_close(s, until=body_of(60000))
        after = writes()
    assert bytes(raw).split(b"\r\n\r\n", 1)[1] == b"o" * 60000
    assert after - before == 1, f"{after - before} write syscalls for one response"
