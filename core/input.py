"""Ids as every door receives them (URL segments, form fields, JSON values): parsed in one
place, so that an id that is not one is "not found", never a server error."""

from __future__ import annotations

import uuid


def as_id(value: object) -> int | None:
    """An id from a URL, form or JSON body; None for anything that is not a positive integer."""
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number < 2**63 else None


def uuid_or_none(value: object) -> uuid.UUID | None:
    """A UUID from a URL or JSON value; None for anything that is not one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
