"""Request corpora of other projects replayed against greenc (issue 3, BRIEF 6).

../shared/corpus (beside the repository) holds raw requests from llhttp's,
Gunicorn's and Apache httpd's own test suites with their expected outcomes.
Each case is sent on a fresh connection as the corpus README says: send the
bytes, half-close, read until the server closes (or a bound), then every
response is parsed by h11 (h11_check.py) so that greenc never answers with a
malformed response.

"Refused" means: one 4xx (505 for a version greenc does not speak) that says
`Connection: close`, then the connection closed; or, for a request that is
still incomplete when the client half-closes, a close without a response.

Where greenc's policy differs from a corpus expectation, the case is listed
in a POLICY table below with the reason, and the test asserts greenc's policy.
"""

import json
import re
import socket

import pytest

from h11_check import h11_responses
from harness import (REPO, SLOW, Greenc, app_block, default_locations, free_port,
                     recv_until_close, wait_for)

CORPUS = REPO.parent / "shared" / "corpus"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(),
                                reason=f"request corpus not found at {CORPUS}")

READ_TIMEOUT = 3 * SLOW

# An app that reports what it was given, so the valid cases can be compared
# with what gunicorn parsed out of the same bytes.
CORPUS_APP = '''
import json

def application(environ, start_response):
    body = b""
    if environ.get("CONTENT_LENGTH"):
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    elif environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read()
    report = {
        "method": environ["REQUEST_METHOD"],
        "uri": environ.get("RAW_URI") or environ.get("REQUEST_URI"),
        "protocol": environ["SERVER_PROTOCOL"],
        "headers": {k: v for k, v in environ.items()
                    if k.startswith("HTTP_") or k in ("CONTENT_TYPE", "CONTENT_LENGTH")},
        "body": body.decode("latin-1"),
        "remote": [environ["REMOTE_ADDR"], environ["REMOTE_PORT"]],
        "url_scheme": environ["wsgi.url_scheme"],
    }
    data = json.dumps(report).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]
'''


def _server(tmp_path_factory, name, http_extra="", extra_servers=""):
    g = Greenc(tmp_path_factory.mktemp(name))
    (g.apps_dir / "corpus_app.py").write_text(CORPUS_APP)
    g.write_config(apps=app_block("hello", wsgi="corpus_app:application",
                                  python_path=g.apps_dir, workers=2),
                   locations=default_locations(), http_extra=http_extra,
                   extra_servers=extra_servers)
    return g


def _default_server(tmp_path_factory):
    """greenc's defaults, plus two servers for the cases written for Gunicorn's
    proxy_protocol and forwarded_allow_ips settings: one on a `proxy_protocol`
    listener (proxy_port), one that trusts loopback's X-Forwarded-* (trusting_port)."""
    proxy_port, trusting_port = free_port(), free_port()
    g = _server(tmp_path_factory, "corpus-default", extra_servers=(
        "    server {\n"
        f"        listen 127.0.0.1:{proxy_port} proxy_protocol;\n"
        "        location / { pass hello; }\n"
        "    }\n"
        "    server {\n"
        f"        listen 127.0.0.1:{trusting_port};\n"
        "        set_real_ip_from 127.0.0.1;\n"
        "        real_ip_header X-Forwarded-For;\n"
        "        location / { pass hello; }\n"
        "    }\n"))
    g.proxy_port, g.trusting_port = proxy_port, trusting_port
    return g


@pytest.fixture(scope="module")
def corpus_servers(tmp_path_factory):
    """default: greenc's defaults (nginx's limits). gunicorn_limits: header
    buffers of 4k, the closest greenc has to Gunicorn's defaults (request line
    4094 bytes, header field 8190). large: 16k buffers, for the valid cases
    that Gunicorn runs with raised limits."""
    servers = {
        "default": _default_server(tmp_path_factory),
        "gunicorn_limits": _server(tmp_path_factory, "corpus-glimits",
                                   "large_client_header_buffers 4 4k;"),
        "large": _server(tmp_path_factory, "corpus-large",
                         "large_client_header_buffers 4 16k;"),
        # Gunicorn's limit_request_fields, which greenc has under the same name.
        "fields2": _server(tmp_path_factory, "corpus-fields2",
                           "large_client_header_buffers 4 4k; limit_request_fields 2;"),
    }
    try:
        for g in servers.values():
            g.start()
        yield servers
    finally:
        for g in servers.values():
            g.stop()
    reports = [r for g in servers.values() for r in g.sanitizer_reports()]
    assert not reports, "sanitizer reports: " + "; ".join(reports)


