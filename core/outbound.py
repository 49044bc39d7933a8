"""Connections this server makes to addresses an organization's admin typed (OIDC discovery,
token, keys and userinfo; SIEM destinations; Okta credentials and MCP upstreams next): TLS only,
and never to a private or local address (SSRF) unless the deployment's setting for that door
admits its own network.

`fetch()` is the one way to make such an HTTP request and `checked_address()` the one way to
resolve a host for a raw TLS connection (syslog): the host is resolved once, every address is
checked, and the connection goes to exactly the address checked (the TLS handshake still names
and verifies the host). Resolving again at connect time would let DNS rebinding swap a public
answer for an internal one between the check and the connection."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest

from core.exceptions import ValidationFailed


@dataclass(frozen=True)
class Reach:
    """What one door may connect to: private addresses (`private`), plain http (`http`), and
    the setting that widens it, named in a refusal so the admin knows what to change."""

    private: bool
    http: bool
    setting: str
    field: str


def sso_reach() -> Reach:
    """OIDC discovery, token, keys and userinfo. GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS admits an
    IdP on a private network; GOVERNANCE_SSO_ALLOW_HTTP_ISSUERS admits http:// (the tests'
    loopback)."""
    return Reach(
        private=settings.SSO_ALLOW_PRIVATE_ISSUERS,
        http=settings.SSO_ALLOW_HTTP_ISSUERS,
        setting="GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS",
        field="issuer",
    )


def siem_reach() -> Reach:
    """SIEM destinations: TLS always; a collector on the deployment's own network needs
    GOVERNANCE_SIEM_ALLOW_PRIVATE_DESTINATIONS=1."""
    return Reach(
        private=settings.SIEM_ALLOW_PRIVATE_DESTINATIONS,
        http=False,
        setting="GOVERNANCE_SIEM_ALLOW_PRIVATE_DESTINATIONS",
        field="endpoint",
    )


def checked_addresses(host: str, port: int, *, what: str, reach: Reach) -> list[str]:
    """Every address `host` resolves to, once; refused (ValidationFailed) when it does not
    resolve or when any address is private or local and the door does not admit those."""
    try:
        infos = socket.getaddrinfo(host or "", port)
    except (OSError, UnicodeError) as exc:
        raise ValidationFailed(
            f"The host of the {what} ({host}) does not resolve.", field=reach.field
        ) from exc
    addresses = list(dict.fromkeys(info[4][0].split("%", 1)[0] for info in infos))
    if reach.private:
        return addresses
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not address.is_global:
            raise ValidationFailed(
                f"The {what} {host!r} resolves to {address}, a private or local address; we "
                f"do not connect to those. For a server on your own network, set "
                f"{reach.setting}=1.",
                field=reach.field,
            )
    return addresses


def pick(addresses: list[str]) -> str:
    """The address to connect to: IPv4 first (the one checked, never a fresh DNS answer)."""
    return next((a for a in addresses if ":" not in a), addresses[0])


def server_fetch_check(url: str, *, what: str, reach: Reach | None = None) -> list[str]:
    """A URL this server will fetch must be https:// (http:// only where the door admits it)
    and resolve only to addresses the door may reach: an org admin must not make us read the
    cloud metadata service or an internal host (SSRF)."""
    reach = reach or sso_reach()
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and reach.http):
        raise ValidationFailed(f"The {what} {url!r} must be an https:// URL.", field=reach.field)
    default_port = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ValidationFailed(
            f"The {what} {url!r} has an invalid port.", field=reach.field
        ) from exc
    return checked_addresses(parts.hostname or "", port, what=what, reach=reach)


class PinnedAdapter(HTTPAdapter):
    """Connects to the address each host was checked at, never to a fresh DNS answer; TLS
    still sends the host name (SNI) and verifies the certificate against it."""

    def __init__(self, pins: dict[str, str], ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(max_retries=0)
        self.pins = pins
        self.ssl_context = ssl_context

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
            if self.ssl_context is not None:
                pool_kwargs["ssl_context"] = self.ssl_context
        return host_params, pool_kwargs

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        request.headers["Host"] = urlsplit(request.url or "").netloc
        return super().send(request, **kwargs)


def fetch(
    method: str,
    url: str,
    *,
    what: str,
    timeout: float = 5,
    reach: Reach | None = None,
    ssl_context: ssl.SSLContext | None = None,
    **kwargs: Any,
) -> Any:
    """Make a request to an address an admin typed: checked (https, addresses the door may
    reach) and pinned to the checked address. No redirects (a redirect would name an unchecked
    host), no proxies from the environment. `ssl_context` adds the admin's own CA (a SIEM
    collector's self-signed certificate). Raises ValidationFailed for a refused URL and
    requests' exceptions for network failures."""
    addresses = server_fetch_check(url, what=what, reach=reach)
    host = (urlsplit(url).hostname or "").lower()
    session = requests.Session()
    session.trust_env = False
    adapter = PinnedAdapter({host: pick(addresses)}, ssl_context)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    with session:
        return session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
