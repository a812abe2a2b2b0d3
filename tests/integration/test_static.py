"""Static files: root and alias, index files, 301 for directories, MIME types
from types { } and conf/mime.types, ETag/Last-Modified and the conditional
headers (304, 412), single ranges (206, 416), HEAD, big files sent with
sendfile, try_files falling back to the app, path traversal in many encodings,
disable_symlinks, and the config errors `greenc -t` reports.

Everything goes over real loopback sockets to the real binary; curl is used
where a user would use it (conditional and range requests, `curl -I`), and raw
responses are checked with h11."""

import email.utils
import hashlib
import http.client
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from h11_check import h11_responses
from harness import (REPO, REQUEST_TIMEOUT, SLOW, Greenc, http_request, run_greenc, serving,
                     wait_for)

MIME_TYPES = REPO / "conf" / "mime.types"
HELLO = b"hello static\n"
SECRET = b"TOP SECRET outside the root\n"
BIG_SIZE = 5 * 1024 * 1024 + 123
ROOT = os.geteuid() == 0


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def build_tree(base):
    """The files every test of the shared server reads."""
    st = base / "static"
    _write(st / "hello.txt", HELLO)
    _write(st / "style.css", b"body { color: green }\n")
    _write(st / "UPPER.CSS", b"p { margin: 0 }\n")
    _write(st / "page.html", b"<p>page</p>\n")
    _write(st / "data.json", b'{"a": 1}\n')
    _write(st / "noext", b"no extension\n")
    _write(st / "file.gct", b"custom type\n")
    _write(st / "empty.txt", b"")
    _write(st / "dir" / "index.html", b"<p>dir index</p>\n")
    _write(st / "noindex" / "other.txt", b"not an index\n")
    _write(st / "my dir" / "index.html", b"<p>spaced</p>\n")
    _write(st / "caf\u00e9" / "index.html", b"<p>accent</p>\n")
    _write(st / "big.bin", os.urandom(BIG_SIZE))
    os.mkfifo(st / "fifo")
    _write(base / "idxdir" / "second.html", b"<p>second index</p>\n")
    _write(base / "outside" / "secret.txt", SECRET)
    _write(base / "outside" / "index.html", SECRET)
    # symbolic links: inside the root, to a file outside it, to a directory outside it
    os.symlink("hello.txt", st / "link_in.txt")
    os.symlink(base / "outside" / "secret.txt", st / "link_out.txt")
    os.symlink(base / "outside", st / "linkdir")
    # links whose owner differs from their target's (if_not_owner refuses them)
    if ROOT:
        os.symlink(base / "outside" / "secret.txt", st / "foreign_link.txt")
        os.lchown(st / "foreign_link.txt", 12345, 12345)
        os.symlink(base / "outside", st / "foreign_dir")
        os.lchown(st / "foreign_dir", 12345, 12345)
    else:
        os.symlink("/etc/passwd", st / "foreign_link.txt")   # owned by root, not by us
        os.symlink("/etc", st / "foreign_dir")
    # disable_symlinks outside (the default): a root of its own, with "outside" truly outside
    w = base / "webroot" / "w"
    _write(w / "page.txt", b"page below the root\n")
    os.symlink("page.txt", w / "in.txt")                                  # stays in the root
    os.symlink(base / "outside" / "secret.txt", w / "out.txt")            # leaves it
    os.symlink(w / "page.txt", w / "abs_in.txt")                          # absolute, inside
    os.symlink("../../webroot/w/page.txt", w / "round.txt")               # out and back in
    os.symlink("../..", w / "up")                                         # ".." to the parent
    os.symlink(base / "outside", w / "outdir")                            # a directory outside
    (w / "idx").mkdir()
    os.symlink(base / "outside" / "secret.txt", w / "idx" / "index.html")
    (w / "idx_in").mkdir()
    os.symlink("../page.txt", w / "idx_in" / "index.html")    # below the root, not the dir
    (w / "try").mkdir()
    os.symlink(base / "outside" / "secret.txt", w / "try" / "out.txt")
    os.symlink("../page.txt", w / "try" / "in.txt")
    # a root that names a "current" link, swapped at deploy time
    _write(base / "release1" / "v.txt", b"release 1\n")
    _write(base / "release2" / "v.txt", b"release 2\n")
    os.symlink(base / "release1", base / "current")
    os.symlink(base / "release1" / "v.txt", base / "release1" / "abs.txt")     # absolute links
    os.symlink(base / "release2" / "v.txt", base / "release2" / "abs.txt")
    pub = base / "public"
    _write(pub / "robots.txt", b"User-agent: *\n")
    _write(pub / "docs" / "index.html", b"<p>docs</p>\n")
    _write(base / "spa" / "index.html", b"<p>single page app</p>\n")
    _write(base / "spa" / "app.js", b"console.log(1)\n")
    _write(base / "strict" / "present.txt", b"present\n")


