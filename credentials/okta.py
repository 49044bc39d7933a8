"""Talking to the organization's Okta authorization server, through Authlib's OAuth 2.0 client
(grants, PKCE, refresh, revocation) on a requests session that only reaches the addresses the
SSRF guard checked (core.outbound, the SSO door's setting: GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS).

Okta's answers are read back in words: an admin who sees "invalid_client" should be told to
check the client secret, not left with the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings

from core import outbound
from core.crypto import decrypt
from core.exceptions import ValidationFailed

TIMEOUT = 10

# What each OAuth error code means for whoever set the credential up (Okta's wording in quotes
# comes with the code in `description`).
EXPLAINED = {
    "invalid_client": (
        "Okta refused the client ID or the client secret. Copy both again from the Okta app's "
        "Client Credentials section (Applications > your app > General)."
    ),
    "unauthorized_client": (
        "The Okta app may not use this grant type. In the app's General Settings, under Grant "
        "type, check Client Credentials (and Authorization Code and Refresh Token), then save."
    ),
    "invalid_scope": (
        "The authorization server does not allow a scope that was asked for. Add it on the "
        "server's Scopes tab and to the rule of its access policy (Security > API > "
        "Authorization Servers)."
    ),
    "access_denied": (
        "No rule of the authorization server's access policies lets this app use this grant "
        "with these scopes. Add a rule for the app on the Access Policies tab."
    ),
    "invalid_grant": (
        "Okta no longer accepts this grant (the refresh token expired, was revoked, or was "
        "already used). The member must authenticate the service again."
    ),
    "unsupported_grant_type": "The authorization server does not support this grant type.",
    "invalid_request": "Okta refused the request as malformed.",
}


class OktaError(Exception):
    """Okta answered with an OAuth error, or did not answer."""

    def __init__(self, code: str, description: str = "") -> None:
        self.code = code
        self.description = description
        super().__init__(self.message)

    @property
    def message(self) -> str:
        said = f' Okta said: {self.code}: "{self.description}".' if self.description else ""
        if self.code == "unreachable":
            return f"Okta could not be reached ({self.description})."
        code = self.code
        if "grant type" in self.description.lower() and code in (
            "invalid_request",
            "invalid_grant",
        ):
            code = "unauthorized_client"  # how some servers word a grant type the app lacks
        if code not in EXPLAINED:
            return f"Okta answered {self.code}.{said}"
        return f"{EXPLAINED[code]}{said}"


def _scheme() -> str:
    return "http" if settings.SSO_ALLOW_HTTP_ISSUERS else "https"


def clean_domain(value: Any) -> str:
    """`acme.okta.com` (a scheme or a trailing slash is dropped)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("okta_domain is required (for example acme.okta.com).")
    domain = value.strip()
    for prefix in ("https://", "http://"):
        if domain.lower().startswith(prefix):
            domain = domain[len(prefix) :]
    domain = domain.rstrip("/")
    parts = urlsplit(f"//{domain}")
    if not parts.hostname or parts.path or parts.query or "@" in domain or len(domain) > 255:
        raise ValidationFailed(
            f"okta_domain {value!r} is not a host name (for example acme.okta.com).",
            field="okta_domain",
        )
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ValidationFailed(f"okta_domain {value!r} has an invalid port.") from exc
    return domain.lower()


def issuer_of(domain: str, server_id: str) -> str:
    return f"{_scheme()}://{domain}/oauth2/{server_id}"


