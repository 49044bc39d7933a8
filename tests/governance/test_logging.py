"""A refused request is one log line; a server error keeps its traceback."""

from __future__ import annotations

import io
import logging
import sys

from core.logs import RefusalsInOneLine


def record(status: int) -> logging.LogRecord:
    try:
        raise PermissionError("nope")
    except PermissionError:
        rec = logging.LogRecord(
            "django.request", logging.WARNING, __file__, 1, "Forbidden: %s", ("/o/x/",), None
        )
        rec.exc_info = sys.exc_info()
    rec.status_code = status
    return rec


def test_a_refusal_is_logged_without_a_traceback():
    rec = record(403)
    assert RefusalsInOneLine().filter(rec) and rec.exc_info is None
    line = logging.Formatter().format(rec)
    assert line == "Forbidden: /o/x/"


def test_a_server_error_keeps_its_traceback():
    rec = record(500)
    assert RefusalsInOneLine().filter(rec) and rec.exc_info is not None
    assert "Traceback" in logging.Formatter().format(rec)


def test_a_403_page_logs_one_line_through_the_configured_console(member_client):
    """The settings' console handler (LOGGING) carries the filter: what it prints for a 403."""
    [console] = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RefusalsInOneLine) for f in h.filters)
    ]
    out = io.StringIO()
    old = console.setStream(out)
    try:
        assert member_client.get("/o/acme/members/").status_code == 403
    finally:
        console.setStream(old)
    printed = out.getvalue()
    assert "Forbidden" in printed and "Traceback" not in printed
    assert printed.count("\n") == 1
