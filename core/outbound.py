"""Requests this server makes to addresses an organization's admin typed (OIDC discovery,
token, keys and userinfo today; Okta credentials, SIEM webhooks and MCP upstreams next): https
only, and never to a private or local address (SSRF).

`fetch()` is the one way to make such a request: it resolves the host once, checks every address,
and connects to exactly the address it checked (the TLS handshake still names and verifies the
host). Resolving again at connect time would let DNS rebinding swap a public answer for an
internal one between the check and the connection."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest

from core.exceptions import ValidationFailed


def server_fetch_check(url: str, *, what: str) -> list[str]:
    """A URL this server will fetch (discovery, token, keys, userinfo) must be https:// and
    resolve only to public addresses: an org admin must not make us read the cloud metadata
    service or an internal host (SSRF). GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS admits an IdP on a
    private network; GOVERNANCE_SSO_ALLOW_HTTP_ISSUERS admits http:// (the tests' loopback)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.SSO_ALLOW_HTTP_ISSUERS):
        raise ValidationFailed(f"The {what} {url!r} must be an https:// URL.", field="issuer")
    default_port = 443 if parts.scheme == "https" else 80
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or default_port)
    except (OSError, UnicodeError) as exc:
        raise ValidationFailed(
            f"The host of the {what} ({parts.hostname}) does not resolve.", field="issuer"
        ) from exc
    addresses = list(dict.fromkeys(info[4][0].split("%", 1)[0] for info in infos))
    if settings.SSO_ALLOW_PRIVATE_ISSUERS:
        return addresses
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not address.is_global:
            raise ValidationFailed(
                f"The {what} {url!r} resolves to {address}, a private or local address; we "
                "do not fetch from those. For an IdP on your own network, set "
                "GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS=1.",
                field="issuer",
            )
    return addresses


class PinnedAdapter(HTTPAdapter):
    """Connects to the address each host was checked at, never to a fresh DNS answer; TLS
    still sends the host name (SNI) and verifies the certificate against it."""

    def __init__(self, pins: dict[str, str]) -> None:
        super().__init__(max_retries=0)
        self.pins = pins

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        host = str(host_params["host"]).lower()
        address = self.pins.get(host)
        if address is None:
            raise requests.ConnectionError(f"{host} was not checked; refusing to connect.")
        host_params["host"] = address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host
            pool_kwargs["assert_hostname"] = host
        return host_params, pool_kwargs

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        request.headers["Host"] = urlsplit(request.url or "").netloc
        return super().send(request, **kwargs)


def fetch(method: str, url: str, *, what: str, timeout: float = 5, **kwargs: Any) -> Any:
    """Make a request to an address an admin typed: checked (https, public addresses) and
    pinned to the checked address. No redirects (a redirect would name an unchecked host), no
    proxies from the environment. Raises ValidationFailed for a refused URL and requests'
    exceptions for network failures."""
    addresses = server_fetch_check(url, what=what)
    host = (urlsplit(url).hostname or "").lower()
    session = requests.Session()
    session.trust_env = False
    pinned = next((a for a in addresses if ":" not in a), addresses[0])  # IPv4 first
    adapter = PinnedAdapter({host: pinned})
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    with session:
        return session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