def discover(domain: str, server_id: str) -> dict[str, Any]:
    """The authorization server's endpoints, from its discovery document."""
    issuer = issuer_of(domain, server_id)
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = outbound.fetch("GET", url, what="Okta domain", timeout=TIMEOUT)
        response.raise_for_status()
        doc = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ValidationFailed(
            f"Could not read the authorization server's discovery document at {url} "
            f"({type(exc).__name__}). Check the Okta domain and the authorization server ID "
            "(the part after /oauth2/ in the server's Issuer URI).",
            field="server_id",
        ) from exc
    if not isinstance(doc, dict) or str(doc.get("issuer", "")).rstrip("/") != issuer:
        named = doc.get("issuer") if isinstance(doc, dict) else None
        raise ValidationFailed(
            f"The discovery document at {url} names the issuer {named!r}, not {issuer!r}.",
            field="server_id",
        )
    found: dict[str, Any] = {"issuer": issuer}
    for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        value = doc.get(key)
        if key != "revocation_endpoint" and not (isinstance(value, str) and value):
            raise ValidationFailed(f"The discovery document at {url} lacks {key}.")
        if isinstance(value, str) and value:
            if key != "authorization_endpoint":  # fetched by this server
                outbound.server_fetch_check(value, what=key)
            found[key] = value
    scopes = doc.get("scopes_supported")
    found["scopes_supported"] = [s for s in scopes if isinstance(s, str)] if scopes else []
    return found


def _session(credential: Any, **kwargs: Any) -> OAuth2Session:
    """Authlib's client, reaching only the token and revocation endpoints' checked addresses."""
    pins = {}
    for url in (credential.token_endpoint, credential.revocation_endpoint):
        if url:
            host = (urlsplit(url).hostname or "").lower()
            pins[host] = outbound.pick(outbound.server_fetch_check(url, what="Okta endpoint"))
    session = OAuth2Session(
        client_id=credential.client_id,
        client_secret=decrypt(credential.client_secret),
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
        default_timeout=TIMEOUT,
        **kwargs,
    )
    session.trust_env = False
    adapter = outbound.PinnedAdapter(pins)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except OAuthError as exc:
        raise OktaError(exc.error or "error", exc.description or "") from exc
    except requests.RequestException as exc:
        raise OktaError("unreachable", type(exc).__name__) from exc
    except ValueError as exc:  # not JSON, or not an OAuth answer
        raise OktaError("invalid_response", "the answer was not an OAuth 2.0 response") from exc


def client_credentials(credential: Any, scopes: list[str]) -> dict[str, Any]:
    """A client-credentials grant: proves the client ID and secret (and the policy)."""
    with _session(credential, scope=" ".join(scopes) or None) as session:
        return _call(
            session.fetch_token,
            credential.token_endpoint,
            grant_type="client_credentials",
            allow_redirects=False,
        )


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    verifier: str


def authorization(
    credential: Any, scopes: list[str], redirect_uri: str, *, prompt: str | None = None
) -> Authorization:
    """Where to send the member's browser: authorization code with PKCE (S256) and state."""
    from authlib.common.security import generate_token

    verifier = generate_token(64)
    state = generate_token(32)
    extra = {"prompt": prompt} if prompt else {}
    with OAuth2Session(
        client_id=credential.client_id,
        scope=" ".join(scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    ) as session:
        url, _ = session.create_authorization_url(
            credential.authorization_endpoint, state=state, code_verifier=verifier, **extra
        )
    return Authorization(url=url, state=state, verifier=verifier)


def exchange(credential: Any, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
    with _session(credential, redirect_uri=redirect_uri) as session:
        return _call(
            session.fetch_token,
            credential.token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            allow_redirects=False,
        )


def refresh(credential: Any, refresh_token: str, scopes: list[str] | None = None) -> dict[str, Any]:
    extra = {"scope": " ".join(scopes)} if scopes else {}
    with _session(credential) as session:
        return _call(
            session.refresh_token,
            credential.token_endpoint,
            refresh_token=refresh_token,
            allow_redirects=False,
            **extra,
        )


def revoke(credential: Any, token: str, hint: str) -> None:
    """Revokes at Okta (RFC 7009): a 200 means revoked, or unknown to Okta already."""
    if not credential.revocation_endpoint:
        raise OktaError("unsupported", "the authorization server has no revocation endpoint")
    with _session(credential) as session:
        response = _call(
            session.revoke_token,
            credential.revocation_endpoint,
            token=token,
            token_type_hint=hint,
            allow_redirects=False,
        )
    if response.status_code != 200:
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise OktaError(
            str(body.get("error") or f"HTTP {response.status_code}"),
            str(body.get("error_description") or ""),
        )
