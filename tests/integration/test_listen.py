"""Listeners (issue 5, "Listeners"): unix sockets with mode= and owner= and their
stale files, deferred, reuseport, ipv6only, the PROXY protocol (v1 and v2) and the
client address behind trusted proxies (set_real_ip_from, real_ip_header,
real_ip_recursive, X-Forwarded-Proto), directly and through the router group.

Everything runs the real binary over real sockets: unix-socket requests go through
curl --unix-socket, PROXY headers are written byte by byte by the tests.
"""
import json
import os
import grp
import pwd
import signal
import socket
import stat
import struct
import subprocess
import time

import pytest

from harness import (REQUEST_TIMEOUT, SLOW, Greenc, children_of, free_port, pid_alive,
                     recv_until_close, run_greenc, serving, wait_for)

APP = '''
import json


def application(environ, start_response):
    keys = ("REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme", "REQUEST_ID", "HTTP_HOST",
            "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_REAL_IP",
            "HTTP_FORWARDED")
    body = json.dumps({k: environ.get(k) for k in keys}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def install_app(g, apps=("who",)):
    (g.apps_dir / "listen_app.py").write_text(APP)
    return "\n".join(
        f"app {name} {{ wsgi listen_app:application; python_path {g.apps_dir}; workers 1; }}"
        for name in apps)


def config(g, servers, http_extra="", apps=("who",), main_extra=""):
    return f"""
daemon off;
pid {g.pid_file};
error_log {g.error_log} info;
graceful_timeout 5s;
{main_extra}
{install_app(g, apps)}
http {{
    log_format who '$remote_addr $remote_port "$request"';
    access_log {g.dir}/access.log who;
    {http_extra}
    server {{
        listen 127.0.0.1:{g.port};
        location = /healthz {{ return 200 "ok\\n"; }}
        location / {{ pass {apps[0]}; }}
    }}
{servers}
}}
"""


def start(g, text):
    g.write_config(text)
    return g.start()


def exchange(port, data, host="127.0.0.1", family=socket.AF_INET):
    """Send data, read the whole answer (the request says Connection: close)."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(REQUEST_TIMEOUT)
        s.connect((host, port))
        s.sendall(data)
        return recv_until_close(s)


def body_json(raw):
    head, _, body = bytes(raw).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw
    return json.loads(body)


def get(path="/", host="x", headers=()):
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def v2_header(command, family, payload):
    """A PROXY v2 header: signature, version 2 + command, family/transport, length."""
    return V2_SIG + bytes([0x20 | command, family]) + struct.pack("!H", len(payload)) + payload


def v2_tcp4(src, dst, sport, dport, tlv=b""):
    return v2_header(1, 0x11, socket.inet_pton(socket.AF_INET, src)
                     + socket.inet_pton(socket.AF_INET, dst) + struct.pack("!HH", sport, dport)
                     + tlv)


def v2_tcp6(src, dst, sport, dport):
    return v2_header(1, 0x21, socket.inet_pton(socket.AF_INET6, src)
                     + socket.inet_pton(socket.AF_INET6, dst)
                     + struct.pack("!HH", sport, dport))


def access_lines(g):
    path = g.dir / "access.log"
    return path.read_text().splitlines() if path.exists() else []


def curl_unix(sock, path="/", headers=()):
    cmd = ["curl", "-sS", "--max-time", "10", "--unix-socket", str(sock), "-i"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"http://localhost{path}")
    out = subprocess.run(cmd, capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return out.stdout


def bind_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    return s


# ---------------------------------------------------------------------------
# unix sockets


def test_unix_listener_mode_and_unix_remote_addr(greenc_factory):
    g = greenc_factory("unix")
    sock = g.dir / "who.sock"
    start(g, config(g, f"""
    server {{
        listen unix:{sock} mode=0660;
        location / {{ pass who; }}
    }}"""))
    assert stat.S_ISSOCK(os.stat(sock).st_mode)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660

    out = curl_unix(sock, "/who")
    assert out.startswith(b"HTTP/1.1 200"), out
    env = json.loads(out.partition(b"\r\n\r\n")[2])
    # As nginx's $remote_addr: a unix-socket client is "unix:".
    assert env["REMOTE_ADDR"] == "unix:"
    wait_for(lambda: any(line.startswith("unix: ") and "/who" in line
                         for line in access_lines(g)), 5, what="access log line")


def test_unix_listener_default_mode_is_0666(greenc_factory):
    g = greenc_factory("unix666")
    sock = g.dir / "open.sock"
    start(g, config(g, f"""
    server {{ listen unix:{sock}; location / {{ pass who; }} }}"""))
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o666


def test_unix_listener_owner(greenc_factory):
    if os.geteuid() != 0:
        pytest.skip("owner= needs greenc started as root; these tests do not run as root")
    user = pwd.getpwnam("nobody")
    group = grp.getgrnam("nogroup") if "nogroup" in [g.gr_name for g in grp.getgrall()] \
        else grp.getgrgid(user.pw_gid)
    g = greenc_factory("owner")
    sock = g.dir / "owned.sock"
    start(g, config(g, f"""
    server {{
        listen unix:{sock} mode=0600 owner=nobody:{group.gr_name};
        location / {{ pass who; }}
    }}"""))
    st = os.stat(sock)
    assert (st.st_uid, st.st_gid) == (user.pw_uid, group.gr_gid)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert curl_unix(sock, "/").startswith(b"HTTP/1.1 200")


def test_stale_unix_socket_file_is_replaced(greenc_factory):
    g = greenc_factory("stale")
    sock = g.dir / "stale.sock"
    bind_unix(sock).close()                     # what a crashed server leaves behind
    assert os.path.exists(sock)
    start(g, config(g, f"""
    server {{ listen unix:{sock}; location / {{ pass who; }} }}"""))
    assert curl_unix(sock, "/").startswith(b"HTTP/1.1 200")
    assert "removed the stale socket file" in g.log_text()


def test_live_unix_socket_file_is_a_clear_error(greenc_factory):
    g = greenc_factory("live")
    sock = g.dir / "live.sock"
    other = bind_unix(sock)
    other.listen(4)
    try:
        g.write_config(config(g, f"""
    server {{ listen unix:{sock}; location / {{ pass who; }} }}"""))
        g.start(wait=False)
        g.proc.wait(timeout=REQUEST_TIMEOUT)
        assert g.proc.returncode != 0
        assert "another server is listening on" in g.log_text() + g.stderr_text()
        # The other server's socket is untouched.
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(str(sock))
        c.close()
    finally:
        other.close()


def test_unix_path_that_is_not_a_socket_is_not_removed(greenc_factory):
    g = greenc_factory("notsock")
    path = g.dir / "data.txt"
    path.write_text("precious\n")
    g.write_config(config(g, f"""
    server {{ listen unix:{path}; location / {{ pass who; }} }}"""))
    g.start(wait=False)
    g.proc.wait(timeout=REQUEST_TIMEOUT)
    assert g.proc.returncode != 0
    assert "exists and is not a socket" in g.log_text() + g.stderr_text()
    assert path.read_text() == "precious\n"


def _read_pid(path):
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _stop_pid(pid):
    if pid and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pid_alive(pid), 10 * SLOW, what=f"process {pid} to exit")


@pytest.mark.parametrize("commit", [True, False], ids=["commit", "rollback"])
def test_unix_socket_file_survives_a_binary_upgrade(greenc_factory, commit):
    g = greenc_factory("upgrade")
    sock = g.dir / "up.sock"
    start(g, config(g, f"""
    server {{ listen unix:{sock} mode=0660; location / {{ pass who; }} }}"""))
    g.send_signal(signal.SIGUSR2)
    oldbin = g.pid_file.with_name(g.pid_file.name + ".oldbin")
    wait_for(lambda: oldbin.exists() and _read_pid(g.pid_file) not in (None, g.pid),
             10 * SLOW, what="the new master")
    new_pid = _read_pid(g.pid_file)
    try:
        wait_for(lambda: len(children_of(new_pid)) >= 1, 10 * SLOW, what="new workers")
        if commit:
            g.send_signal(signal.SIGQUIT)        # the old master leaves; the file must stay
            g.wait_exit(timeout=10 * SLOW)
        else:
            _stop_pid(new_pid)                   # the new master leaves; the file must stay
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
        out = curl_unix(sock, "/")
        assert out.startswith(b"HTTP/1.1 200"), out
    finally:
        if commit:
            _stop_pid(new_pid)
    if commit:
        # The last master to go removes its socket file.
        assert not os.path.exists(sock)


# ---------------------------------------------------------------------------
# TCP options


def _bind_with_reuseport(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_reuseport_lets_a_second_socket_bind_the_port(greenc_factory):
    g = greenc_factory("reuseport")
    shared, plain = free_port(), free_port()
    start(g, config(g, f"""
    server {{ listen 127.0.0.1:{shared} reuseport; location / {{ pass who; }} }}
    server {{ listen 127.0.0.1:{plain}; location / {{ pass who; }} }}"""))
    assert body_json(exchange(shared, get()))["REMOTE_ADDR"] == "127.0.0.1"
    # The kernel lets another SO_REUSEPORT socket of the same user bind only when
    # greenc's socket has SO_REUSEPORT too.
    assert _bind_with_reuseport(shared)
    assert not _bind_with_reuseport(plain)


def _syn_recv_count(port):
    out = subprocess.run(["ss", "-Htn", "state", "syn-recv", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=10)
    return len([line for line in out.stdout.splitlines() if line.strip()])


def test_deferred_holds_silent_connections_in_the_kernel(greenc_factory):
    g = greenc_factory("deferred")
    deferred, plain = free_port(), free_port()
    start(g, config(g, f"""
    server {{ listen 127.0.0.1:{deferred} deferred; location / {{ pass who; }} }}
    server {{ listen 127.0.0.1:{plain}; location / {{ pass who; }} }}"""))
    silent = [socket.create_connection(("127.0.0.1", p)) for p in (deferred, plain)]
    try:
        # TCP_DEFER_ACCEPT: the connection waits, half-open, until the client speaks.
        wait_for(lambda: _syn_recv_count(deferred) == 1, 5, what="a deferred connection")
        assert _syn_recv_count(plain) == 0
        silent[0].sendall(get())
        assert body_json(recv_until_close(silent[0]))["REMOTE_ADDR"] == "127.0.0.1"
        assert _syn_recv_count(deferred) == 0
    finally:
        for s in silent:
            s.close()


def _has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_ipv6only_off_accepts_v4_mapped_and_on_refuses(greenc_factory):
    if not _has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1 cannot be bound)")
    g = greenc_factory("v6")
    dual, only = free_port(), free_port()
    start(g, config(g, f"""
    server {{ listen [::]:{dual} ipv6only=off; location / {{ pass who; }} }}
    server {{ listen [::]:{only}; location / {{ pass who; }} }}"""))
    env = body_json(exchange(dual, get(), "::1", socket.AF_INET6))
    assert env["REMOTE_ADDR"] == "::1"
    env = body_json(exchange(dual, get()))              # 127.0.0.1, v4-mapped
    assert env["REMOTE_ADDR"] in ("::ffff:127.0.0.1", "127.0.0.1")
    assert body_json(exchange(only, get(), "::1", socket.AF_INET6))["REMOTE_ADDR"] == "::1"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", only), timeout=5).close()


# ---------------------------------------------------------------------------
# PROXY protocol


@pytest.fixture(scope="module")
def pp_server(tmp_path_factory):
    """One server with a proxy_protocol listener (and request ids from trusted peers)."""
    g = Greenc(tmp_path_factory.mktemp("pp"))
    g.pp_port = free_port()
    g.write_config(config(g, f"""
    server {{
        listen 127.0.0.1:{g.pp_port} proxy_protocol;
        client_header_timeout 2s;
        location / {{ pass who; }}
    }}""", http_extra="set_real_ip_from 203.0.113.0/24; request_id_header X-Request-ID;"))
    with serving(g):
        yield g


def test_proxy_protocol_v1_tcp4_sets_the_client_address(pp_server):
    g = pp_server
    raw = exchange(g.pp_port, b"PROXY TCP4 198.51.100.7 192.0.2.1 51234 80\r\n" + get("/v1"))
    env = body_json(raw)
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("198.51.100.7", "51234")
    wait_for(lambda: any(line.startswith('198.51.100.7 51234 "GET /v1')
                         for line in access_lines(g)), 5, what="access log line")


def test_proxy_protocol_v1_tcp6_and_unknown(pp_server):
    env = body_json(exchange(pp_server.pp_port,
                             b"PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n" + get()))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8::7", "4711")
    # UNKNOWN: the balancer could not tell; the socket's own address stays.
    env = body_json(exchange(pp_server.pp_port, b"PROXY UNKNOWN\r\n" + get()))
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_proxy_protocol_v2_tcp4_tcp6_with_tlvs(pp_server):
    tlv = b"\x04" + struct.pack("!H", 5) + b"hello"            # PP2_TYPE_NOOP, skipped
    env = body_json(exchange(pp_server.pp_port,
                             v2_tcp4("198.51.100.8", "192.0.2.1", 40000, 80, tlv) + get()))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("198.51.100.8", "40000")
    env = body_json(exchange(pp_server.pp_port,
                             v2_tcp6("2001:db8::8", "2001:db8::1", 40001, 80) + get()))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8::8", "40001")


def test_proxy_protocol_v2_local_and_unspec_keep_the_socket_address(pp_server):
    env = body_json(exchange(pp_server.pp_port, v2_header(0, 0x00, b"") + get()))
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    # LOCAL with addresses: the balancer's own connection; they are ignored.
    local = v2_header(0, 0x11, socket.inet_aton("198.51.100.9") * 2 + b"\0\1\0\2")
    assert body_json(exchange(pp_server.pp_port, local + get()))["REMOTE_ADDR"] == "127.0.0.1"
    env = body_json(exchange(pp_server.pp_port, v2_header(1, 0x00, b"") + get()))
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_proxy_protocol_header_split_across_packets_and_keepalive(pp_server):
    header = v2_tcp4("198.51.100.10", "192.0.2.1", 1234, 80)
    with socket.create_connection(("127.0.0.1", pp_server.pp_port),
                                  timeout=REQUEST_TIMEOUT) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in (header[:5], header[5:14], header[14:]):
            s.sendall(piece)
            time.sleep(0.05)
        # Two requests on the connection: both have the header's address.
        s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b"}" not in first:
            first += s.recv(65536)
        assert b'"REMOTE_ADDR": "198.51.100.10"' in first
        s.sendall(get("/b"))
        second = recv_until_close(s)
        assert b'"REMOTE_ADDR": "198.51.100.10"' in second


@pytest.mark.parametrize("data", [
    get(),                                                        # no header at all
    b"PROXY TCP4 198.51.100.7 192.0.2.1 51234\r\n" + get(),       # four fields
    b"PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n" + get(),          # wrong family
    b"PROXY TCP4 198.51.100.7 192.0.2.1 70000 80\r\n" + get(),    # port out of range
    b"PROXY TCP4 198.51.100.7 192.0.2.1 1 2\n" + get(),           # LF without CR
    b"PROXY " + b"A" * 120 + b"\r\n" + get(),                     # longer than 107 bytes
    V2_SIG + b"\x31\x11\x00\x0c" + b"\0" * 12 + get(),            # version 3
    V2_SIG + b"\x21\x11\x00\x04" + b"\0" * 4 + get(),             # too short for TCP4
    V2_SIG + b"\x21\x11\x10\x00" + get(),                         # 4096 bytes announced
], ids=["none", "v1-fields", "v1-family", "v1-port", "v1-lf", "v1-long", "v2-version",
        "v2-short", "v2-long"])
def test_malformed_proxy_header_closes_the_connection(pp_server, data):
    before = pp_server.log_text().count("PROXY protocol header")
    raw = exchange(pp_server.pp_port, data)
    assert raw == b"" and raw.closed
    wait_for(lambda: pp_server.log_text().count("PROXY protocol header") > before, 5,
             what="the info line about the header")


def test_proxy_header_must_arrive_within_client_header_timeout(pp_server):
    with socket.create_connection(("127.0.0.1", pp_server.pp_port), timeout=10) as s:
        s.sendall(b"PROXY TCP4 ")
        t0 = time.monotonic()
        raw = recv_until_close(s, timeout=10)
        assert raw.closed and b"HTTP/1.1 200" not in raw
        assert time.monotonic() - t0 < 8


def test_proxy_protocol_address_in_the_error_log_and_request_id_trust(pp_server):
    g = pp_server
    raw = exchange(g.pp_port, b"PROXY TCP4 198.51.100.77 192.0.2.1 9 80\r\n"
                   b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400")
    wait_for(lambda: "client: 198.51.100.77" in g.log_text(), 5, what="error log client")

    rid = "abc-123-from-the-balancer"
    trusted = body_json(exchange(g.pp_port, b"PROXY TCP4 203.0.113.5 192.0.2.1 9 80\r\n"
                                 + get(headers=[f"X-Request-ID: {rid}"])))
    assert trusted["REQUEST_ID"] == rid
    untrusted = body_json(exchange(g.pp_port, b"PROXY TCP4 198.51.100.5 192.0.2.1 9 80\r\n"
                                   + get(headers=[f"X-Request-ID: {rid}"])))
    assert untrusted["REQUEST_ID"] != rid and len(untrusted["REQUEST_ID"]) == 32


# ---------------------------------------------------------------------------
# set_real_ip_from + real_ip_header


@pytest.fixture(scope="module")
def realip_server(tmp_path_factory):
    g = Greenc(tmp_path_factory.mktemp("realip"))
    g.ports = {name: free_port() for name in
               ("xff", "xff_rec", "xrealip", "fwd", "untrusted", "v6", "ppheader")}
    p = g.ports
    g.write_config(config(g, f"""
    server {{
        listen 127.0.0.1:{p['xff']};
        real_ip_header X-Forwarded-For;
        location / {{ pass who; }}
    }}
    server {{
        listen 127.0.0.1:{p['xff_rec']};
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / {{ pass who; }}
    }}
    server {{
        listen 127.0.0.1:{p['xrealip']};
        location / {{ pass who; }}
    }}
    server {{
        listen 127.0.0.1:{p['fwd']};
        real_ip_header Forwarded;
        real_ip_recursive on;
        location / {{ pass who; }}
    }}
    server {{
        listen 127.0.0.1:{p['untrusted']};
        set_real_ip_from 192.0.2.0/24;        # replaces the http level's list
        real_ip_header X-Forwarded-For;
        location / {{ pass who; }}
    }}
    server {{
        listen [::1]:{p['v6']};
        set_real_ip_from ::1;
        set_real_ip_from 2001:db8::/32;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / {{ pass who; }}
    }}
    server {{
        listen 127.0.0.1:{p['ppheader']} proxy_protocol;
        real_ip_header proxy_protocol;
        location / {{ pass who; }}
    }}""", http_extra="set_real_ip_from 127.0.0.1; set_real_ip_from 10.0.0.0/8;"))
    with serving(g):
        yield g


def test_x_forwarded_for_last_address_without_recursion(realip_server):
    env = body_json(exchange(realip_server.ports["xff"], get(
        "/xff", headers=["X-Forwarded-For: 198.51.100.1, 10.0.0.5"])))
    assert env["REMOTE_ADDR"] == "10.0.0.5"
    assert env["HTTP_X_FORWARDED_FOR"] == "198.51.100.1, 10.0.0.5"
    env = body_json(exchange(realip_server.ports["xff"], get(
        headers=["X-Forwarded-For: 198.51.100.1, 2001:db8::5"])))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8::5", "0")


def test_x_forwarded_for_recursive_skips_trusted_proxies(realip_server):
    port = realip_server.ports["xff_rec"]
    env = body_json(exchange(port, get("/rec", headers=[
        "X-Forwarded-For: 192.0.2.99, 198.51.100.1", "X-Forwarded-For: 10.1.2.3,10.0.0.5"])))
    assert env["REMOTE_ADDR"] == "198.51.100.1"
    wait_for(lambda: any(line.startswith('198.51.100.1 0 "GET /rec')
                         for line in access_lines(realip_server)), 5, what="access log")
    # Every address trusted: the leftmost one is the client.
    env = body_json(exchange(port, get(headers=["X-Forwarded-For: 10.9.9.9, 10.0.0.5"])))
    assert env["REMOTE_ADDR"] == "10.9.9.9"
    # Not an address at the right end: nothing changes.
    env = body_json(exchange(port, get(headers=["X-Forwarded-For: 198.51.100.1, bogus"])))
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_x_real_ip_is_the_default_header(realip_server):
    env = body_json(exchange(realip_server.ports["xrealip"],
                             get(headers=["X-Real-IP: 198.51.100.44",
                                          "X-Forwarded-For: 198.51.100.45"])))
    assert env["REMOTE_ADDR"] == "198.51.100.44"
    env = body_json(exchange(realip_server.ports["xrealip"],
                             get(headers=["X-Real-IP: not-an-address"])))
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    # An optional port, RFC 3986 style, replaces the client port too (as nginx).
    env = body_json(exchange(realip_server.ports["xrealip"],
                             get(headers=["X-Real-IP: 198.51.100.46:8080"])))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("198.51.100.46", "8080")
    env = body_json(exchange(realip_server.ports["xrealip"],
                             get(headers=["X-Real-IP: [2001:db8::46]:8081"])))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8::46", "8081")
    env = body_json(exchange(realip_server.ports["xrealip"],
                             get(headers=["X-Real-IP: 198.51.100.46:99999"])))
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_forwarded_header_for_parameters(realip_server):
    port = realip_server.ports["fwd"]
    env = body_json(exchange(port, get(headers=[
        'Forwarded: for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.5;by=10.0.0.1'])))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8:cafe::17", "4711")
    env = body_json(exchange(port, get(headers=["Forwarded: For=198.51.100.3:80"])))
    assert env["REMOTE_ADDR"] == "198.51.100.3"
    env = body_json(exchange(port, get(headers=["Forwarded: for=unknown"])))
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_x_forwarded_proto_from_trusted_peers_only(realip_server):
    p = realip_server.ports
    env = body_json(exchange(p["xff"], get(headers=["X-Forwarded-Proto: https"])))
    assert env["wsgi.url_scheme"] == "https"
    env = body_json(exchange(p["xff"], get(headers=["X-Forwarded-Proto: gopher"])))
    assert env["wsgi.url_scheme"] == "http"
    env = body_json(exchange(p["untrusted"], get(headers=[
        "X-Forwarded-Proto: https", "X-Forwarded-For: 198.51.100.1"])))
    # An untrusted peer's fields change nothing, but still reach the app.
    assert env["wsgi.url_scheme"] == "http"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_X_FORWARDED_FOR"] == "198.51.100.1"
    assert env["HTTP_X_FORWARDED_PROTO"] == "https"


def test_real_ip_over_ipv6_peers(realip_server):
    if not _has_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1 cannot be bound)")
    env = body_json(exchange(realip_server.ports["v6"], get(headers=[
        "X-Forwarded-For: 198.51.100.6, 2001:db8::99"]), "::1", socket.AF_INET6))
    assert env["REMOTE_ADDR"] == "198.51.100.6"


def test_real_ip_header_proxy_protocol_ignores_fields(realip_server):
    env = body_json(exchange(realip_server.ports["ppheader"],
                             b"PROXY TCP4 198.51.100.20 192.0.2.1 5 80\r\n"
                             + get(headers=["X-Real-IP: 198.51.100.21"])))
    assert env["REMOTE_ADDR"] == "198.51.100.20"


def test_real_ip_is_per_request_on_a_keepalive_connection(realip_server):
    with socket.create_connection(("127.0.0.1", realip_server.ports["xrealip"]),
                                  timeout=REQUEST_TIMEOUT) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Real-IP: 198.51.100.50\r\n\r\n")
        first = b""
        while b"}" not in first:
            first += s.recv(65536)
        assert b'"REMOTE_ADDR": "198.51.100.50"' in first
        s.sendall(get())
        assert b'"REMOTE_ADDR": "127.0.0.1"' in recv_until_close(s)


# ---------------------------------------------------------------------------
# through the router


def test_proxy_protocol_and_real_ip_through_the_router(greenc_factory):
    g = greenc_factory("router")
    shared, pp = free_port(), free_port()
    start(g, config(g, f"""
    server {{
        listen 127.0.0.1:{shared};
        server_name one.test;
        real_ip_header X-Forwarded-For;
        location / {{ pass who; }}
    }}
    server {{
        listen 127.0.0.1:{shared};
        server_name two.test;
        location / {{ pass other; }}
    }}
    server {{
        listen 127.0.0.1:{pp} proxy_protocol;
        server_name one.test;
        location / {{ pass who; }}
    }}
    server {{
        listen 127.0.0.1:{pp} proxy_protocol;
        server_name two.test;
        location / {{ pass other; }}
    }}""", http_extra="set_real_ip_from 127.0.0.1;", apps=("who", "other")))
    env = body_json(exchange(shared, get(host="one.test", headers=[
        "X-Forwarded-For: 198.51.100.60", "X-Forwarded-Proto: https"])))
    assert (env["REMOTE_ADDR"], env["wsgi.url_scheme"]) == ("198.51.100.60", "https")
    env = body_json(exchange(shared, get(host="two.test", headers=[
        "X-Real-IP: 198.51.100.61"])))
    assert env["REMOTE_ADDR"] == "198.51.100.61"
    env = body_json(exchange(pp, v2_tcp6("2001:db8::62", "2001:db8::1", 6262, 80)
                             + get(host="two.test")))
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8::62", "6262")
    wait_for(lambda: any(line.startswith("2001:db8::62 6262 ") for line in access_lines(g)),
             5, what="the router's access log line")


def test_unix_socket_through_the_router(greenc_factory):
    g = greenc_factory("router_unix")
    sock = g.dir / "shared.sock"
    start(g, config(g, f"""
    server {{ listen unix:{sock}; server_name one.test; location / {{ pass who; }} }}
    server {{ listen unix:{sock}; server_name two.test; location / {{ pass other; }} }}""",
                    apps=("who", "other")))
    out = curl_unix(sock, "/", headers=["Host: two.test"])
    assert json.loads(out.partition(b"\r\n\r\n")[2])["REMOTE_ADDR"] == "unix:"


# ---------------------------------------------------------------------------
# greenc -t


@pytest.mark.parametrize("servers,http_extra,message", [
    ("server { listen 127.0.0.1:1 mode=0999; location / { return 200; } }", "",
     'invalid "mode=0999"'),
    ("server { listen unix:/tmp/x.sock mode=rw; location / { return 200; } }", "",
     'invalid "mode=rw"'),
    ("server { listen unix:/tmp/x.sock owner=no_such_user_here; location / { return 200; } }",
     "", 'unknown user "no_such_user_here"'),
    ("server { listen unix:/tmp/x.sock owner=root:no_such_group; location / { return 200; } }",
     "", 'unknown group "no_such_group"'),
    ("server { listen 127.0.0.1:1 mode=0660; location / { return 200; } }", "",
     '"mode=" and "owner=" apply to unix socket listeners'),
    ("server { listen unix:/tmp/x.sock deferred; location / { return 200; } }", "",
     '"deferred" and "reuseport" apply to TCP listeners'),
    ("server { listen 127.0.0.1:1 ipv6only=off; location / { return 200; } }", "",
     '"ipv6only=off" applies to IPv6 addresses'),
    ("server { listen 127.0.0.1:1 proxy_protocol=on; location / { return 200; } }", "",
     'invalid parameter "proxy_protocol=on"'),
    ("", "set_real_ip_from 10.0.0.0/33;", 'invalid value "10.0.0.0/33"'),
    ("", "set_real_ip_from 10.0.0.300;", 'invalid value "10.0.0.300"'),
    ("", "set_real_ip_from 2001:db8::/129;", 'invalid value "2001:db8::/129"'),
    ("", 'real_ip_header "X Forwarded";', 'invalid value "X Forwarded" in "real_ip_header"'),
    ("", "real_ip_header X-Real-IP; real_ip_header X-Forwarded-For;",
     '"real_ip_header" directive is duplicate'),
], ids=["mode-range", "mode-text", "owner-user", "owner-group", "mode-on-tcp",
        "deferred-on-unix", "ipv6only-on-v4", "bad-option", "cidr-bits", "cidr-addr",
        "cidr-v6-bits", "header-name", "header-twice"])
def test_bad_listener_and_real_ip_config_names_file_and_line(tmp_path, servers, http_extra,
                                                             message):
    g = Greenc(tmp_path / "t")
    text = config(g, servers, http_extra=http_extra)
    g.write_config(text)
    out = run_greenc("-t", "-c", g.conf)
    assert out.returncode != 0
    err = out.stderr + out.stdout
    assert message in err, err
    bad = servers or http_extra
    line = next(i + 1 for i, t in enumerate(text.splitlines()) if bad.split(";")[0] in t)
    assert f"{g.conf}:{line}" in err, err


def test_good_listener_options_pass_the_check(tmp_path):
    g = Greenc(tmp_path / "ok")
    text = config(g, f"""
    server {{
        listen unix:{g.dir}/ok.sock mode=0660 owner=root:root;
        listen 127.0.0.1:{free_port()} deferred reuseport backlog=64 proxy_protocol;
        set_real_ip_from 10.0.0.0/8;
        set_real_ip_from unix:;
        real_ip_header Forwarded;
        real_ip_recursive on;
        location / {{ pass who; }}
    }}""")
    g.write_config(text)
    out = run_greenc("-t", "-c", g.conf)
    assert out.returncode == 0, out.stderr



def _server_side_nodelay(worker_pids, client):
    """TCP_NODELAY of the server's socket for this client connection, read from a duplicate of
    the worker's descriptor (pidfd_getfd, Linux 5.6), or None when no worker holds it."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    want = client.getsockname()
    for pid in worker_pids:
        pidfd = os.pidfd_open(pid)
        try:
            for name in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                        continue
                except OSError:
                    continue
                fd = libc.syscall(438, pidfd, int(name), 0)        # pidfd_getfd
                if fd < 0:
                    continue
                s = socket.socket(fileno=fd)
                try:
                    if s.type == socket.SOCK_STREAM and s.family == socket.AF_INET:
                        try:
                            peer = s.getpeername()
                        except OSError:
                            continue
                        if peer == want:
                            return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
                finally:
                    s.close()
        finally:
            os.close(pidfd)
    return None


@pytest.mark.parametrize("setting, expected", [("", True), ("tcp_nodelay off;", False),
                                               ("tcp_nodelay on;", True)])
def test_tcp_nodelay_is_set_on_accepted_connections_unless_turned_off(greenc_factory, setting,
                                                                       expected):
    g = greenc_factory(http_extra=setting)
    g.start()
    with socket.create_connection(("127.0.0.1", g.port), timeout=REQUEST_TIMEOUT) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 200")
        assert _server_side_nodelay(g.worker_pids(), c) is expected


def test_ipv4_client_addresses_are_written_exactly(greenc_factory):
    # greenc formats IPv4 addresses itself (not inet_ntop): one, two and three digit octets,
    # zeros and 255, from sources anywhere in 127.0.0.0/8, in the environ and the access log.
    g = greenc_factory()
    start(g, config(g, ""))
    sources = ["127.0.0.9", "127.10.100.255", "127.99.0.1", "127.255.20.200"]
    for src in sources:
        with socket.create_connection(("127.0.0.1", g.port), timeout=REQUEST_TIMEOUT,
                                      source_address=(src, 0)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = recv_until_close(s)
            port = s.getsockname()[1]
        env = json.loads(data.split(b"\r\n\r\n", 1)[1])
        assert env["REMOTE_ADDR"] == src and env["REMOTE_PORT"] == str(port)
    log = wait_for(lambda: (lambda t: t if t.count('"GET / HTTP/1.1"') >= len(sources) else None)(
        (g.dir / "access.log").read_text() if (g.dir / "access.log").exists() else ""),
        5 * SLOW, what="the access log lines")
    assert [line.split()[0] for line in log.splitlines() if '"GET / ' in line] == sources
