"""The OIDC door: the authorization request (code flow with PKCE, state and nonce) and the one
callback every organization shares (sso.oidc checks the ID token)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sso import oidc, selectors
from sso.assertion import SsoAssertion
from sso.exceptions import SsoFailure
from sso.views.finish import finish, oidc_callback_url, ready_connection, start_state


@require_GET
@never_cache
def oidc_login(request: HttpRequest, slug: str) -> HttpResponse:
    org, conn = ready_connection(slug, "oidc")
    return oidc.OrgOIDCLoginView().start(
        request, conn, callback_url=oidc_callback_url(request), pending=start_state(request, org)
    )


@require_GET
@never_cache
def oidc_callback(request: HttpRequest) -> HttpResponse:
    state_param = request.GET.get("state", "")[:200]
    ours, theirs = oidc.pending_take(request, state_param) if state_param else (None, None)
    org = selectors.org_with_sso_by_id(ours["org"]) if ours else None
    conn = getattr(org, "sso", None) if org else None
    state = ours or {}
    try:
        if ours is None or theirs is None or org is None:
            raise SsoFailure(
                "The state parameter does not match a sign-in started in this browser (unknown, "
                "stale or already used)."
            )
        if request.GET.get("error"):
            raise SsoFailure(
                f"The provider answered {request.GET.get('error')[:100]!r}: "
                f"{request.GET.get('error_description', '')[:300]}"
            )
        if conn is None or not conn.oidc_ready:
            raise SsoFailure("OIDC is no longer configured for this organization.")
        code = request.GET.get("code", "")
        if not code:
            raise SsoFailure("The provider's redirect carries no authorization code.")
        backend = oidc.OrgOIDCBackend(conn, oidc_callback_url(request))
        backend.request = request
        claims = backend.exchange(
            code=code, code_verifier=theirs.get("code_verifier") or "", nonce=theirs["nonce"]
        )
        assertion = SsoAssertion(
            protocol="oidc",
            issuer=conn.oidc_issuer,
            subject=str(claims["sub"]),
            email=str(claims.get("email") or "").strip().lower(),
            email_verified=claims.get("email_verified") is True,
            first_name=str(claims.get("given_name") or ""),
            last_name=str(claims.get("family_name") or ""),
            groups=[str(g) for g in claims.get("groups") or []][:200]
            if isinstance(claims.get("groups"), list)
            else [],
            raw={"claims": {k: v for k, v in claims.items() if k not in ("nonce", "at_hash")}},
        )
    except SsoFailure as exc:
        return finish(request, org=org, protocol="oidc", state=state, failure=exc.message)
    return finish(request, org=org, protocol="oidc", state=state, assertion=assertion)
