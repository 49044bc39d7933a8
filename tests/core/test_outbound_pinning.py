"""Requests to addresses an org admin typed connect to the address that passed the private-
address check (core.outbound.fetch): a resolver that answers a public address first and an
internal one on the second lookup (DNS rebinding) cannot make the server reach the internal
host. Tested with a resolver that answers differently on the second lookup, and a real HTTP
server on loopback standing for the internal host."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from core import outbound
from core.exceptions import ValidationFailed

PUBLIC = "93.184.215.14"  # a global address (nothing listens for us there)


class Internal(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Internal.hits.append(self.headers.get("Host", ""))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"secret": "internal"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def internal():
    server = HTTPServer(("127.0.0.1", 0), Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Internal.hits = []
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def rebinding(monkeypatch):
    """idp.example is public on the first lookup and loopback afterwards."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def fake(host, port, *args, **kwargs):
        if host != "idp.example":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = PUBLIC if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


def test_a_rebinding_resolver_cannot_reach_the_internal_host(settings, internal, rebinding):
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    url = f"http://idp.example:{internal}/.well-known/openid-configuration"
    with pytest.raises(requests.RequestException):
        outbound.fetch("GET", url, what="issuer", timeout=1)
    assert rebinding == ["idp.example"]  # resolved once, at the check
    assert Internal.hits == []  # the connection went to the checked public address only


def test_unpinned_requests_would_have_reached_it(settings, internal, rebinding):
    """The attack this prevents: the check sees the public answer, a plain request re-resolves."""
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    url = f"http://idp.example:{internal}/"
    outbound.server_fetch_check(url, what="issuer")
    assert requests.get(url, timeout=2).json() == {"secret": "internal"}
    assert len(rebinding) == 2


def test_a_pinned_request_keeps_the_host_name(settings, internal, monkeypatch):
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True  # an IdP on the private network, allowed
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: real(
            "127.0.0.1" if host == "idp.example" else host, port, *a, **k
        ),
    )
    r = outbound.fetch("GET", f"http://idp.example:{internal}/keys", what="keys URL")
    assert r.json() == {"secret": "internal"}
    assert Internal.hits == [f"idp.example:{internal}"]


def test_a_private_answer_is_refused_before_connecting(settings, internal, monkeypatch):
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 80))],
    )
    with pytest.raises(ValidationFailed, match="private or local address"):
        outbound.fetch("GET", "http://idp.example/", what="issuer")
