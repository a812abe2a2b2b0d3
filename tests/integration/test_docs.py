"""The user docs follow the code: every directive that `greenc -L` lists (the
directive tables themselves) has an entry in man/greenc.conf.5, with the blocks
it may stand in; both man pages render without a groff warning; every option of
`greenc -h` is in man/greenc.8."""

import re
import subprocess

import pytest

from harness import GREENC_BIN, HERE

MAN = HERE.parent.parent / "man"


def directives():
    out = subprocess.run([GREENC_BIN, "-L"], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        name, _, blocks = line.partition("\t")
        found.setdefault(name, set()).update(blocks.split())
    return found


def man_entries():
    """name -> the Context line of its .SS entry."""
    text = (MAN / "greenc.conf.5").read_text()
    entries = {}
    for m in re.finditer(r"^\.SS (\S+)\n(.*?)(?=^\.S[SH] )", text, re.S | re.M):
        ctx = re.search(r"^Context:\s+(.*)$", m.group(2), re.M)
        entries[m.group(1)] = set(ctx.group(1).replace(",", " ").split()) if ctx else None
    return entries


def test_greenc_lists_its_directives():
    found = directives()
    assert {"app", "wsgi", "listen", "location", "pass", "access_log"} <= set(found)
    assert found["location"] == {"server", "location"}


def test_every_directive_has_a_man_entry_with_its_contexts():
    entries = man_entries()
    missing = sorted(set(directives()) - set(entries))
    assert missing == [], f"directives without an entry in man/greenc.conf.5: {missing}"
    wrong = {name: (blocks, entries[name]) for name, blocks in directives().items()
             if entries[name] != blocks}
    assert wrong == {}, f"Context lines that differ from greenc -L: {wrong}"


def test_no_man_entry_for_a_directive_that_does_not_exist():
    stale = sorted(set(man_entries()) - set(directives()))
    assert stale == [], f"man/greenc.conf.5 documents unknown directives: {stale}"


@pytest.mark.parametrize("page", ["greenc.8", "greenc.conf.5"])
def test_man_page_renders_without_warnings(page):
    cp = subprocess.run(["groff", "-man", "-ww", "-z", str(MAN / page)],
                        capture_output=True, text=True)
    assert cp.returncode == 0 and cp.stderr == "", cp.stderr


def test_every_command_line_option_is_in_greenc_8():
    usage = subprocess.run([GREENC_BIN, "-h"], capture_output=True, text=True).stderr
    options = set(re.findall(r"^\s+(-[a-zA-Z?])", usage, re.M))
    assert len(options) >= 9, usage
    page = (MAN / "greenc.8").read_text()
    for opt in options:
        assert f"\\{opt}" in page or f"\\-{opt[1:]}" in page, opt
