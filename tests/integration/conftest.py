"""pytest fixtures for greenc's integration tests; the helpers are in harness.py.

greenc_factory(name, **config_pieces) makes servers in the test's tmp dir,
greenc is one started with the default config, shared_greenc is one per module
for read-only tests. Every server is stopped by PID in teardown, and a test
fails if a server it ran printed a sanitizer report, or logged an [alert] or
[crit] line (or [emerg] after a successful start) that the test does not name
with @pytest.mark.allow_log(regex, ...): the log gate.
"""

import pytest

from harness import GREENC_BIN, LIVE, SANITIZED, STARTED, Greenc, serving


@pytest.fixture
def greenc_factory(tmp_path):
    """make(name="srv", **config_pieces) -> Greenc with its config written
    (not started). Every instance is stopped in teardown."""
    made = []

    def make(name="srv", port=None, **pieces):
        g = Greenc(tmp_path / name, port)
        g.write_config(**pieces)
        made.append(g)
        LIVE.append(g)
        return g

    yield make
    problems = []
    for g in made:
        g.stop()
        LIVE.remove(g)
        problems += g.sanitizer_reports()
    if problems:
        pytest.fail("sanitizer reports: " + "; ".join(problems) + "\n" +
                    "\n".join(g.diagnostics() for g in made))


@pytest.fixture
def greenc(greenc_factory):
    """A started greenc with the default config (app "hello", 2 workers)."""
    return greenc_factory().start()


@pytest.fixture(scope="module")
def shared_greenc(tmp_path_factory):
    """One started greenc with the default config, shared by a module's
    read-only tests (they must not signal or reconfigure it)."""
    g = Greenc(tmp_path_factory.mktemp("shared"))
    g.write_config()
    with serving(g):
        yield g


@pytest.fixture(autouse=True)
def _no_sanitizer_reports_during_test():
    """Fail the test during which a live server produced a sanitizer report."""
    before = {id(g): set(g.sanitizer_reports()) for g in LIVE}
    yield
    new = []
    for g in LIVE:
        new += [r for r in g.sanitizer_reports() if r not in before.get(id(g), set())]
    if new:
        pytest.fail("sanitizer reports: " + "; ".join(new))


@pytest.fixture(autouse=True)
def _no_alert_or_crit_in_logs(request):
    """The log gate: fail the test during which a server logged [alert], [crit] or, after
    it started, [emerg], unless @pytest.mark.allow_log names the line. It runs after the
    test's own fixtures have stopped their servers (autouse fixtures are set up first and
    torn down last), so lines logged while stopping count too. A server that outlives the
    test (module scope) is read on from where the last test left it."""
    yield
    allowed = [p for m in request.node.iter_markers("allow_log") for p in m.args]
    found = []
    for g in list(STARTED):
        ends = g.log_marks()
        found += g.gated_lines(g.gate_mark, allowed, ends)
        g.gate_mark = ends
        if g.proc is None or g.proc.poll() is not None:
            STARTED.remove(g)           # stopped: nothing more to read from it
    if found:
        pytest.fail("the log gate refuses these lines (name an expected one with "
                    "@pytest.mark.allow_log(regex)):\n" + "\n".join(found))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "allow_log(*regexes): lines at [alert], [crit] or [emerg] that the test "
        "provokes on purpose; the log gate lets only these through")


def pytest_report_header(config):
    return [f"greenc binary: {GREENC_BIN} (sanitized: {SANITIZED})"]

