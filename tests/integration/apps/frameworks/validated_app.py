"""A framework's app behind a validator, for test_framework_validators.py.

$GREENC_VALIDATED names the app ("flask_full:app"); the location's script_name
picks the validator:

    /wsgiref/...   wsgiref.validate.validator(app)
    /lint/...      werkzeug.middleware.lint.LintMiddleware(app)

Every complaint is appended to $GREENC_PROBLEMS, which the test asserts stays
empty, where it is made: a framework catches what its view raises and answers
500, so a complaint about wsgi.input inside a view would otherwise be lost.
That is each validator warning (shown, not raised: recorded by the warnings
hook), each failed check of wsgiref's validator (its assert_), anything the
validators raise at the call, while iterating or in close(), and any
"unraisable" exception (a validator's __del__ check). Other warnings (a
framework's own deprecations) are left alone: they are not about WSGI.
"""

import importlib
import os
import sys
import traceback
import warnings
from wsgiref import validate

from werkzeug.middleware import lint

PROBLEMS = os.environ["GREENC_PROBLEMS"]
WARNINGS = (validate.WSGIWarning, lint.WSGIWarning, lint.HTTPWarning)
PROBLEM_TYPES = WARNINGS + (AssertionError,)


def record_problem(kind, text):
    with open(PROBLEMS, "a") as f:
        f.write(f"--- {kind} (pid {os.getpid()})\n{text}\n")


for _category in WARNINGS:
    warnings.simplefilter("always", _category)
_show = warnings.showwarning


def _showwarning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, WARNINGS):
        stack = "".join(traceback.format_stack(limit=12))
        record_problem(f"{category.__name__}: {message}", stack)
    else:
        _show(message, category, filename, lineno, file, line)


warnings.showwarning = _showwarning
_assert = validate.assert_


def _recorded_assert(cond, *args):
    if not cond:
        record_problem(f"wsgiref.validate: {args}", "".join(traceback.format_stack(limit=12)))
    _assert(cond, *args)


validate.assert_ = _recorded_assert


def _unraisable(u):
    text = "".join(traceback.format_exception(u.exc_type, u.exc_value, u.exc_traceback))
    record_problem(f"unraisable in {u.object!r}", text)


sys.unraisablehook = _unraisable


class Recording:
    """Records what a validator raises wherever it surfaces, then lets it propagate."""

    def __init__(self, app, name):
        self.app, self.name = app, name

    def __call__(self, environ, start_response):
        where = f"{self.name} {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
        try:
            result = self.app(environ, start_response)
        except PROBLEM_TYPES:
            record_problem(f"{where}: call", traceback.format_exc())
            raise
        return RecordingIterable(result, where)


class RecordingIterable:
    def __init__(self, result, where):
        self.result, self.where = result, where

    def __iter__(self):
        try:
            yield from self.result
        except PROBLEM_TYPES:
            record_problem(f"{self.where}: iteration", traceback.format_exc())
            raise

    def close(self):
        try:
            if hasattr(self.result, "close"):
                self.result.close()
        except PROBLEM_TYPES:
            record_problem(f"{self.where}: close", traceback.format_exc())
            raise


_module, _attr = os.environ["GREENC_VALIDATED"].split(":")
inner = getattr(importlib.import_module(_module), _attr)
VALIDATED = {"/wsgiref": Recording(validate.validator(inner), "wsgiref.validate"),
             "/lint": Recording(lint.LintMiddleware(inner), "werkzeug lint")}


def application(environ, start_response):
    app = VALIDATED.get(environ.get("SCRIPT_NAME", ""))
    if app is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"),
                                         ("Content-Length", "13")])
        return [b"no validator\n"]
    return app(environ, start_response)
