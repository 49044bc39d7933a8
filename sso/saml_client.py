"""pysaml2's client for each organization (built from its connection, cached per org and
connection version), and the SP-initiated requests it sends: each remembered until answered, and
tied to the browser that started it (login CSRF)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import threading
from typing import Any

from django.core.cache import cache
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from core import crypto
from sso.models import SsoConnection
from sso.saml_metadata import SpUrls, idp_metadata_xml

MAX_SKEW = dt.timedelta(seconds=120)  # clock difference tolerated with the IdP
REQUEST_TTL = 600  # seconds an SP-initiated request stays answerable


# --- pysaml2 clients, cached per org and version ------------------------------------------


class _NoIdentityCache:
    """pysaml2 keeps every subject it has seen in memory; we keep nothing there."""

    def set(self, *args: Any, **kwargs: Any) -> None:
        return None


_clients: dict[int, tuple[tuple[int, str, str], Saml2Client]] = {}
_clients_lock = threading.Lock()
_key_dir: str | None = None


def _private_dir() -> str:
    """A 0700 directory of this process for the key files xmlsec1 reads."""
    global _key_dir
    if _key_dir is None:
        _key_dir = tempfile.mkdtemp(prefix="governance-saml-")
        os.chmod(_key_dir, 0o700)
    return _key_dir


def _write_private(name: str, content: str) -> str:
    path = os.path.join(_private_dir(), name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
    return path


def client_for(conn: SsoConnection, urls: SpUrls) -> Saml2Client:
    """The org's pysaml2 client, built once per (org, config version, base URL)."""
    # The version changes on every edit; the digest also covers what the client is built from,
    # so a reused org id (a restored database, a test run) never meets a stale client.
    digest = hashlib.sha256(
        "\0".join(
            [conn.idp_entity_id, conn.idp_sso_url, *conn.idp_certificates, conn.sp_certificate]
        ).encode()
    ).hexdigest()
    stamp = (conn.version, urls.entity_id, digest)
    with _clients_lock:
        hit = _clients.get(conn.org_id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    tag = hashlib.sha256(f"{conn.org_id}:{digest}".encode()).hexdigest()
    key_file = _write_private(f"{tag[:24]}.key", crypto.decrypt(conn.sp_private_key))
    cert_file = _write_private(f"{tag[:24]}.crt", conn.sp_certificate)
    config = SPConfig()
    config.load(
        {
            "entityid": urls.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": key_file,
            "cert_file": cert_file,
            "metadata": {
                "inline": [
                    idp_metadata_xml(conn.idp_entity_id, conn.idp_sso_url, conn.idp_certificates)
                ]
            },
            "accepted_time_diff": int(MAX_SKEW.total_seconds()),
            "allow_unknown_attributes": True,
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(urls.acs, BINDING_HTTP_POST)]},
                    "allow_unsolicited": True,  # our own InResponseTo check runs first
                    "authn_requests_signed": True,
                    "want_response_signed": False,
                    "want_assertions_signed": False,
                    "want_assertions_or_response_signed": True,
                    "only_use_keys_in_metadata": True,
                    "signing_algorithm": SIG_RSA_SHA256,
                    "digest_algorithm": DIGEST_SHA256,
                    "name_id_format": NAMEID_FORMAT_UNSPECIFIED,
                    "name_id_format_allow_create": True,
                }
            },
        }
    )
    client = Saml2Client(config, identity_cache=_NoIdentityCache())
    with _clients_lock:
        _clients[conn.org_id] = (stamp, client)
    return client


# --- SP-initiated requests ------------------------------------------------------------------


def _request_key(org_id: int, request_id: str) -> str:
    digest = hashlib.sha256(request_id.encode()).hexdigest()
    return f"sso:saml:request:{org_id}:{digest}"


BROWSER_COOKIE = "gov_saml"  # digests of the requests this browser started (login CSRF guard)


def request_digest(request_id: str) -> str:
    return hashlib.sha256(f"saml-request\0{request_id}".encode()).hexdigest()[:32]


def browser_cookie_value(current: str, request_id: str) -> str:
    """The cookie after starting `request_id`: the five most recent digests."""
    digests = [d for d in current.split(".") if re.fullmatch(r"[0-9a-f]{32}", d)][-4:]
    return ".".join([*digests, request_digest(request_id)])


def browser_started(cookie: str, request_id: str) -> bool:
    return request_digest(request_id) in cookie.split(".")


def authn_request_create(
    conn: SsoConnection, urls: SpUrls, *, state: dict[str, Any]
) -> tuple[str, str]:
    """A signed AuthnRequest (HTTP-Redirect, RSA-SHA256); returns (request ID, the IdP URL to
    send the browser to). `state` (next path, test mode) is kept server-side under the ID."""
    client = client_for(conn, urls)
    request_id, info = client.prepare_for_authenticate(
        entityid=conn.idp_entity_id,
        relay_state=state.get("next") or "/",
        binding=BINDING_HTTP_REDIRECT,
        sign=True,
        sigalg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    cache.set(_request_key(conn.org_id, request_id), state, REQUEST_TTL)
    return request_id, dict(info["headers"])["Location"]


def request_consume(org_id: int, request_id: str) -> dict[str, Any] | None:
    """The state of an outstanding request, once: a second answer to it finds nothing."""
    key = _request_key(org_id, request_id)
    state = cache.get(key)
    if state is None or not cache.delete(key):
        return None
    return state
