"""Per-app process settings (issue 5, "Per-app groups"): `limit_nofile` and `limit_as`
are the worker's resource limits (read back from /proc/PID/limits), and, when the master
runs as root, `user NAME GROUP` makes the worker that user and group with the supplementary
groups initgroups(3) gives, before Python imports the app (apps/identity_app.py records its
ids at import). The users and groups are created for the test and removed after it."""

import grp
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import SANITIZED, Greenc, app_block, serving

LIMIT_NOFILE = 777
# 3 GiB: room for the interpreter, still not the default. AddressSanitizer reserves terabytes
# of address space for its shadow memory, so a sanitizer build gets a limit above that.
LIMIT_AS = (100 << 40) if SANITIZED else (3 << 30)


def _limits(pid):
    """{"Max open files": (soft, hard), ...} from /proc/PID/limits."""
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        next(f)
        for line in f:
            name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
            out[name] = (soft, hard)
    return out


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return {k: v.split() for k, _, v in (line.partition(":") for line in f)}


def test_limit_nofile_and_limit_as_are_the_workers_limits(greenc_factory):
    g = greenc_factory()
    g.write_config(apps=(app_block("hello", python_path=g.apps_dir, workers=2,
                                   extra=f"limit_nofile {LIMIT_NOFILE}; limit_as {LIMIT_AS};")))
    g.start()
    for pid in g.wait_workers(2):
        limits = _limits(pid)
        assert limits["Max open files"] == (str(LIMIT_NOFILE),) * 2, limits
        assert limits["Max address space"] == (str(LIMIT_AS),) * 2, limits
    # The master keeps its own (the harness starts it with the test's limits).
    assert _limits(g.pid)["Max open files"] != (str(LIMIT_NOFILE),) * 2
    assert g.get("/").status == 200


def _run(*cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, (cmd, out.stderr)


@pytest.fixture
def accounts():
    """A system user, the group to run it as and a supplementary group it belongs to."""
    if os.geteuid() != 0:
        print("test_app_limits: not root, so the per-app user checks are skipped")
        pytest.skip("not root: cannot create users or switch workers to them")
    tag = secrets.token_hex(3)
    names = {"user": f"grnlim-u-{tag}", "group": f"grnlim-g-{tag}",
             "extra": f"grnlim-x-{tag}"}
    made_groups, made_user = [], False
    try:
        for key in ("group", "extra"):
            _run("groupadd", "--system", names[key])
            made_groups.append(names[key])
        _run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             "--groups", names["extra"], names["user"])
        made_user = True
        yield names
    finally:
        if made_user:
            subprocess.run(["userdel", names["user"]], capture_output=True)
        for name in made_groups:
            subprocess.run(["groupdel", name], capture_output=True)


def test_app_user_and_group_are_set_before_the_app_is_imported(accounts):
    # Not under pytest's 0700 tmp dir: the worker, once switched, must read the app.
    base = Path(tempfile.mkdtemp(prefix="greenc-limits-"))
    try:
        base.chmod(0o755)
        g = Greenc(base / "srv")
        for d in (g.dir, g.apps_dir):
            d.chmod(0o755)
        g.write_config(apps=app_block("who", wsgi="identity_app:application",
                                      python_path=g.apps_dir, workers=2,
                                      extra=f"user {accounts['user']} {accounts['group']};"),
                       locations="        location / { pass who; }\n")
        uid = pwd.getpwnam(accounts["user"]).pw_uid
        primary = pwd.getpwnam(accounts["user"]).pw_gid
        gid = grp.getgrnam(accounts["group"]).gr_gid
        extra = grp.getgrnam(accounts["extra"]).gr_gid
        # initgroups(user, gid): the group given plus every group that lists the user
        # (not the user's own primary group from passwd).
        groups = sorted({gid, extra})
        assert primary not in groups

        with serving(g) as g:
            g.wait_ready(path="/")
            workers = g.wait_workers(2)
            for pid in workers:
                st = _status(pid)
                assert st["Uid"] == [str(uid)] * 4, (pid, st["Uid"])
                assert st["Gid"] == [str(gid)] * 4, (pid, st["Gid"])
                assert sorted(map(int, st["Groups"])) == groups, (pid, st["Groups"])
            seen = {}
            for _ in range(20):
                who = g.get("/", headers={"Connection": "close"}).json()
                seen[who["pid"]] = who
                if len(seen) == 2:
                    break
            for who in seen.values():
                assert who["at_import"] == {"uid": uid, "euid": uid, "gid": gid,
                                            "groups": groups}, who
                assert (who["uid"], who["gid"], who["groups"]) == (uid, gid, groups), who
            assert _status(g.pid)["Uid"] == ["0"] * 4        # the master stays root
    finally:
        shutil.rmtree(base, ignore_errors=True)
