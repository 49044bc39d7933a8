"""Requests this server makes to addresses an organization's admin typed (OIDC discovery,
token, keys and userinfo today): https only, and never to a private or local address (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from core.exceptions import ValidationFailed


def server_fetch_check(url: str, *, what: str) -> None:
    """A URL this server will fetch (discovery, token, keys, userinfo) must be https:// and
    resolve only to public addresses: an org admin must not make us read the cloud metadata
    service or an internal host (SSRF). GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS admits an IdP on a
    private network; GOVERNANCE_SSO_ALLOW_HTTP_ISSUERS admits http:// (the tests' loopback)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.SSO_ALLOW_HTTP_ISSUERS):
        raise ValidationFailed(f"The {what} {url!r} must be an https:// URL.", field="issuer")
    if settings.SSO_ALLOW_PRIVATE_ISSUERS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443)
    except (OSError, UnicodeError) as exc:
        raise ValidationFailed(
            f"The host of the {what} ({parts.hostname}) does not resolve.", field="issuer"
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global:
            raise ValidationFailed(
                f"The {what} {url!r} resolves to {address}, a private or local address; we "
                "do not fetch from those. For an IdP on your own network, set "
                "GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS=1.",
                field="issuer",
            )
