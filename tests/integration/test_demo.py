"""The bundled demo: conf/greenc.conf is valid and contrib/demo serves its page."""

from harness import REPO, app_block, run_greenc


def test_bundled_config_passes_t():
    conf = REPO / "conf" / "greenc.conf"
    r = run_greenc("-t", "-c", conf)
    assert r.returncode == 0, r.stderr
    assert f"configuration file {conf} test is successful" in r.stderr


def test_demo_app_page_names_greenc_and_the_worker(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=app_block("hello", wsgi="demo_app:application",
                                  python_path=REPO / "contrib" / "demo"))
    g.start(ready_path="/")
    r = g.get("/some/path?x=1")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert b"Served by greenc" in r.body
    assert b"/some/path" in r.body
    assert any(str(pid).encode() in r.body for pid in g.worker_pids())
    assert g.request("POST", "/echo", body=b"echo me").body == b"echo me"