def _methods(data):
    """The request methods in data, in order, for h11 (a HEAD response has no body)."""
    found = [m.decode() for m in re.findall(rb"(?:^|(?<=\n))([A-Z][A-Z-]*) \S+ HTTP/", data)]
    return found or ["GET"]


def replay(port, data, expect_responses=None):
    """Send data, half-close, read until close or READ_TIMEOUT. With
    expect_responses, stop as soon as that many complete responses arrived
    (a keep-alive connection then need not close). Returns (responses, raw,
    closed)."""
    def enough(raw):
        got = h11_responses(raw, methods=_methods(data), closed=False)
        return sum(r.complete for r in got) >= expect_responses

    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass                              # refused before all bytes were taken
        raw = recv_until_close(s, READ_TIMEOUT, until=enough if expect_responses else None)
    closed = raw.closed
    raw = bytes(raw)
    return h11_responses(raw, methods=_methods(data), closed=closed), raw, closed


def assert_refused(responses, raw, closed, codes=None, allow_silent_close=False):
    assert closed, f"connection left open after a bad request: {raw[:300]!r}"
    if not responses and allow_silent_close:
        return
    assert len(responses) == 1, f"expected one refusal, got {raw[:600]!r}"
    r = responses[0]
    if codes:
        assert r.status in codes, raw[:300]
    else:
        assert 400 <= r.status < 500 or r.status == 505, raw[:300]
    assert r.header("connection", "").lower() == "close", raw[:300]


def assert_served(responses, raw, count):
    got = [r.status for r in responses]
    assert len(got) >= count, f"expected {count} responses, got {got}: {raw[:600]!r}"
    assert all(200 <= s < 400 for s in got[:count]), f"statuses {got}: {raw[:600]!r}"


# ---------------------------------------------------------------------------
# llhttp (strict mode cases)

def _llhttp_cases():
    if not CORPUS.is_dir():
        return []
    index = json.loads((CORPUS / "llhttp" / "index.json").read_text())
    return [c for c in index["cases"] if c["meta"]["type"] == "request"]


REQUEST_LINE_11 = re.compile(rb"(?:^|(?<=\n))([A-Z][A-Z-]* \S+ HTTP/1\.1\r\n)")


def llhttp_bytes(case):
    """The case's bytes as llhttp's test runner saw them, plus a Host header.

    The corpus was extracted from llhttp's markdown without the blank line
    that ends most examples (the case's own log shows the message completing
    two bytes past the file's end): a head that ends in one CRLF gets it back.
    llhttp's examples mostly omit Host, which greenc requires on HTTP/1.1
    (RFC 9112 3.2: 400 without it; test_http_strict.py covers that), so a
    `Host: corpus` is added after each HTTP/1.1 request line of a case that has
    none, so that each case tests what it was written for."""
    data = (CORPUS / "llhttp" / case["file"]).read_bytes()
    if data.endswith(b"\r\n") and not data.endswith(b"\r\n\r\n"):
        data += b"\r\n"
    if not re.search(rb"(?im)^host:", data):
        data = REQUEST_LINE_11.sub(lambda m: m.group(1) + b"Host: corpus\r\n", data)
    return data


FRAGMENT = ("RFC 9112 3.2: a request target has no fragment; greenc refuses '#' with "
            "400 (as Apache's strict mode) rather than guess what was meant")

# Cases where greenc refuses what llhttp's parser accepts (the parser is not
# the server: these are greenc's policy on top of it).
LLHTTP_POLICY = {
    "method/005-m-search-request.raw":
        (400, "RFC 9112 3.2.4: the asterisk form is for OPTIONS only (M-SEARCH is SSDP)"),
    "method/012-source-request-with-ice.raw":
        (400, "greenc speaks HTTP only; llhttp also parses ICE/x.x request lines"),
    "method/013-options-request-with-rtsp.raw":
        (400, "greenc speaks HTTP only; llhttp also parses RTSP/x.x request lines"),
    "method/014-announce-request-with-rtsp.raw":
        (400, "greenc speaks HTTP only; llhttp also parses RTSP/x.x request lines"),
    "sample/010-no-http-version.raw":
        (None, "HTTP/0.9 (no version) is not served: the request is never complete"),
    "uri/008-fragment-in-uri.raw": (400, FRAGMENT),
    "transfer-encoding/020-post-with-chunked-as-last-transfer-encoding.raw": (400, FRAGMENT),
    "transfer-encoding/021-post-with-chunked-as-last-transfer-encoding-multiple-headers.raw":
        (400, FRAGMENT),
    "method/015-pri-request-http2.raw":
        (400, "the HTTP/2 preface: greenc serves HTTP/1.x only (llhttp pauses, an error)"),
}

