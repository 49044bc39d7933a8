"""Where we agree to send a browser after sign-in: paths on this site, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.utils.http import url_has_allowed_host_and_scheme


def safe_local_path(value: str) -> str | None:
    """`value` if it is a path on this site, else None. Refuses absolute and scheme-relative
    URLs (`https://evil.example`, `//evil.example`), the backslash forms browsers read as
    scheme-relative (`/\\evil.example`), `javascript:` and control characters."""
    if not value or len(value) > 2000 or not value.startswith("/"):
        return None
    if (
        value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)
    ):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    if not url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return None
    return value
