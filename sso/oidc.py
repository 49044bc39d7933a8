"""The OIDC relying party of each organization, on mozilla-django-oidc.

The library reads one provider from settings; here every org has its own. The backend and the
request view are subclassed so that `get_settings` answers from the org's connection, and one
callback URL serves every org through a state → org map kept in the session. The library checks
the signature and the nonce; it does not check `iss`, `aud`, `exp` or `azp`, so `_verify_jws`
does (PyJWT with the org's issuer and client ID, two minutes of leeway).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.core.validators import URLValidator
from django.http import HttpRequest, HttpResponse
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from core import crypto, outbound
from core.exceptions import ServiceError, ValidationFailed
from sso.exceptions import SsoFailure
from sso.models import SsoConnection

LEEWAY_SECONDS = 120
PENDING_KEY = "sso_oidc_pending"  # session: state -> {org, next, test, tester}
MAX_PENDING = 20


def discover(issuer: str) -> dict[str, str]:
    """The provider's endpoints from `<issuer>/.well-known/openid-configuration`. Read when the
    admin saves the issuer, so a typo fails on the settings page, not at the first sign-in."""
    issuer = issuer.strip().rstrip("/")
    if len(issuer) > 2048:
        raise ValidationFailed(
            f"The issuer URL has {len(issuer)} characters; at most 2048 are allowed.",
            field="issuer",
        )
    try:
        URLValidator(schemes=["https", "http"])(issuer)
    except ValidationError as exc:
        raise ValidationFailed(f"{issuer!r} is not a URL.", field="issuer") from exc
    if issuer.startswith("http://") and not settings.SSO_ALLOW_HTTP_ISSUERS:
        raise ValidationFailed(
            "The issuer must be an https:// URL (for example https://acme.okta.com).",
            field="issuer",
        )
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = outbound.fetch("GET", url, what="issuer")
        response.raise_for_status()
        doc = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ValidationFailed(
            f"Could not read the discovery document at {url} ({type(exc).__name__}). Check the "
            "issuer URL: for Okta it is https://<your-domain>.okta.com or "
            "https://<your-domain>.okta.com/oauth2/<authorization-server-id>.",
            field="issuer",
        ) from exc
    if not isinstance(doc, dict) or str(doc.get("issuer", "")).rstrip("/") != issuer:
        raise ValidationFailed(
            f"The discovery document at {url} names the issuer {doc.get('issuer')!r}, not "
            f"{issuer!r}; use exactly the issuer it names.",
            field="issuer",
        )
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [k for k in needed if not isinstance(doc.get(k), str) or not doc.get(k)]
    if missing:
        raise ValidationFailed(
            f"The discovery document lacks {', '.join(missing)}.", field="issuer"
        )
    for key in ("token_endpoint", "jwks_uri", "userinfo_endpoint"):  # fetched by this server
        if doc.get(key):
            outbound.server_fetch_check(str(doc[key]), what=key)
    algs = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
    sign_alg = "RS256" if "RS256" in algs else next((a for a in algs if a != "none"), "RS256")
    return {
        "issuer": str(doc["issuer"]),
        "authorization_endpoint": doc["authorization_endpoint"],
        "token_endpoint": doc["token_endpoint"],
        "jwks_uri": doc["jwks_uri"],
        "userinfo_endpoint": str(doc.get("userinfo_endpoint") or ""),
        "sign_alg": sign_alg,
    }


def _org_settings(conn: SsoConnection, callback_url: str) -> dict[str, Any]:
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": conn.oidc_authorization_endpoint,
        "OIDC_OP_TOKEN_ENDPOINT": conn.oidc_token_endpoint,
        "OIDC_OP_USER_ENDPOINT": conn.oidc_userinfo_endpoint,
        "OIDC_OP_JWKS_ENDPOINT": conn.oidc_jwks_uri,
        "OIDC_RP_CLIENT_ID": conn.oidc_client_id,
        "OIDC_RP_SIGN_ALGO": conn.oidc_sign_alg,
        "OIDC_RP_SCOPES": conn.oidc_scopes,
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_TIMEOUT": 10,
        "OIDC_VERIFY_KID": True,
        "OIDC_ALLOW_UNSECURED_JWT": False,
        "OIDC_REDIRECT_FIELD_NAME": "next",
        "OIDC_AUTHENTICATION_CALLBACK_URL": "sso:oidc_callback",
        "OIDC_AUTH_REQUEST_EXTRA_PARAMS": {"redirect_uri": callback_url},
    }


class OrgOIDCBackend(OIDCAuthenticationBackend):
    """The library's token exchange and JWS checks, with one org's settings."""

    def __init__(
        self, conn: SsoConnection, callback_url: str
    ) -> None:  # no super(): it reads settings
        self.conn = conn
        self.callback_url = callback_url
        self.settings = _org_settings(conn, callback_url)
        self.UserModel = get_user_model()
        self.OIDC_OP_TOKEN_ENDPOINT = conn.oidc_token_endpoint
        self.OIDC_OP_USER_ENDPOINT = conn.oidc_userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = conn.oidc_jwks_uri
        self.OIDC_RP_CLIENT_ID = conn.oidc_client_id
        self.OIDC_RP_CLIENT_SECRET = crypto.decrypt(conn.oidc_client_secret)
        self.OIDC_RP_SIGN_ALGO = conn.oidc_sign_alg
        self.OIDC_RP_IDP_SIGN_KEY = None

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        if attr in self.settings:
            return self.settings[attr]
        return import_from_settings(attr, *args)

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SsoFailure(
                f"The ID token is signed with {header.get('alg')!r}, not {self.OIDC_RP_SIGN_ALGO}."
            )
        try:
            claims = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=self.conn.oidc_issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.InvalidAudienceError as exc:
            raise SsoFailure(
                f"The ID token was issued for another client (aud is not "
                f"{self.OIDC_RP_CLIENT_ID!r})."
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise SsoFailure(
                f"The ID token's issuer is not {self.conn.oidc_issuer!r} (the configured issuer)."
            ) from exc
        except jwt.ExpiredSignatureError as exc:
            raise SsoFailure("The ID token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise SsoFailure("The ID token is not valid yet (check the IdP's clock).") from exc
        except jwt.InvalidSignatureError as exc:
            raise SsoFailure("The ID token's signature does not verify.") from exc
        except jwt.PyJWTError as exc:
            raise SsoFailure(f"The ID token is invalid ({exc}).") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SsoFailure("The ID token has several audiences and its azp is not our client.")
        return claims

    # The library's three requests, made through core.outbound.fetch: checked again at sign-in
    # (DNS may point elsewhere than when the issuer was saved) and pinned to the checked address.

    def _fetch(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            return outbound.fetch(method, url, what=what, **kwargs)
        except ServiceError as exc:
            raise SsoFailure(exc.message) from exc

    def get_token(self, payload: dict[str, Any]) -> Any:
        response = self._fetch("POST", self.OIDC_OP_TOKEN_ENDPOINT, "token endpoint", data=payload)
        self.raise_token_response_error(response)
        return response.json()

    def retrieve_matching_jwk(self, token: str) -> Any:
        response = self._fetch("GET", self.OIDC_OP_JWKS_ENDPOINT, "keys URL")
        response.raise_for_status()
        header = jwt.get_unverified_header(token)
        key = None
        for jwk in response.json()["keys"]:
            if jwk.get("kid") != header.get("kid"):
                continue
            if "alg" in jwk and jwk["alg"] != header.get("alg"):
                continue
            key = jwk
        if key is None:
            raise SuspiciousOperation("Could not find a valid JWKS.")
        return jwt.PyJWK(key)

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        response = self._fetch(
            "GET",
            self.OIDC_OP_USER_ENDPOINT,
            "userinfo endpoint",
            headers={"Authorization": f"Bearer {access_token}"},
        )
        response.raise_for_status()
        if response.headers.get("content-type", "").lower().startswith("application/jwt"):
            return self.verify_token(response.text)
        return response.json()

    def exchange(self, *, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Code → tokens (with the PKCE verifier) → verified ID token claims, or SsoFailure."""
        try:
            tokens = self.get_token(
                {
                    "client_id": self.OIDC_RP_CLIENT_ID,
                    "client_secret": self.OIDC_RP_CLIENT_SECRET,
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.callback_url,
                    "code_verifier": code_verifier,
                }
            )
        except requests.RequestException as exc:
            body = getattr(getattr(exc, "response", None), "text", "") or ""
            raise SsoFailure(
                f"The provider refused the authorization code ({body[:200] or type(exc).__name__})."
            ) from exc
        except ValueError as exc:  # not JSON
            raise SsoFailure("The provider's token response is not JSON.") from exc
        id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not id_token:
            raise SsoFailure(
                "The provider's token response has no ID token (is 'openid' a scope?)."
            )
        try:
            claims = self.verify_token(id_token, nonce=nonce)
        except (SuspiciousOperation, jwt.PyJWTError) as exc:
            raise SsoFailure(f"The ID token was refused: {exc}.") from exc
        except (KeyError, TypeError, ValueError) as exc:  # a malformed token or key set
            raise SsoFailure(
                f"The ID token or the provider's keys are malformed ({exc!r})."
            ) from exc
        except requests.RequestException as exc:
            raise SsoFailure(f"Could not read the provider's keys ({type(exc).__name__}).") from exc
        if "email" not in claims and self.OIDC_OP_USER_ENDPOINT and tokens.get("access_token"):
            try:
                info = self.get_userinfo(tokens["access_token"], id_token, claims)
            except (requests.RequestException, ValueError) as exc:
                raise SsoFailure(f"Could not read userinfo ({type(exc).__name__}).") from exc
            if info.get("sub") != claims["sub"]:
                raise SsoFailure("The userinfo response is about another subject.")
            claims = {**info, **claims}
        return claims