# Cases llhttp refuses that greenc serves: llhttp knows a fixed list of methods, greenc
# passes any upper-case token (RFC 9110 9.1: methods are open) to the app, as nginx does.
LLHTTP_POLICY_SERVED = {
    "invalid/014-invalid-method.raw":
        "MKCOLA is a token, so a method name; the app may answer it 405",
}

# Cases where Debian 12's llhttp 8.1 (what greenc builds with) is stricter than the
# llhttp 9.4.2 the corpus comes from. They pass with a newer llhttp (--with-llhttp).
LLHTTP_81 = {
    "content-length/011-tabs-in-content-length-surrounding.raw":
        "llhttp 8.1 refuses tabs around a Content-Length value",
    "transfer-encoding/007-chunk-extensions.raw":
        "llhttp 8.1 refuses these chunk extensions",
    "transfer-encoding/010-chunk-extensions-quoting.raw":
        "llhttp 8.1 refuses quoted-pair in chunk extension values",
}

# Cases the replay cannot reproduce.
LLHTTP_SKIP = {
    "content-length/016-content-length-reset-when-no-body-is-received.raw":
        "llhttp's runner completes a message whose 123-byte body never comes (it tests the "
        "parser's reset); over a socket the body is simply incomplete at EOF",
}


def _llhttp_params():
    params = []
    for c in _llhttp_cases():
        marks = ()
        if c["file"] in LLHTTP_81:
            marks = pytest.mark.xfail(reason=LLHTTP_81[c["file"]], strict=False)
        params.append(pytest.param(c, id=c["file"][:-4], marks=marks))
    return params


@pytest.mark.parametrize("case", _llhttp_params())
def test_llhttp_strict_case(corpus_servers, case):
    if case["file"] in LLHTTP_SKIP:
        pytest.skip(LLHTTP_SKIP[case["file"]])
    g = corpus_servers["default"]
    data = llhttp_bytes(case)
    reason = case["error_reason"] or ""
    name = case["file"]

    if name in LLHTTP_POLICY:
        code, why = LLHTTP_POLICY[name]
        responses, raw, closed = replay(g.port, data)
        assert_refused(responses, raw, closed, codes=(code,) if code else None,
                       allow_silent_close=code is None)
        return

    if name in LLHTTP_POLICY_SERVED:
        responses, raw, closed = replay(g.port, data, expect_responses=1)
        assert_served(responses, raw, 1)
        return

    if case["expect_error"] and "CONNECT" in reason and b"CONNECT " in data[:16]:
        # CONNECT asks for a tunnel: an origin server answers 405 (as nginx does).
        responses, raw, closed = replay(g.port, data)
        assert_refused(responses, raw, closed, codes=(405,))
        return

    if case["expect_error"] and ("Upgrade" in reason or "Connection: close" in reason):
        # Not refusals: llhttp stops after the message (an upgrade, or data after
        # `Connection: close`). greenc serves the message(s) without switching
        # protocols, then closes; the bytes after them are never read as a request.
        responses, raw, closed = replay(g.port, data)
        assert_served(responses, raw, case["messages_complete"])
        assert len(responses) == case["messages_complete"], raw[:600]
        assert closed
        return

    if case["expect_error"]:
        responses, raw, closed = replay(g.port, data)
        # Messages completed before the error are served first.
        served = responses[:case["messages_complete"]]
        assert all(200 <= r.status < 400 for r in served), raw[:600]
        assert_refused(responses[case["messages_complete"]:], raw, closed,
                       allow_silent_close=not data.endswith(b"\r\n"))
        return

    count = case["messages_complete"]
    responses, raw, closed = replay(g.port, data, expect_responses=count)
    if count == 0:
        # llhttp stopped mid-message (the case ends inside a body): nothing to answer.
        assert responses == [], raw[:300]
        return
    assert_served(responses, raw, count)


# ---------------------------------------------------------------------------
# Gunicorn

def _gunicorn_cases(kind):
    if not CORPUS.is_dir():
        return []
    expected = json.loads((CORPUS / "gunicorn" / "expected.json").read_text())
    return [(k, v) for k, v in sorted(expected.items()) if k.startswith(kind + "/")]


