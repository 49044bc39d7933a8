"""Bearer secrets (API keys, SCIM tokens): minted, hashed, looked up and touched in one place.

A secret looks like `<kind><prefix>_<random>`. The prefix is public and indexed (it finds the
row); only an HMAC-SHA256 of the whole secret is stored, and it is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone

M = TypeVar("M", bound=models.Model)
_NO_MATCH = "0" * 64


def token_hash(secret: str) -> str:
    """Keyed hash of a bearer secret: fast to check, useless without the key."""
    return hmac.new(settings.TOKEN_HASH_KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()


def mint(kind: str) -> tuple[str, str, str]:
    """(prefix, secret, hash) for a new secret of this kind (e.g. 'gov_', 'scim_')."""
    prefix = secrets.token_hex(6)
    secret = f"{kind}{prefix}_{secrets.token_urlsafe(32)}"
    return prefix, secret, token_hash(secret)


def prefix_of(kind: str, secret: str) -> str:
    """The public prefix of a secret of this kind ("" for a secret of another kind)."""
    return secret[len(kind) :].split("_", 1)[0] if secret.startswith(kind) else ""


def lookup(fetch: Callable[[str], M | None], kind: str, secret: str) -> M | None:
    """The row whose hash matches `secret`, or None; `fetch(prefix)` reads the row with that
    public prefix. Hashes even when the prefix is unknown, so timing does not tell known
    prefixes apart."""
    prefix = prefix_of(kind, secret)
    row = fetch(prefix) if prefix else None
    expected = getattr(row, "key_hash", _NO_MATCH)
    if hmac.compare_digest(expected, token_hash(secret)) and row is not None:
        return row
    return None


def touch_last_used(obj: models.Model) -> None:
    """Keep "last used" fresh to the minute. Not audited: it is bookkeeping of use, and a write
    per request would cost more than it tells."""
    now = timezone.now()
    last = obj.last_used_at  # type: ignore[attr-defined]
    if last is None or (now - last).total_seconds() > 60:
        type(obj).objects.filter(pk=obj.pk).update(last_used_at=now)
        obj.last_used_at = now  # type: ignore[attr-defined]
