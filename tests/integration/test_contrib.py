"""The operator files in contrib/ work as shipped: the logrotate config rotates
a running greenc's logs with no line lost (logrotate(8) itself runs it), the
systemd units pass `systemd-analyze verify`, the Vim syntax file and the Emacs
mode know every directive `greenc -L` lists (and Emacs, when installed,
byte-compiles the mode without a warning and indents with it), the bash
completion completes what `greenc -h` lists, the Kubernetes example's
greenc.conf serves its probes, and HAProxy balances over two greenc boxes with
the example's config and drops a stopped one without an error."""

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness import (GREENC_BIN, HERE, SLOW, Greenc, app_block, default_locations, free_port,
                     http_request, serving, wait_for)

CONTRIB = HERE.parent.parent / "contrib"


def test_logrotate_config_rotates_with_no_line_lost(tmp_path):
    g = Greenc(tmp_path / "srv")
    g.write_config(g.config_text().replace("access_log off;",
                                           f"access_log {g.dir}/access.log;"))
    conf = (CONTRIB / "logrotate" / "greenc").read_text()
    # The two logs greenc writes (the harness keeps its stdout/stderr files there too).
    conf = conf.replace("/usr/local/greenc/logs/*.log", f"{g.dir}/access.log {g.dir}/error.log")
    conf = conf.replace("/usr/local/greenc/logs/greenc.pid", str(g.pid_file))
    rotate_conf = tmp_path / "logrotate.conf"
    rotate_conf.write_text(conf)
    with serving(g):
        for i in range(20):
            assert g.get(f"/?before={i}").status == 200
        cp = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(rotate_conf)],
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stderr
        assert (g.dir / "access.log.1").exists() and (g.dir / "error.log.1").exists()
        # The master says so in the old file, then reopens.
        g.wait_log("reopening logs", path=g.dir / "error.log.1")
        for i in range(20):
            assert g.get(f"/?after={i}").status == 200
        wait_for(lambda: (g.dir / "access.log").exists()
                 and (g.dir / "access.log").read_text().count("after=") == 20,
                 10 * SLOW, what="the after-rotation lines in the new access.log")
    old = (g.dir / "access.log.1").read_text()
    new = (g.dir / "access.log").read_text()
    assert old.count("before=") == 20 and "after=" not in old
    assert "before=" not in new


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("test_contrib: systemd-analyze is not installed (Debian: package systemd), "
              "so the units in contrib/systemd/ are not verified")
        pytest.skip("systemd-analyze not installed")
    conf = tmp_path / "greenc.conf"
    conf.write_text("daemon off;\n")
    units = sorted(p.name for p in (CONTRIB / "systemd").iterdir())
    assert {"greenc.service", "greenc.socket", "greenc-forking.service"} <= set(units)
    for name in units:
        text = (CONTRIB / "systemd" / name).read_text()
        # The installed layout the units name, pointed at this build.
        text = text.replace("/usr/local/greenc/sbin/greenc", str(Path(GREENC_BIN).resolve()))
        text = text.replace("/usr/local/greenc/conf/greenc.conf", str(conf))
        (tmp_path / name).write_text(text)
    cp = subprocess.run([analyze, "verify", *units], cwd=tmp_path, capture_output=True,
                        text=True, timeout=60)
    out = cp.stdout + cp.stderr
    print(f"systemd-analyze verify {' '.join(units)}: exit {cp.returncode}\n{out}")
    assert cp.returncode == 0, out
    # Unknown keys and bad values are only warnings (exit 0): none may name our units.
    complaints = [line for line in out.splitlines()
                  if any(name in line for name in units) or str(tmp_path) in line]
    assert complaints == [], complaints


def test_vim_syntax_knows_every_directive():
    syntax = (CONTRIB / "vim" / "syntax" / "greenc.vim").read_text()
    keywords = set()
    for line in syntax.splitlines():
        m = re.match(r"syn keyword greencDirective\s+(.*)", line)
        if m:
            keywords.update(m.group(1).split())
    listed = subprocess.run([GREENC_BIN, "-L"], capture_output=True, text=True,
                            check=True).stdout
    names = {line.split("\t")[0] for line in listed.splitlines()}
    assert names - keywords == set(), "directives missing from greenc.vim"
    assert keywords - names == set(), "greenc.vim names unknown directives"


def _greenc_directive_names():
    listed = subprocess.run([GREENC_BIN, "-L"], capture_output=True, text=True,
                            check=True).stdout
    return {line.split("\t")[0] for line in listed.splitlines()}


def _emacs_list(source, name):
    """The strings of `(defconst NAME '("a" "b" ...)` in an Emacs Lisp file."""
    m = re.search(r"\(defconst " + re.escape(name) + r"\s+'\(([^)]*)\)", source)
    assert m, f"no (defconst {name} '(...)) in greenc-mode.el"
    return re.findall(r'"([^"]+)"', m.group(1))


