"""Logging that says what happened without burying it."""

from __future__ import annotations

import logging


class RefusalsInOneLine(logging.Filter):
    """A refused request (403, 404, 405: someone asked for what they may not have or what is not
    there) is one log line; Django attaches the exception's traceback, which says nothing here.
    Server errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
