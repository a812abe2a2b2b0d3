"""TTIN and TTOU act on every app group (BRIEF section 3: "one more / one fewer worker in
every app group"), not only on the first: with two apps, each signal changes both groups'
worker counts, and both apps keep serving from their own workers."""

import re
import signal

from harness import SLOW, app_block, children_of, free_port, pid_alive, wait_for


def _group_pids(g, app):
    """Live workers of one app, from the master's "start worker process" lines."""
    started = re.findall(rf'start worker process (\d+) for app "{app}"', g.log_text())
    live = set(children_of(g.pid))
    return sorted(int(p) for p in set(started) if int(p) in live and pid_alive(int(p)))


def _wait_counts(g, want):
    def settled():
        got = {app: len(_group_pids(g, app)) for app in want}
        return got if got == want else None
    return wait_for(settled, 10 * SLOW, what=f"worker counts {want}")


def test_ttin_and_ttou_change_the_worker_count_of_every_app_group(greenc_factory):
    g = greenc_factory()
    port2 = free_port()
    g.write_config(
        apps=(app_block("hello", python_path=g.apps_dir, workers=2) + "\n"
              + app_block("other", python_path=g.apps_dir, workers=1)),
        extra_servers=("    server {\n"
                       f"        listen 127.0.0.1:{port2};\n"
                       "        location / { pass other; }\n"
                       "    }\n"))
    g.start()
    g.wait_ready(port=port2, path="/")
    _wait_counts(g, {"hello": 2, "other": 1})

    g.send_signal(signal.SIGTTIN)
    _wait_counts(g, {"hello": 3, "other": 2})
    g.wait_log('group "other": 2 workers')
    # Signals of one kind do not queue: send the next one once the first took effect.
    g.send_signal(signal.SIGTTIN)
    _wait_counts(g, {"hello": 4, "other": 3})

    g.send_signal(signal.SIGTTOU)
    _wait_counts(g, {"hello": 3, "other": 2})
    g.send_signal(signal.SIGTTOU)
    _wait_counts(g, {"hello": 2, "other": 1})
    g.send_signal(signal.SIGTTOU)
    _wait_counts(g, {"hello": 1, "other": 1})         # never below one worker

    hello, other = _group_pids(g, "hello"), _group_pids(g, "other")
    assert int(g.get("/pid", headers={"Connection": "close"}).text) in hello
    assert int(g.get("/pid", port=port2, headers={"Connection": "close"}).text) in other