def locations(base):
    return f"""
        location = /healthz {{ return 200 "ok\\n"; }}
        location /static/ {{ root {base}; }}
        location /files/ {{ alias {base}/static/; }}
        location /al {{ alias {base}/static; }}
        location /al2 {{ alias {base}/static/; }}
        location = /favicon.ico {{ alias {base}/static/page.html; }}
        location /typed/ {{
            alias {base}/static/;
            types {{ application/x-greenc-test gct; text/x-custom txt; }}
            default_type application/x-unknown;
        }}
        location /idx/ {{ alias {base}/idxdir/; index first.html second.html; }}
        location /noidx/ {{ alias {base}/static/noindex/; }}
        location /nosym/ {{ alias {base}/static/; disable_symlinks on; }}
        location /follow/ {{ alias {base}/static/; disable_symlinks off; }}
        location /w/ {{ root {base}/webroot; }}
        location /w/try/ {{ root {base}/webroot; try_files $uri =404; }}
        location /wa/ {{ alias {base}/webroot/w/; }}
        location /wfollow/ {{ alias {base}/webroot/w/; disable_symlinks off; }}
        location /deploy/ {{ alias {base}/current/; }}
        location /ownsym/ {{ alias {base}/static/; disable_symlinks if_not_owner; }}
        location /spa/ {{ alias {base}/spa/; try_files $uri /spa/index.html; }}
        location /strict/ {{ root {base}; try_files $uri =404; }}
        location /loop/ {{ root {base}; try_files $uri /loop/missing; }}
        location / {{ root {base}/public; try_files $uri $uri/ @app; }}
        location @app {{ pass hello; }}
        location @hidden {{ return 200 "hidden\\n"; }}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("static")
    build_tree(base)
    g = Greenc(base / "srv")
    g.write_config(http_extra=f"include {MIME_TYPES}; default_type application/octet-stream;",
                   locations=locations(base))
    g.base = base
    with serving(g):
        yield g


def get(g, path, headers=None, method="GET", body=None):
    return http_request(g.port, method, path, headers=headers, body=body)


def raw_get(g, target, extra=b""):
    return g.raw(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra
                 + b"\r\n")


def curl(*args):
    out = subprocess.run(["curl", "-s", "--max-time", str(REQUEST_TIMEOUT), *map(str, args)],
                         capture_output=True, timeout=REQUEST_TIMEOUT + 5)
    assert out.returncode == 0, out.stderr
    return out.stdout


def etag_of(path):
    st = os.stat(path)
    return '"%x-%x"' % (int(st.st_mtime), st.st_size)


def last_modified_of(path):
    return email.utils.formatdate(int(os.stat(path).st_mtime), usegmt=True)


# ---------------------------------------------------------------------------
# plain GET and HEAD


def test_root_serves_a_file_byte_for_byte_with_its_headers(site):
    path = site.base / "static" / "hello.txt"
    raw = raw_get(site, b"/static/hello.txt")
    (r,) = h11_responses(raw, closed=raw.closed)
    assert r.status == 200 and r.complete and r.body == HELLO
    names = [n for n, _ in r.header_list]
    assert names == ["server", "date", "content-type", "content-length", "last-modified",
                     "etag", "accept-ranges", "connection"]
    assert r.header("content-type") == "text/plain"
    assert r.header("content-length") == str(len(HELLO))
    assert r.header("etag") == etag_of(path)
    assert r.header("last-modified") == last_modified_of(path)
    assert r.header("accept-ranges") == "bytes"


def test_alias_replaces_the_location_prefix(site):
    r = get(site, "/files/hello.txt")
    assert r.status == 200 and r.body == HELLO
    r = get(site, "/favicon.ico")                 # exact location aliased to one file
    assert r.status == 200 and r.body == b"<p>page</p>\n"


def test_head_sends_the_get_headers_without_a_body(site):
    head = curl("-I", f"http://127.0.0.1:{site.port}/static/hello.txt").decode()
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    assert f"\r\nContent-Length: {len(HELLO)}\r\n" in head
    assert "\r\nContent-Type: text/plain\r\n" in head
    assert f"\r\nETag: {etag_of(site.base / 'static' / 'hello.txt')}\r\n" in head
    raw = site.raw(b"HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    (r,) = h11_responses(raw, methods=("HEAD",), closed=raw.closed)
    assert r.status == 200 and r.body == b"" and r.header("content-length") == str(BIG_SIZE)
    assert raw.endswith(b"\r\n\r\n")             # nothing after the head


def test_empty_file_is_a_200_with_content_length_0(site):
    r = get(site, "/static/empty.txt")
    assert r.status == 200 and r.body == b"" and r.headers["Content-Length"] == "0"


def test_missing_file_is_404_and_post_is_405(site):
    assert get(site, "/static/nope.txt").status == 404
    r = get(site, "/static/hello.txt", method="POST", body=b"x")
    assert r.status == 405 and r.headers["Allow"] == "GET, HEAD"


def test_a_fifo_is_not_served_and_does_not_stall_the_worker(site):
    assert get(site, "/static/fifo").status == 404
    assert get(site, "/static/hello.txt").body == HELLO


def test_big_file_arrives_intact_over_curl_and_keep_alive(site, tmp_path):
    src = site.base / "static" / "big.bin"
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "big.out"
    curl("-o", out, f"http://127.0.0.1:{site.port}/static/big.bin")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == want
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=REQUEST_TIMEOUT)
    try:
        for _ in range(2):                        # the same connection serves both
            conn.request("GET", "/static/big.bin")
            r = conn.getresponse()
            assert r.status == 200
            assert hashlib.sha256(r.read()).hexdigest() == want
        conn.request("GET", "/static/hello.txt")
        assert conn.getresponse().read() == HELLO
    finally:
        conn.close()


def test_pipelined_static_requests_with_head_between(site):
    req = b"GET /static/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
    raw = site.raw(req + req.replace(b"GET", b"HEAD", 1)
                   + b"GET /static/page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    rs = h11_responses(raw, methods=("GET", "HEAD", "GET"), closed=raw.closed)
    assert [r.status for r in rs] == [200, 200, 200]
    assert rs[0].body == HELLO and rs[1].body == b"" and rs[2].body == b"<p>page</p>\n"


# ---------------------------------------------------------------------------
# directories and index files


def test_directory_without_slash_is_301_to_the_slashed_uri(site):
    r = get(site, "/static/dir")
    assert r.status == 301 and r.headers["Location"] == "/static/dir/"
    r = get(site, "/static/dir?a=1&b=2")
    assert r.status == 301 and r.headers["Location"] == "/static/dir/?a=1&b=2"
    r = get(site, "/static/my%20dir")
    assert r.status == 301 and r.headers["Location"] == "/static/my%20dir/"
    assert get(site, "/static/my%20dir/").body == b"<p>spaced</p>\n"
    r = get(site, "/static/caf%C3%A9")               # high bytes are escaped again
    assert r.status == 301 and r.headers["Location"] == "/static/caf%C3%A9/"
    assert get(site, r.headers["Location"]).body == b"<p>accent</p>\n"


def test_directory_serves_index_html(site):
    r = get(site, "/static/dir/")
    assert r.status == 200 and r.body == b"<p>dir index</p>\n"
    assert r.headers["Content-Type"] == "text/html"


def test_index_directive_tries_its_files_in_order(site):
    r = get(site, "/idx/")
    assert r.status == 200 and r.body == b"<p>second index</p>\n"


def test_directory_without_index_is_403(site):
    assert get(site, "/static/noindex/").status == 403
    assert get(site, "/noidx/").status == 403
    assert "directory index of" in site.log_text()


# ---------------------------------------------------------------------------
# MIME types


@pytest.mark.parametrize("path,ctype", [
    ("/static/style.css", "text/css"),
    ("/static/UPPER.CSS", "text/css"),            # extensions compare in lower case
    ("/static/page.html", "text/html"),
    ("/static/data.json", "application/json"),
    ("/static/big.bin", "application/octet-stream"),
    ("/static/noext", "application/octet-stream"),          # default_type
    ("/static/file.gct", "application/octet-stream"),       # not in mime.types
    ("/typed/file.gct", "application/x-greenc-test"),       # the location's types { }
    ("/typed/hello.txt", "text/x-custom"),
    ("/typed/style.css", "application/x-unknown"),          # its types replace mime.types
])
def test_content_type_comes_from_types_and_mime_types(site, path, ctype):
    r = get(site, path)
    assert r.status == 200 and r.headers["Content-Type"] == ctype


# ---------------------------------------------------------------------------
# conditional requests


def test_if_none_match_gives_304_without_a_body(site):
    path = site.base / "static" / "hello.txt"
    etag = etag_of(path)
    for value in (etag, "W/" + etag, '"nope", ' + etag, "*"):
        raw = raw_get(site, b"/static/hello.txt", f"If-None-Match: {value}\r\n".encode())
        (r,) = h11_responses(raw, closed=raw.closed)
        assert r.status == 304, value
        assert r.body == b"" and r.header("etag") == etag
        assert r.header("last-modified") == last_modified_of(path)
        assert r.header("content-length") is None
    assert get(site, "/static/hello.txt", {"If-None-Match": '"other"'}).status == 200


def test_if_modified_since_in_all_three_date_forms(site):
    path = site.base / "static" / "hello.txt"
    mtime = int(os.stat(path).st_mtime)
    lm = last_modified_of(path)
    t = time.gmtime(mtime)
    rfc850 = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", t)
    asctime = time.strftime("%a %b ", t) + ("%2d" % t.tm_mday) + time.strftime(" %H:%M:%S %Y", t)
    for value in (lm, rfc850, asctime):
        assert get(site, "/static/hello.txt", {"If-Modified-Since": value}).status == 304, value
    earlier = email.utils.formatdate(mtime - 1, usegmt=True)
    assert get(site, "/static/hello.txt", {"If-Modified-Since": earlier}).status == 200
    assert get(site, "/static/hello.txt", {"If-Modified-Since": "yesterday"}).status == 200
    # If-None-Match wins over If-Modified-Since
    r = get(site, "/static/hello.txt", {"If-None-Match": '"x"', "If-Modified-Since": lm})
    assert r.status == 200 and r.body == HELLO


def test_curl_conditional_requests_get_304(site, tmp_path):
    url = f"http://127.0.0.1:{site.port}/static/style.css"
    etags = tmp_path / "etags"
    assert curl("--etag-save", etags, url) == b"body { color: green }\n"
    code = curl("-o", "/dev/null", "-w", "%{http_code}", "--etag-compare", etags, url)
    assert code == b"304"
    code = curl("-o", "/dev/null", "-w", "%{http_code}", "-z",
                last_modified_of(site.base / "static" / "style.css"), url)
    assert code == b"304"


def test_if_match_and_if_unmodified_since_give_412(site):
    path = site.base / "static" / "hello.txt"
    assert get(site, "/static/hello.txt", {"If-Match": etag_of(path)}).status == 200
    assert get(site, "/static/hello.txt", {"If-Match": '"stale"'}).status == 412
    assert get(site, "/static/hello.txt", {"If-Match": "W/" + etag_of(path)}).status == 412
    earlier = email.utils.formatdate(int(os.stat(path).st_mtime) - 60, usegmt=True)
    assert get(site, "/static/hello.txt", {"If-Unmodified-Since": earlier}).status == 412


# ---------------------------------------------------------------------------
# ranges


@pytest.mark.parametrize("spec,start,end", [
    ("bytes=0-4", 0, 5),
    ("bytes=6-", 6, 13),
    ("bytes=-5", 8, 13),
    ("bytes=3-3", 3, 4),
    ("bytes=2-100000", 2, 13),
    ("bytes=-100000", 0, 13),
    ("Bytes= 1-2", 1, 3),
])
def test_single_range_is_206_with_content_range(site, spec, start, end):
    raw = raw_get(site, b"/static/hello.txt", f"Range: {spec}\r\n".encode())
    (r,) = h11_responses(raw, closed=raw.closed)
    assert r.status == 206
    assert r.body == HELLO[start:end]
    assert r.header("content-range") == f"bytes {start}-{end - 1}/{len(HELLO)}"
    assert r.header("content-length") == str(end - start)


@pytest.mark.parametrize("spec", ["bytes=13-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_size(site, spec):
    r = get(site, "/static/hello.txt", {"Range": spec})
    assert r.status == 416
    assert r.headers["Content-Range"] == f"bytes */{len(HELLO)}"


@pytest.mark.parametrize("spec", ["bytes=5-2", "bytes=0-1,3-4", "items=0-1", "bytes=x-1",
                                  "bytes=-", "bytes=1-2-3"])
def test_invalid_or_multiple_ranges_get_the_whole_file(site, spec):
    r = get(site, "/static/hello.txt", {"Range": spec})
    assert r.status == 200 and r.body == HELLO and "Content-Range" not in r.headers


def test_if_range_honours_the_range_only_for_the_current_file(site):
    path = site.base / "static" / "hello.txt"
    r = get(site, "/static/hello.txt", {"Range": "bytes=0-4", "If-Range": etag_of(path)})
    assert r.status == 206 and r.body == b"hello"
    r = get(site, "/static/hello.txt", {"Range": "bytes=0-4",
                                         "If-Range": last_modified_of(path)})
    assert r.status == 206
    r = get(site, "/static/hello.txt", {"Range": "bytes=0-4", "If-Range": '"old"'})
    assert r.status == 200 and r.body == HELLO


def test_range_of_a_big_file_with_curl(site):
    data = (site.base / "static" / "big.bin").read_bytes()
    got = curl("-r", "1000000-2999999", f"http://127.0.0.1:{site.port}/static/big.bin")
    assert got == data[1000000:3000000]
    got = curl("-r", "-1000", f"http://127.0.0.1:{site.port}/static/big.bin")
    assert got == data[-1000:]


def test_head_ignores_range(site):
    raw = site.raw(b"HEAD /static/hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1\r\n"
                   b"Connection: close\r\n\r\n")
    (r,) = h11_responses(raw, methods=("HEAD",), closed=raw.closed)
    assert r.status == 200 and r.header("content-length") == str(len(HELLO))


# ---------------------------------------------------------------------------
# try_files and named locations


def test_try_files_serves_an_existing_file(site):
    r = get(site, "/robots.txt")
    assert r.status == 200 and r.body == b"User-agent: *\n"


def test_try_files_directory_with_slash_serves_its_index(site):
    r = get(site, "/docs")                      # $uri is a directory, $uri/ matches
    assert r.status == 200 and r.body == b"<p>docs</p>\n"


def test_try_files_falls_back_to_the_app_with_path_and_query(site):
    r = get(site, "/environ?x=1&y=2")
    assert r.status == 200
    env = r.json()
    assert env["PATH_INFO"] == "/environ" and env["QUERY_STRING"] == "x=1&y=2"
    r = get(site, "/echo", method="POST", body=b"posted to the app")
    assert r.status == 200 and r.body == b"posted to the app"
    r = get(site, "/no/such/thing")
    assert r.status == 404 and r.body == b"not found in the test app\n"


def test_named_locations_are_not_reached_by_uri(site):
    r = get(site, "/@hidden")
    assert r.body != b"hidden\n"
    assert r.status == 404 and r.body == b"not found in the test app\n"


def test_try_files_fallback_uri_serves_the_spa_index(site):
    assert get(site, "/spa/app.js").body == b"console.log(1)\n"
    r = get(site, "/spa/some/client/route")
    assert r.status == 200 and r.body == b"<p>single page app</p>\n"


def test_try_files_code_and_redirect_cycle(site):
    assert get(site, "/strict/present.txt").body == b"present\n"
    r = get(site, "/strict/missing.txt")
    assert r.status == 404 and b"404 Not Found" in r.body
    assert get(site, "/loop/anything").status == 500
    assert "a cycle of internal redirects" in site.log_text()


# ---------------------------------------------------------------------------
# traversal: never a file outside the root


TRAVERSALS = [
    b"/static/../../etc/passwd",
    b"/static/../../../../../../etc/passwd",
    b"/static/%2e%2e/%2e%2e/etc/passwd",
    b"/static/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    b"/static/..%2f..%2f..%2fetc%2fpasswd",
    b"/static/.%2e/.%2e/.%2e/etc/passwd",
    b"/static/%2e./%2e./outside/secret.txt",
    b"/static/./././../../../etc/passwd",
    b"/static/../outside/secret.txt",
    b"/files/../../outside/secret.txt",
    b"/files/..%2f..%2foutside/secret.txt",
    b"/files/%2e%2e/outside/secret.txt",
    b"/al../outside/secret.txt",
    b"/al2../outside/secret.txt",
    b"/al/../outside/secret.txt",
    b"/al%2f..%2f..%2foutside/secret.txt",
    b"/static/....//....//etc/passwd",
    b"/static/..\\..\\outside\\secret.txt",
    b"/static/%5c..%5c..%5coutside%5csecret.txt",
    b"/static/%252e%252e/%252e%252e/etc/passwd",
    b"/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    b"/static/%00/../../etc/passwd",
    b"/static/hello.txt%00.html",
    b"//etc/passwd",
    b"/../../etc/passwd",
    b"/%2e%2e/%2e%2e/etc/passwd",
    b"/spa/../../outside/secret.txt",
    b"/strict/../outside/secret.txt",
    b"http://t/static/../../etc/passwd",
    b"/nosym/../outside/secret.txt",
]


@pytest.mark.parametrize("target", TRAVERSALS, ids=lambda t: t.decode("latin-1"))
def test_traversal_never_leaks_a_file_outside_the_root(site, target):
    raw = raw_get(site, target)
    status = int(raw.split(b" ", 2)[1])
    assert status in (400, 404), raw[:300]
    assert SECRET not in raw and b"root:x:" not in raw


# ---------------------------------------------------------------------------
# symbolic links


def test_disable_symlinks_off_follows_links_as_nginx(site):
    assert get(site, "/follow/link_in.txt").body == HELLO
    assert get(site, "/follow/link_out.txt").body == SECRET      # the control: links work
    assert get(site, "/follow/linkdir/secret.txt").body == SECRET
    assert get(site, "/wfollow/out.txt").body == SECRET
    assert get(site, "/wfollow/up/outside/secret.txt").body == SECRET


PAGE = b"page below the root\n"


@pytest.mark.parametrize("path", ["/w/in.txt", "/w/abs_in.txt", "/w/round.txt", "/w/page.txt",
                                  "/w/idx_in/", "/w/try/in.txt", "/wa/in.txt", "/wa/abs_in.txt",
                                  "/wa/round.txt", "/wa/idx_in/"])
def test_default_follows_links_that_stay_below_the_root(site, path):
    r = get(site, path)
    assert (r.status, r.body) == (200, PAGE)


def test_default_root_is_the_root_not_the_location_directory(site):
    # /static/ has "root {base}": {base}/outside is below that root, so the link is served
    assert get(site, "/static/link_out.txt").body == SECRET
    assert get(site, "/static/linkdir/secret.txt").body == SECRET


@pytest.mark.parametrize("path", ["/w/out.txt", "/w/outdir/secret.txt", "/w/up/outside/secret.txt",
                                  "/w/idx/", "/wa/out.txt", "/wa/outdir/secret.txt",
                                  "/wa/up/outside/secret.txt", "/wa/idx/", "/files/link_out.txt",
                                  "/files/linkdir/secret.txt"])
def test_default_refuses_links_that_leave_the_root(site, path):
    r = get(site, path)
    assert r.status == 403, (path, r.status)
    assert SECRET not in r.body
    # an error-level line that names the file
    name = path.split("/", 2)[2]
    wait_for(lambda: any("[error]" in line and "disable_symlinks outside" in line
                         and name in line for line in site.log_text().splitlines()),
             REQUEST_TIMEOUT, what="the refusal in the error log")


def test_default_refuses_a_directory_link_that_leaves_the_root_even_for_its_listing(site):
    r = get(site, "/w/outdir/")
    assert r.status == 403 and SECRET not in r.body


def test_a_root_link_swapped_at_deploy_is_followed_within_a_second(site):
    """Workers keep a root or alias directory open for openat2, for one second at most."""
    base = site.base
    for _ in range(8):                                  # every worker keeps the base
        assert get(site, "/deploy/v.txt").body == b"release 1\n"
    os.symlink(base / "release2", base / "current.new")
    os.replace(base / "current.new", base / "current")
    try:
        swapped = time.monotonic()
        # an absolute link is checked against the base as it resolves now: no 403 meanwhile
        for _ in range(4):
            r = get(site, "/deploy/abs.txt")
            assert r.status == 200 and r.body in (b"release 1\n", b"release 2\n"), r.status
        wait_for(lambda: all(get(site, "/deploy/v.txt").body == b"release 2\n"
                             for _ in range(4)), 3 * SLOW, what="the new release")
        assert time.monotonic() - swapped < 1.5 * SLOW
    finally:
        os.symlink(base / "release1", base / "current.new")
        os.replace(base / "current.new", base / "current")


def test_try_files_skips_a_link_that_leaves_the_root(site):
    r = get(site, "/w/try/out.txt")
    assert r.status == 404 and SECRET not in r.body          # the next try, as nginx does
    assert "try_files: " in site.log_text() and "try/out.txt\" is refused" in site.log_text()
    assert get(site, "/w/try/in.txt").body == PAGE


@pytest.mark.parametrize("path", ["/nosym/link_in.txt", "/nosym/link_out.txt",
                                  "/nosym/linkdir/secret.txt", "/nosym/linkdir/"])
def test_disable_symlinks_on_refuses_every_link(site, path):
    r = get(site, path)
    assert r.status == 403 and SECRET not in r.body and HELLO not in r.body


def test_disable_symlinks_on_still_serves_plain_files_and_dirs(site):
    assert get(site, "/nosym/hello.txt").body == HELLO
    assert get(site, "/nosym/dir/").body == b"<p>dir index</p>\n"
    assert get(site, "/nosym/missing.txt").status == 404


def test_disable_symlinks_if_not_owner(site):
    assert get(site, "/ownsym/link_in.txt").body == HELLO            # same owner: followed
    assert get(site, "/ownsym/hello.txt").body == HELLO
    for path in ("/ownsym/foreign_link.txt", "/ownsym/foreign_dir/secret.txt",
                 "/ownsym/foreign_dir/passwd"):
        r = get(site, path)
        assert r.status == 403, path
        assert SECRET not in r.body and b"root:x:" not in r.body
    assert "disable_symlinks if_not_owner" in site.log_text()


# ---------------------------------------------------------------------------
# a server of its own: unreadable files, built-in types, server-level root


def test_unreadable_file_is_403_and_builtin_types_apply(greenc_factory):
    # As root, DAC is no obstacle: the workers run as nobody, which cannot read a 0600 file.
    base = Path(tempfile.mkdtemp(prefix="greenc-static-"))
    try:
        os.chmod(base, 0o755)
        _write(base / "www" / "open.html", b"<p>open</p>\n")
        _write(base / "www" / "open.css", b"p {}\n")
        _write(base / "www" / "closed.txt", b"closed\n")
        os.chmod(base / "www", 0o755)
        os.chmod(base / "www" / "open.html", 0o644)
        os.chmod(base / "www" / "open.css", 0o644)
        os.chmod(base / "www" / "closed.txt", 0o000 if not ROOT else 0o600)
        g = greenc_factory(main_extra="user nobody nogroup;" if ROOT else "", apps="",
                           locations=f"        root {base}/www;\n"
                                     '        location = /healthz { return 200 "ok\\n"; }\n')
        g.start()
        r = g.get("/closed.txt")
        assert r.status == 403 and r.body != b"closed\n"
        r = g.get("/open.html")                  # server-level root, no location matched
        assert r.status == 200 and r.headers["Content-Type"] == "text/html"
        assert g.get("/open.css").headers["Content-Type"] == "text/plain"   # not built in
        assert "Permission denied" in g.log_text()
    finally:
        shutil.rmtree(base)


def test_replaced_file_is_seen_at_once(greenc_factory, tmp_path):
    www = tmp_path / "www"
    _write(www / "v.txt", b"version 1\n")
    g = greenc_factory(locations=f"        location /v/ {{ alias {www}/; }}\n"
                                 '        location = /healthz { return 200 "ok\\n"; }\n')
    g.start()
    assert g.get("/v/v.txt").body == b"version 1\n"
    tmp = www / "v.tmp"
    tmp.write_bytes(b"version two\n")
    os.replace(tmp, www / "v.txt")
    assert g.get("/v/v.txt").body == b"version two\n"


def test_access_log_counts_the_bytes_sendfile_sent(greenc_factory, tmp_path):
    www = _write(tmp_path / "www" / "f.bin", os.urandom(10240)).parent
    log = tmp_path / "access.log"
    g = greenc_factory(http_extra="log_format bytes '$request_method $status $body_bytes_sent';",
                       locations=f"        access_log {log} bytes;\n"
                                 f"        location /w/ {{ alias {www}/; }}\n"
                                 '        location = /healthz { return 200 "ok\\n"; }\n')
    g.start()
    etag = etag_of(www / "f.bin")
    assert len(g.get("/w/f.bin").body) == 10240
    assert g.get("/w/f.bin", headers={"Range": "bytes=10-14"}).status == 206
    assert g.request("HEAD", "/w/f.bin").status == 200
    assert g.get("/w/f.bin", headers={"If-None-Match": etag}).status == 304
    want = ["GET 200 10240", "GET 206 5", "HEAD 200 0", "GET 304 0"]
    lines = wait_for(lambda: (lambda l: l if len(l) >= 5 else None)(
        log.read_text().splitlines() if log.exists() else []), 5 * SLOW,
        what="five access log lines")
    assert lines[-4:] == want, lines              # after the readiness checks' lines


# ---------------------------------------------------------------------------
# config errors


def _conf_error(greenc_factory, locations_text, http_extra=""):
    g = greenc_factory(locations='        location = /healthz { return 200 "ok\\n"; }\n'
                                 + locations_text, http_extra=http_extra)
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode != 0
    return g, r.stderr


def _line_of(g, needle):
    for n, line in enumerate(g.conf.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in the config")


@pytest.mark.parametrize("directive,message", [
    ("root /nonexistent/greenc/www", 'root "/nonexistent/greenc/www" does not exist'),
    ("alias /nonexistent/greenc/www/", 'alias "/nonexistent/greenc/www/" does not exist'),
])
def test_t_reports_a_missing_root_or_alias_with_file_and_line(greenc_factory, directive,
                                                              message):
    g, err = _conf_error(greenc_factory, f"        location /x/ {{ {directive}; }}\n")
    assert f"{message} in {g.conf}:{_line_of(g, directive)}" in err


def test_t_reports_a_root_that_is_a_file(greenc_factory, tmp_path):
    f = _write(tmp_path / "a-file", b"x")
    g, err = _conf_error(greenc_factory, f"        location /x/ {{ root {f}; }}\n")
    assert f'root "{f}" is not a directory in {g.conf}:{_line_of(g, "root ")}' in err


@pytest.mark.parametrize("block,message", [
    ("types { text/html; }", 'MIME type "text/html" has no file extension'),
    ("types { texthtml html; }", 'invalid MIME type "texthtml"'),
    ("types { text/html a/b; }", 'invalid file extension "a/b"'),
    ("types { text/html html; location /y/ { } }", 'unexpected "{"'),
])
def test_t_reports_a_bad_types_block(greenc_factory, tmp_path, block, message):
    g, err = _conf_error(greenc_factory, "", http_extra=block)
    assert f"{message}" in err and f"in {g.conf}:{_line_of(g, 'types {')}" in err


def test_t_reports_a_bad_line_in_an_included_mime_types(greenc_factory, tmp_path):
    mt = tmp_path / "bad.types"
    mt.write_text("types {\n    text/css css;\n    image/png;\n}\n")
    g, err = _conf_error(greenc_factory, "", http_extra=f"include {mt};")
    assert 'MIME type "image/png" has no file extension in the "types" block' in err
    assert f"in {mt}:3" in err


def test_duplicate_extension_warns_and_the_later_wins(greenc_factory, tmp_path):
    www = _write(tmp_path / "www" / "a.x", b"x").parent
    g = greenc_factory(http_extra="types { text/one x; text/two x; }",
                       locations=f"        location /w/ {{ alias {www}/; }}\n"
                                 '        location = /healthz { return 200 "ok\\n"; }\n')
    r = run_greenc("-t", "-c", g.conf)
    assert r.returncode == 0, r.stderr
    assert 'duplicate extension "x", content type: "text/two", previous content type: ' \
           '"text/one"' in r.stderr
    g.start()
    assert g.get("/w/a.x").headers["Content-Type"] == "text/two"


@pytest.mark.parametrize("text,message,needle", [
    ("location / { root {d}; try_files $uri @nowhere; }",
     'unknown named location "@nowhere" in "try_files"', "try_files"),
    ("location / { root {d}; try_files $url @app; }\n        location @app { pass hello; }",
     'unknown variable "$url" in "try_files"', "try_files"),
    ("location / { pass hello; try_files $uri =404; }",
     '"try_files" cannot share location "/" with "pass"', "try_files"),
    ("location / { try_files $uri =404; }",
     '"try_files" in location "/" has no "root" or "alias"', "try_files"),
    ("location @a { location /b/ { } }", 'cannot be inside the named location "@a"',
     "location /b/"),
    ("location /a/ { location @b { pass hello; } }", "can stand on the server level only",
     "location @b"),
    ("location ~ \\.css$ { alias {d}/; }", 'is not supported (it would need regex captures)',
     "alias"),
    ("location /a/ { root {d}; disable_symlinks sometimes; }",
     'invalid value "sometimes" in "disable_symlinks" directive', "disable_symlinks"),
    ("location /a/ { root {d}; index ../index.html; }", 'invalid index file "../index.html"',
     "index"),
    ("location /a/ { root {d}; try_files $uri; }",
     'invalid number of arguments in "try_files" directive', "try_files"),
])
def test_t_reports_static_directive_errors(greenc_factory, tmp_path, text, message, needle):
    g, err = _conf_error(greenc_factory, "        " + text.replace("{d}", str(tmp_path)) + "\n")
    assert message in err, err
    assert re.search(rf" in {re.escape(str(g.conf))}:{_line_of(g, needle)}\b", err), err