def test_emacs_mode_knows_every_directive():
    source = (CONTRIB / "emacs" / "greenc-mode.el").read_text()
    directives = _emacs_list(source, "greenc-directives")
    assert len(directives) == len(set(directives)), "a directive is listed twice"
    names = _greenc_directive_names()
    assert names - set(directives) == set(), "directives missing from greenc-mode.el"
    assert set(directives) - names == set(), "greenc-mode.el names unknown directives"
    blocks = set(_emacs_list(source, "greenc-block-keywords"))
    assert blocks == {"app", "http", "server", "location", "types"}


# Unindented on purpose: greenc-mode indents it by brace depth.
EMACS_SAMPLE = """\
# a comment that says app and server
pid logs/greenc.pid;
app blog {
wsgi blog:app;
}
http {
log_format main '$remote_addr "$request"'
'$status';
server {
listen 127.0.0.1:8000;   # a comment after a statement

# a comment line
location = /healthz { return 200 "ok\\n"; }
location / {
pass blog;
}
}
}
"""

EMACS_INDENTED = """\
# a comment that says app and server
pid logs/greenc.pid;
app blog {
    wsgi blog:app;
}
http {
    log_format main '$remote_addr "$request"'
        '$status';
    server {
        listen 127.0.0.1:8000;   # a comment after a statement

        # a comment line
        location = /healthz { return 200 "ok\\n"; }
        location / {
            pass blog;
        }
    }
}
"""

# (text to find, the face of its first character) after font-lock.
EMACS_FACES = [
    ("# a comment", "font-lock-comment-delimiter-face"),
    ("says app", "font-lock-comment-face"),
    ("pid", "font-lock-builtin-face"),
    ("app blog", "font-lock-keyword-face"),
    ("blog {", "font-lock-function-name-face"),
    ("wsgi", "font-lock-builtin-face"),
    ("http", "font-lock-keyword-face"),
    ("$remote_addr", "font-lock-variable-name-face"),
    ("'$status'", "font-lock-string-face"),
    ("server {", "font-lock-keyword-face"),
    ("listen", "font-lock-builtin-face"),
    ("return", "font-lock-builtin-face"),
    ('"ok', "font-lock-string-face"),
    ("pass", "font-lock-builtin-face"),
]


