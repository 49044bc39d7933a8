"""Input as every door receives it (URL segments, query strings, form fields, JSON values,
command arguments), read in one place, so that what is not a valid value is a clear refusal,
never a server error:

- ids and counts: ASCII digits only (`int()` also reads `٣` and refuses `²`, which
  `str.isdigit()` accepts), a bounded number of them (no 100,000-digit number reaches `int()`);
- date-times: ISO 8601, naive ones in UTC, and only those that exist in UTC (an offset of
  +23:59 on 0001-01-01 is before the year 1 there);
- text: no NUL character (PostgreSQL text cannot hold one) and no unpaired surrogate (not
  Unicode: it cannot be encoded as UTF-8, so nothing can store or send it)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

from django.utils.dateparse import parse_datetime

from core.exceptions import ValidationFailed

MAX_ID = 2**63 - 1
_MAX_DIGITS = 19


def ascii_digits(value: object, *, signed: bool = False, clamp: bool = False) -> int | None:
    """An integer written with ASCII digits (and a leading '-' when `signed`); None otherwise.
    With `clamp`, a number too long to be an id is read as ±(2**63 - 1) instead of refused
    (paging parameters: a start past every row is an empty page, not an error)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    negative = signed and text.startswith("-")
    digits = text[1:] if negative else text
    if not digits or not (digits.isascii() and digits.isdigit()):
        return None
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        return (-MAX_ID if negative else MAX_ID) if clamp else None
    return int(text)


def as_id(value: object) -> int | None:
    """An id from a URL, form or JSON body; None for anything that is not a positive integer."""
    number = ascii_digits(value)
    return number if number is not None and 0 < number <= MAX_ID else None


def uuid_or_none(value: object) -> uuid.UUID | None:
    """A UUID from a URL or JSON value; None for anything that is not one."""
    if not isinstance(value, str | uuid.UUID) or len(str(value)) > 64:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def parse_instant(raw: object) -> dt.datetime | None:
    """An ISO date-time (or date, meaning its midnight) as an aware UTC value; None for
    anything else, including values with offsets that put them outside the years 1 to 9999."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > 64:
        return None
    try:
        value = parse_datetime(text) or parse_datetime(text + "T00:00")
    except ValueError:
        return None
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        return None


def text_problem(value: str) -> str | None:
    """What makes this text unstorable, in words; None when it is fine."""
    if "\x00" in value:
        return "a NUL character (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired surrogate (U+D800 to U+DFFF), which is not Unicode text"
    return None


def unstorable_text(data: Any, where: str = "$") -> tuple[str, str] | None:
    """The first string in a JSON-like value (keys included) that cannot be stored: (where,
    what), `where` as a JSON path such as $.name.givenName or $.emails[0].value."""
    for path, text in _strings(data, where):
        problem = text_problem(text)
        if problem:
            return path, problem
    return None


def _strings(data: Any, where: str) -> Iterator[tuple[str, str]]:
    stack: list[tuple[str, Any]] = [(where, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key)
                yield f"{path} (a key)", key_text
                stack.append((f"{path}.{key_text}", item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))


def storable(text: str) -> str:
    """Text made storable for logs that must keep what was sent (the SCIM error log): a NUL or
    an unpaired surrogate becomes U+FFFD."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def clean_line(value: object, *, field: str, what: str, max_length: int) -> str:
    """One line of text as stored: runs of whitespace become one space, and text longer than
    the column is refused with the limit, never cut short after the fact."""
    text = " ".join(str(value or "").split())
    if len(text) > max_length:
        raise ValidationFailed(
            f"The {what} has {len(text)} characters; at most {max_length} are allowed. "
            "Shorten it and save again.",
            field=field,
        )
    return text


def clean_block(value: object, *, field: str, what: str, max_length: int) -> str:
    """Text kept as written (trimmed), refused when longer than the column."""
    text = str(value or "").strip()
    if len(text) > max_length:
        raise ValidationFailed(
            f"The {what} has {len(text)} characters; at most {max_length} are allowed.",
            field=field,
        )
    return text