GUNICORN_SKIP = {
    "valid/099": "the raw body is 8599 bytes but its Content-Length says 17914: at EOF the "
                 "request is incomplete and greenc closes without an answer (as it must)",
    "invalid/010": "limit_request_field_size 10: greenc limits whole lines with its header "
                   "buffer (nginx's large_client_header_buffers); a 10-byte buffer cannot hold "
                   "the request line",
    "invalid/012": "limit_request_field_size 98: a per-field limit greenc does not have "
                   "(its limits are per line and per head, as nginx's)",
    "invalid/013": "needs permit_obsolete_folding, which greenc never permits "
                   "(covered by invalid/obs_fold_01)",
    "valid/040_compat": "header_map=dangerous: greenc always drops header names with '_'",
    "valid/compat_obs_fold": "permit_obsolete_folding: greenc refuses obs-fold "
                             "(RFC 9112 5.2), see invalid/obs_fold_01",
    "valid/compat_obs_fold_huge": "permit_obsolete_folding: greenc refuses obs-fold",
}

# Cases written for Gunicorn's proxy_protocol setting run against a `listen ...
# proxy_protocol` listener. The valid ones must be served with the PROXY header's
# source as the client (REMOTE_ADDR, REMOTE_PORT), the invalid ones closed without an
# answer and an info line in the error log (a peer that cannot speak PROXY protocol
# cannot read an HTTP answer either; nginx does the same).
PROXY_SOURCES = {
    "valid/pp_01": ["192.168.0.1", "56324"],            # v1 TCP4
    "valid/pp_02": ["192.168.0.1", "56324"],            # v1 TCP4, two requests
    "valid/pp_04": ["192.168.1.10", "12345"],           # v2 PROXY TCP over IPv4
    "valid/pp_05": ["2001:db8::1", "54321"],            # v2 PROXY TCP over IPv6
}

# Policy difference: Gunicorn's proxy_protocol accepts a connection that starts without
# the header (valid/pp_03). On a greenc proxy_protocol listener the header is required, as
# nginx requires it: otherwise any client that reaches the port directly could claim any
# address by sending a PROXY line itself on a connection where the header is optional.
PROXY_REQUIRED = {"valid/pp_03"}

# Gunicorn cases whose outcome in greenc is a policy of its own.
GUNICORN_POLICY_SERVED = {
    # An underscore in a header name: Gunicorn refuses it with header_map=refuse;
    # greenc (like nginx's underscores_in_headers off and Gunicorn's default) drops
    # the field, so Content_Length can never pose as CONTENT_LENGTH in the environ.
    "invalid/040": "fields with '_' are dropped, the request is served",
}

# Policy difference: Gunicorn (forwarded_allow_ips *) refuses invalid/019's
# `X-Forwarded-Proto: https` with `X-Forwarded-Ssl: off` as contradictory scheme headers.
# greenc reads only X-Forwarded-Proto (from a peer in set_real_ip_from, the equivalent of
# forwarded_allow_ips) and passes X-Forwarded-Ssl on as an ordinary header, so nothing
# contradicts: the request is served with wsgi.url_scheme https.
FORWARDED_SCHEME_SERVED = {"invalid/019"}

# Valid Gunicorn cases that greenc refuses, with the reason.
GUNICORN_POLICY_REFUSED = {
    "valid/005": (400, FRAGMENT),
    "valid/009": (400, FRAGMENT),
    "valid/027": (400, "raw UTF-8 in the target: RFC 3986 needs it percent-encoded, and "
                       "llhttp's strict mode refuses it"),
    "valid/028": (400, "whitespace before the colon: RFC 9112 5.1 says a server MUST "
                       "reject it with 400 (Gunicorn strips it with strip_header_spaces)"),
    "valid/031compat": (400, "methods are case-sensitive (RFC 9110 9.1): greenc takes "
                             "upper-case names as nginx does and folds no case (Gunicorn's "
                             "casefold_http_method)"),
    "valid/031compat2": (400, "greenc takes method names of A-Z, 0-9, '-' and '_' as nginx "
                              "does; Gunicorn's permit_unconventional_http_method has no "
                              "counterpart"),
    "valid/rfc9112_target_authority_connect_01":
        (405, "CONNECT: greenc is an origin server, not a proxy (nginx answers 405 too)"),
    "valid/rfc9112_target_authority_ipv6_01":
        (405, "CONNECT: greenc is an origin server, not a proxy"),
}


def _gunicorn_id(case):
    # With no corpus the list is empty and pytest asks for the id of a placeholder.
    return case[0] if isinstance(case, tuple) else "no-corpus"