class OrgOIDCLoginView(OIDCAuthenticationRequestView):
    """The library's authorization request (state, nonce, PKCE S256), with one org's settings.
    The caller passes the org's connection; the view also records state → org."""

    def __init__(self, **kwargs: Any) -> None:  # the parent reads global settings here
        View.__init__(self, **kwargs)
        self.settings: dict[str, Any] = {}

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        if attr in self.settings:
            return self.settings[attr]
        return import_from_settings(attr, *args)

    def start(
        self,
        request: HttpRequest,
        conn: SsoConnection,
        *,
        callback_url: str,
        pending: dict[str, Any],
    ) -> HttpResponse:
        self.request = request
        self.settings = _org_settings(conn, callback_url)
        self.OIDC_OP_AUTH_ENDPOINT = conn.oidc_authorization_endpoint
        self.OIDC_RP_CLIENT_ID = conn.oidc_client_id
        response = self.get(request)
        state = parse_qs(urlparse(response["Location"]).query)["state"][0]
        table = request.session.get(PENDING_KEY)
        table = table if isinstance(table, dict) else {}
        if len(table) >= MAX_PENDING:  # keep the session small: drop the oldest
            for old in sorted(table, key=lambda s: table[s].get("added_on", 0))[:5]:
                table.pop(old, None)
        table[state] = {**pending, "org": conn.org_id, "added_on": time.time()}
        request.session[PENDING_KEY] = table
        return response


def pending_take(request: HttpRequest, state: str) -> tuple[dict | None, dict | None]:
    """(our entry, the library's nonce/verifier entry) for a state, removed from the session so
    that a state works once."""
    table = request.session.get(PENDING_KEY) or {}
    states = request.session.get("oidc_states") or {}
    ours = table.pop(state, None) if isinstance(table, dict) else None
    theirs = states.pop(state, None) if isinstance(states, dict) else None
    request.session[PENDING_KEY] = table
    request.session["oidc_states"] = states
    request.session.save()
    if ours is not None and time.time() - float(ours.get("added_on", 0)) > 900:
        return None, None  # a state older than 15 minutes is stale
    return ours, theirs
