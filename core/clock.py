"""A daily time of day from the environment (GOVERNANCE_RETENTION_AT), read the same way by the
settings (which refuse a bad one at start-up) and by the Celery beat schedule (which is built
while the settings are still being imported, so it cannot read them)."""

from __future__ import annotations

import os
import re

from django.core.exceptions import ImproperlyConfigured

RETENTION_AT_DEFAULT = "02:30"


def retention_at() -> tuple[int, int]:
    """(hour, minute) in UTC."""
    text = os.environ.get("GOVERNANCE_RETENTION_AT", RETENTION_AT_DEFAULT)
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise ImproperlyConfigured(
            f"GOVERNANCE_RETENTION_AT={text!r} is not a time of day; use HH:MM in UTC, "
            "for example 02:30."
        )
    hour, minute = text.split(":")
    return int(hour), int(minute)