@pytest.mark.parametrize("case", _gunicorn_cases("invalid"), ids=_gunicorn_id)
def test_gunicorn_invalid_case(corpus_servers, case):
    name, expected = case
    if name in GUNICORN_SKIP:
        pytest.skip(GUNICORN_SKIP[name])
    settings = expected.get("settings") or {}
    g = corpus_servers["gunicorn_limits"]
    data = (CORPUS / "gunicorn" / (name + ".raw")).read_bytes()
    if "limit_request_fields" in settings:
        assert settings["limit_request_fields"] == 2, settings     # the server made above
        g = corpus_servers["fields2"]
    if settings.get("proxy_protocol"):
        g = corpus_servers["default"]
        before = len(g.log_text())
        responses, raw, closed = replay(g.proxy_port, data)
        assert_refused(responses, raw, closed, allow_silent_close=True)
        assert responses == [], f"a broken PROXY header was answered: {raw[:300]!r}"
        wait_for(lambda: "broken PROXY protocol header" in g.log_text()[before:], 5 * SLOW,
                 what="the info line about the broken PROXY header")
        return
    if name in FORWARDED_SCHEME_SERVED:
        g = corpus_servers["default"]
        responses, raw, closed = replay(g.trusting_port, _with_host(data, [
            {"method": "GET", "uri": "/test", "version": [1, 1], "headers": []}]),
            expect_responses=1)
        assert_served(responses, raw, 1)
        report = json.loads(responses[0].body)
        assert report["url_scheme"] == "https"
        assert report["headers"]["HTTP_X_FORWARDED_SSL"] == "off"
        # From a peer not in set_real_ip_from, X-Forwarded-Proto changes nothing.
        responses, raw, closed = replay(g.port, _with_host(data, [
            {"method": "GET", "uri": "/test", "version": [1, 1], "headers": []}]),
            expect_responses=1)
        assert_served(responses, raw, 1)
        assert json.loads(responses[0].body)["url_scheme"] == "http"
        return
    responses, raw, closed = replay(g.port, data)
    if name in GUNICORN_POLICY_SERVED:
        assert_served(responses, raw, 1)
        report = json.loads(responses[0].body)
        assert "HTTP_TRANSFER_ENCODING" not in report["headers"]
        assert report["headers"].get("CONTENT_LENGTH") == "7"
        return
    # NoMoreData and ChunkMissingTerminator: the request is incomplete at EOF.
    assert_refused(responses, raw, closed,
                   allow_silent_close=expected["error"] in ("NoMoreData",
                                                            "ChunkMissingTerminator"))


def _with_host(data, requests):
    """greenc requires Host on HTTP/1.1 (RFC 9112 3.2); Gunicorn does not. A
    `Host: corpus` is added to the HTTP/1.1 requests that lack one."""
    for req in requests:
        names = {n for n, _ in req["headers"]}
        if req["version"] == [1, 1] and "HOST" not in names:
            line = f"{req['method']} {req['uri']} HTTP/1.1\r\n".encode("latin-1")
            data = data.replace(line, line + b"Host: corpus\r\n", 1)
    return data


GUNICORN_LLHTTP_81 = {
    "valid/013": "llhttp 8.1 refuses BWS around ';' in chunk extensions (RFC 9112 7.1.1 "
                 "allows it; llhttp 9 accepts it)",
}


def _gunicorn_valid_params():
    return [pytest.param(c, id=c[0],
                         marks=pytest.mark.xfail(reason=GUNICORN_LLHTTP_81[c[0]], strict=False)
                         if c[0] in GUNICORN_LLHTTP_81 else ())
            for c in _gunicorn_cases("valid")]


