"""Password sign-in throttling: failures are counted per e-mail and per client IP in the cache
(Redis in production) over a fixed window. Counted the same for unknown and known addresses, so
the limit reveals nothing about which exist."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    keys = [(f"signin:fail:email:{digest}", settings.SIGNIN_MAX_FAILURES_PER_EMAIL)]
    if ip:
        keys.append((f"signin:fail:ip:{ip}", settings.SIGNIN_MAX_FAILURES_PER_IP))
    return keys


def signin_blocked(email: str, ip: str | None) -> bool:
    counts = cache.get_many([k for k, _ in _keys(email, ip)])
    return any(counts.get(k, 0) >= limit for k, limit in _keys(email, ip))


def signin_failed(email: str, ip: str | None) -> None:
    for key, _ in _keys(email, ip):
        if not cache.add(key, 1, settings.SIGNIN_FAILURE_WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, settings.SIGNIN_FAILURE_WINDOW_SECONDS)


def signin_succeeded(email: str) -> None:
    cache.delete(_keys(email, None)[0][0])
