"""A real framework through greenc: Flask 2.2 (Debian's python3-flask)."""

import pytest

from harness import Greenc, app_block


@pytest.fixture(scope="module")
def flask_greenc(tmp_path_factory):
    g = Greenc(tmp_path_factory.mktemp("flask"))
    g.write_config(apps=app_block("hello", wsgi="flask_app:app", python_path=g.apps_dir))
    try:
        g.start(ready_path="/")
        yield g
    finally:
        g.stop()
    reports = g.sanitizer_reports()
    assert not reports, "; ".join(reports) + "\n" + g.diagnostics()


def test_flask_hello_world(flask_greenc):
    r = flask_greenc.get("/")
    assert r.status == 200
    assert r.body == b"Hello from Flask!"
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Server"].startswith("greenc")


def test_flask_route_with_url_variable(flask_greenc):
    r = flask_greenc.get("/user/ada%20lovelace")
    assert r.status == 200
    assert r.body == b"Hello, ada lovelace!"


def test_flask_post_form_is_parsed(flask_greenc):
    r = flask_greenc.request("POST", "/form", body=b"name=Grace&age=85",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200
    assert r.body == b"name=Grace age=85"


def test_flask_json_response_and_query_args(flask_greenc):
    r = flask_greenc.get("/json?x=1")
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"framework": "flask", "method": "GET", "args": {"x": "1"}}


def test_flask_unknown_route_is_flask_404(flask_greenc):
    r = flask_greenc.get("/no/such/route")
    assert r.status == 404
    assert b"Not Found" in r.body


def test_flask_method_not_allowed_is_405(flask_greenc):
    r = flask_greenc.request("GET", "/form")
    assert r.status == 405