@pytest.mark.parametrize("case", _gunicorn_valid_params())
def test_gunicorn_valid_case(corpus_servers, case):
    name, expected = case
    if name in GUNICORN_SKIP:
        pytest.skip(GUNICORN_SKIP[name])
    settings = expected.get("settings") or {}
    g = corpus_servers["large" if "limit_request_line" in settings
                       or "limit_request_field_size" in settings else "default"]
    data = (CORPUS / "gunicorn" / (name + ".raw")).read_bytes()
    requests = expected["requests"]
    data = _with_host(data, requests)

    if name in GUNICORN_POLICY_REFUSED:
        code, why = GUNICORN_POLICY_REFUSED[name]
        responses, raw, closed = replay(g.port, data)
        assert_refused(responses, raw, closed, codes=(code,))
        return

    port = g.port
    if settings.get("proxy_protocol"):
        port = g.proxy_port
        if name in PROXY_REQUIRED:
            before = len(g.log_text())
            responses, raw, closed = replay(port, data)
            assert closed and responses == [], raw[:300]
            wait_for(lambda: "no PROXY protocol header" in g.log_text()[before:], 5 * SLOW,
                     what="the info line about the missing PROXY header")
            return

    responses, raw, closed = replay(port, data, expect_responses=len(requests))
    assert_served(responses, raw, len(requests))
    for req, resp in zip(requests, responses):
        report = json.loads(resp.body)
        if name in PROXY_SOURCES:
            assert report["remote"] == PROXY_SOURCES[name], report
        assert report["method"] == req["method"]
        assert report["uri"] == req["uri"]
        assert report["protocol"] == "HTTP/1.%d" % req["version"][1]
        assert report["body"] == req["body"]
        for hname, value in req["headers"]:
            if "_" in hname:
                continue                      # dropped by policy (see invalid/040)
            key = hname.replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            if hname == "TRANSFER-ENCODING":
                continue                      # framing, not passed as a header value check
            got = report["headers"].get(key)
            assert got is not None, f"{hname} missing from the environ: {report}"
            # Repeated fields reach the app joined with "," (RFC 9110 5.3).
            assert value in [v.strip() for v in got.split(",")] or got == value, \
                (hname, got, value)


# ---------------------------------------------------------------------------
# Apache httpd t/apache/http_strict.t (HTTP/1.0)

def _apache_cases():
    if not CORPUS.is_dir():
        return []
    return json.loads((CORPUS / "apache-strict" / "cases.json").read_text())["cases"]


# Apache's expectation -> greenc's, with the reason.
APACHE_POLICY = {
    "003.raw": (400, "lower-case 'get': Apache answers 501; llhttp knows only registered "
                     "(case-sensitive) methods, and greenc answers 400 for what it cannot "
                     "parse. Unknown methods that llhttp knows reach the app."),
    "006.raw": (400, "'G/T' is not a token (RFC 9110 5.6.2): malformed, not unknown"),
    "014.raw": (505, "HTTP/2.0 in an HTTP/1 request line: greenc serves HTTP/1.x only"),
    "018.raw": (400, "whitespace after the version is not in the request-line grammar "
                     "(RFC 9112 3); llhttp strict refuses it"),
    "027.raw": (400, "a control character in a field value (RFC 9110 5.5) is refused"),
    "035.raw": (400, "a control character in a field name: not a token"),
    "040.raw": (400, "a bare CR: greenc answers 400 (and closes) rather than dropping the "
                     "connection without a word"),
    "041.raw": (None, "HTTP/0.9 is not served: the connection is closed"),
    "043.raw": (400, "a repeated Host is refused even when the values agree (BRIEF 6)"),
    "049.raw": (400, "a repeated Host is refused even when the values agree (BRIEF 6)"),
    "070.raw": (400, "an IPv6 address in Host must be in brackets (RFC 3986 3.2.2)"),
}

APACHE_SKIP = {
    "080.raw": "tests an Apache module (/regression-header answers 500 in httpd's test "
               "config); nothing to compare in greenc",
}


@pytest.mark.parametrize("case", _apache_cases(),
                         ids=lambda c: c["file"][:-4] if isinstance(c, dict) else "no-corpus")
def test_apache_strict_case(corpus_servers, case):
    if case["file"] in APACHE_SKIP:
        pytest.skip(APACHE_SKIP[case["file"]])
    g = corpus_servers["default"]
    data = (CORPUS / "apache-strict" / "raw" / case["file"]).read_bytes()
    expect = case["expect"]
    if case["file"] in APACHE_POLICY:
        code, why = APACHE_POLICY[case["file"]]
        responses, raw, closed = replay(g.port, data)
        assert_refused(responses, raw, closed, codes=(code,) if code else None,
                       allow_silent_close=code is None)
        return
    if expect == "any success 200-399" or expect == 200:
        responses, raw, closed = replay(g.port, data, expect_responses=1)
        assert_served(responses, raw, 1)
        return
    responses, raw, closed = replay(g.port, data)
    if expect == "any error >=400":
        assert_refused(responses, raw, closed)
    elif isinstance(expect, int) and 400 <= expect < 500:
        assert_refused(responses, raw, closed, codes=(expect,))
    else:
        pytest.fail(f"no rule for expectation {expect!r}")