def test_emacs_mode_byte_compiles_indents_and_highlights(tmp_path):
    emacs = shutil.which("emacs")
    if emacs is None:
        print("test_contrib: emacs is not installed (Debian: package emacs-nox), so "
              "contrib/emacs/greenc-mode.el is not byte-compiled or run")
        pytest.skip("emacs not installed")
    shutil.copy(CONTRIB / "emacs" / "greenc-mode.el", tmp_path)
    cp = subprocess.run([emacs, "-Q", "--batch", "--eval", "(setq byte-compile-error-on-warn t)",
                         "-f", "batch-byte-compile", "greenc-mode.el"],
                        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    out = cp.stdout + cp.stderr
    assert cp.returncode == 0 and "arning" not in out, out
    assert (tmp_path / "greenc-mode.elc").exists()

    # Opened by name (auto-mode-alist), indented whole, fontified.
    (tmp_path / "greenc.conf").write_text(EMACS_SAMPLE)
    def elisp_string(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    probes = " ".join(f"({elisp_string(text)} . {face})" for text, face in EMACS_FACES)
    script = f"""
(load (expand-file-name "greenc-mode.elc") nil t)
(find-file "greenc.conf")
(unless (eq major-mode 'greenc-mode) (error "greenc.conf opened in %s" major-mode))
(with-temp-buffer
  (setq buffer-file-name (expand-file-name "site.greenc"))
  (set-auto-mode)
  (unless (eq major-mode 'greenc-mode) (error "site.greenc opened in %s" major-mode)))
(indent-region (point-min) (point-max))
(write-region (point-min) (point-max) "indented.conf")
(font-lock-ensure)
(dolist (probe '({probes}))
  (goto-char (point-min))
  (search-forward (car probe))
  (let ((face (get-text-property (match-beginning 0) 'face)))
    (unless (eq face (cdr probe))
      (error "%S has face %S, not %S" (car probe) face (cdr probe)))))
"""
    (tmp_path / "check.el").write_text(script)
    cp = subprocess.run([emacs, "-Q", "--batch", "-l", "check.el"], cwd=tmp_path,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert (tmp_path / "indented.conf").read_text() == EMACS_INDENTED


BASH_OPTIONS = ["-h", "-v", "-V", "-t", "-T", "-L", "-s", "-p", "-c", "-g"]


def _bash_complete(cwd, *words):
    """COMPREPLY of contrib/bash-completion/greenc for the command line
    `words` (the last is the word being completed), in plain bash: no
    bash-completion package, no rc files."""
    comp = CONTRIB / "bash-completion" / "greenc"
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = f"""
source '{comp}' || exit 1
spec=$(complete -p greenc) || exit 1
func=${{spec#*-F }}; func=${{func%% *}}
COMP_WORDS=({quoted})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
"$func" greenc "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    cp = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd,
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0 and cp.stderr == "", cp.stderr
    return [line for line in cp.stdout.splitlines() if line]


def test_bash_completion_completes_options_signals_files_and_dirs(tmp_path):
    help_text = subprocess.run([GREENC_BIN, "-h"], capture_output=True, text=True).stderr + \
        subprocess.run([GREENC_BIN, "-h"], capture_output=True, text=True).stdout
    # Every option greenc -h documents is offered (and nothing else).
    documented = set(re.findall(r"^\s+(-[A-Za-z])\b", help_text, re.M))
    assert documented == set(BASH_OPTIONS), help_text
    assert sorted(_bash_complete(tmp_path, "greenc", "-")) == sorted(BASH_OPTIONS)
    assert sorted(_bash_complete(tmp_path, "greenc", "")) == sorted(BASH_OPTIONS)
    assert _bash_complete(tmp_path, "greenc", "-t", "-c", "x.conf", "-T") == ["-T"]

    assert sorted(_bash_complete(tmp_path, "greenc", "-s", "")) == \
        ["quit", "reload", "reopen", "status", "stop"]
    assert sorted(_bash_complete(tmp_path, "greenc", "-c", "c.conf", "-s", "re")) == \
        ["reload", "reopen"]
    assert sorted(_bash_complete(tmp_path, "greenc", "-s", "st")) == ["status", "stop"]

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "greenc.conf").write_text("daemon off;\n")
    (tmp_path / "conf" / "my site.conf").write_text("daemon off;\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "README").write_text("")
    assert sorted(_bash_complete(tmp_path, "greenc", "-c", "")) == ["README", "conf", "logs"]
    assert sorted(_bash_complete(tmp_path, "greenc", "-c", "conf/")) == \
        ["conf/greenc.conf", "conf/my site.conf"]
    assert _bash_complete(tmp_path, "greenc", "-t", "-c", "conf/g") == ["conf/greenc.conf"]
    assert sorted(_bash_complete(tmp_path, "greenc", "-p", "")) == ["conf", "logs"]
    assert _bash_complete(tmp_path, "greenc", "-p", "l") == ["logs"]
    # -g takes directives: nothing to offer.
    assert _bash_complete(tmp_path, "greenc", "-g", "") == []


def _seconds(value):
    """A greenc time (500ms, 30s, 5m, 1h, 2d, or bare seconds) in seconds."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value)
    assert m, f"not a time: {value!r}"
    unit = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return int(m.group(1)) * unit


def test_kubernetes_example_config_serves_its_probes_and_outlasts_graceful_stop(tmp_path):
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    docs = [d for d in yaml.safe_load_all((CONTRIB / "kubernetes" / "greenc.yaml").read_text())
            if d]
    by_kind = {d["kind"]: d for d in docs}
    assert sorted(by_kind) == ["ConfigMap", "Deployment", "Service"]
    configmap, deploy, service = by_kind["ConfigMap"], by_kind["Deployment"], by_kind["Service"]

    pod = deploy["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert deploy["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()

    # The config the container reads is the ConfigMap's greenc.conf.
    command = container["command"]
    conf_path = Path(command[command.index("-c") + 1])
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(conf_path.parent)]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    conf = configmap["data"][conf_path.name]

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (listen,) = re.findall(r"^\s*listen\s+(\d+);", conf, re.M)
    assert ports["http"] == int(listen)
    assert service["spec"]["ports"][0]["targetPort"] in ("http", int(listen))
    probes = {kind: container[kind]["httpGet"]
              for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    for probe in probes.values():
        assert probe["port"] in ("http", int(listen))

    # TERM comes after preStop; both must end before the grace period's KILL.
    (graceful,) = re.findall(r"^\s*graceful_timeout\s+(\S+);", conf, re.M)
    pre_stop = container["lifecycle"]["preStop"]
    sleep = pre_stop["exec"]["command"]
    assert sleep[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + _seconds(graceful)

    # The config itself, with the pod's paths moved into tmp_path and the
    # port onto a free loopback one.
    g = Greenc(tmp_path / "srv")
    app_dir = tmp_path / "srv" / "app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'from the app\\n']\n")
    local = conf.replace("/tmp/greenc.pid", str(g.pid_file))
    local = local.replace("python_path /srv/app;", f"python_path {app_dir};")
    local = local.replace(f"listen {listen};", f"listen 127.0.0.1:{g.port};")
    assert local.count(str(tmp_path)) == 2 and str(g.port) in local
    g.write_config(local)
    cp = subprocess.run([GREENC_BIN, "-t", "-c", str(g.conf)], capture_output=True,
                        text=True, timeout=30 * SLOW)
    assert cp.returncode == 0, cp.stderr
    with serving(g):
        for kind, probe in probes.items():
            r = g.get(probe["path"])
            assert r.status == 200, (kind, r)
        assert g.get("/").body == b"from the app\n"
        assert g.get("/status").status == 200          # for greenc -s status in the pod
        status = subprocess.run([GREENC_BIN, "-s", "status", "-c", str(g.conf)],
                                capture_output=True, text=True, timeout=30 * SLOW)
        assert status.returncode == 0, status.stderr


WHO_APP = """\
import os


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [os.environ["INSTANCE"].encode()]
"""


def _haproxy_servers(stats_port):
    """{server name: status} of the greenc backend, from HAProxy's stats CSV."""
    r = http_request(stats_port, "GET", "/;csv")
    assert r.status == 200, r
    lines = r.text.splitlines()
    header = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
    return {row["svname"]: row["status"] for row in rows
            if row["pxname"] == "greenc" and row["svname"] not in ("FRONTEND", "BACKEND")}


def test_haproxy_example_config_passes_haproxy_check():
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        print("test_contrib: haproxy is not installed (Debian: package haproxy)")
        pytest.skip("haproxy not installed")
    cp = subprocess.run([haproxy, "-c", "-f", str(CONTRIB / "haproxy" / "haproxy.cfg")],
                        capture_output=True, text=True, timeout=30)
    out = cp.stdout + cp.stderr
    assert cp.returncode == 0 and "WARNING" not in out and "ALERT" not in out, out


def test_haproxy_balances_over_greenc_boxes_and_drops_a_stopped_one(tmp_path, greenc_factory):
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        print("test_contrib: haproxy is not installed (Debian: package haproxy)")
        pytest.skip("haproxy not installed")
    boxes = {}
    for name in ("a", "b"):
        g = greenc_factory(name)
        (g.apps_dir / "who_app.py").write_text(WHO_APP)
        g.write_config(apps=app_block("who", wsgi="who_app:application",
                                      python_path=g.apps_dir, workers=1,
                                      extra=f"env INSTANCE={name};"),
                      locations=default_locations("who"))
        boxes[name] = g.start()

    front, stats = free_port(), free_port()
    cfg = (CONTRIB / "haproxy" / "haproxy.cfg").read_text()
    for old, new in (("bind :80", f"bind 127.0.0.1:{front}"),
                     ("server app1 10.0.0.11:8000", f"server app1 127.0.0.1:{boxes['a'].port}"),
                     ("server app2 10.0.0.12:8000", f"server app2 127.0.0.1:{boxes['b'].port}"),
                     ("bind 127.0.0.1:8404", f"bind 127.0.0.1:{stats}")):
        assert cfg.count(old) == 1, old
        cfg = cfg.replace(old, new)
    (tmp_path / "haproxy.cfg").write_text(cfg)

    with open(tmp_path / "haproxy.out", "wb") as out:
        proxy = subprocess.Popen([haproxy, "-db", "-f", str(tmp_path / "haproxy.cfg")],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        def both_up():
            assert proxy.poll() is None, (tmp_path / "haproxy.out").read_text()
            try:
                return _haproxy_servers(stats) == {"app1": "UP", "app2": "UP"}
            except OSError:
                return False
        wait_for(both_up, 20 * SLOW, interval=0.1, what="HAProxy to see both greenc boxes up")

        seen = [http_request(front).text for _ in range(20)]
        assert seen.count("a") >= 5 and seen.count("b") >= 5, seen
        assert set(seen) == {"a", "b"}, seen

        boxes["a"].stop()               # TERM by PID, and waits for it to exit
        stopped_at = time.monotonic()
        before_down = []

        def a_down():
            before_down.append(http_request(front))
            return _haproxy_servers(stats)["app1"].startswith("DOWN")
        wait_for(a_down, 20 * SLOW, interval=0.05, what="HAProxy to mark the stopped box down")
        print(f"app1 marked down {time.monotonic() - stopped_at:.1f}s after it stopped; "
              f"meanwhile {len(before_down)} requests: "
              f"{sorted(set((r.status, r.text) for r in before_down))}")
        # Retries on another server hide the refused connections meanwhile.
        assert all(r.status == 200 and r.text == "b" for r in before_down), before_down

        after = [http_request(front) for _ in range(30)]
        assert [(r.status, r.text) for r in after] == [(200, "b")] * 30
    finally:
        proxy.terminate()
        try:
            proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait(timeout=10)
