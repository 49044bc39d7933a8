"""What the SAML and OIDC doors share: which organization and connection a request is about,
what a sign-in remembers until the IdP answers, and the finish step (sign in, or show a test
result). Every failure is audited with its reason in plain words; the browser of a failed
sign-in sees a short message and the reference of that audit event."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse

from core.exceptions import ServiceError
from core.urlsafety import safe_local_path
from identity.models import User
from identity.selectors import user_get
from orgs import rbac
from orgs.access import has_admin_access, session_reaches
from orgs.models import Organization
from orgs.selectors import active_membership
from sso import selectors
from sso.assertion import SsoAssertion
from sso.exceptions import SsoFailure
from sso.middleware import SESSION_SSO_ORGS
from sso.models import SsoConnection
from sso.services import config, signin

TEST_RESULT_TTL = 900


def base_url(request: HttpRequest) -> str:
    return settings.PUBLIC_URL or f"{request.scheme}://{request.get_host()}"


def oidc_callback_url(request: HttpRequest) -> str:
    """The one redirect URI of every organization's OIDC app."""
    return base_url(request) + reverse("sso:oidc_callback")


def org_and_connection(slug: str) -> tuple[Organization, SsoConnection | None]:
    org = selectors.org_with_sso(slug)
    if org is None:
        raise Http404("No such organization.")
    return org, getattr(org, "sso", None)


def ready_connection(slug: str, protocol: str) -> tuple[Organization, SsoConnection]:
    """The org and its connection, or 404 when sign-in with `protocol` is not set up."""
    org, conn = org_and_connection(slug)
    if conn is None or not getattr(conn, f"{protocol}_ready"):
        raise Http404(f"{protocol.upper()} sign-in is not configured for this organization.")
    return org, conn


def _tester(request: HttpRequest, org: Organization) -> User:
    """A test login is started by a signed-in member allowed to manage this org's SSO."""
    if not request.user.is_authenticated:
        raise PermissionDenied("Sign in as an admin of this organization to test SSO.")
    membership = active_membership(org=org, user=request.user)
    if not session_reaches(membership, request.session):
        raise Http404("No such organization.")
    if not rbac.may(membership, "admin.sso"):
        raise PermissionDenied("Testing SSO needs the 'admin.sso' permission.")
    return request.user


def start_state(request: HttpRequest, org: Organization) -> dict[str, Any]:
    """What a sign-in remembers until the IdP answers: where to go, and whether it is a test
    (started by an admin allowed to manage SSO)."""
    test = request.GET.get("test") == "1"
    tester = _tester(request, org) if test else None
    return {
        "next": safe_local_path(request.GET.get("next", "")) or "",
        "test": test,
        "tester": tester.pk if tester else None,
    }


def finish(
    request: HttpRequest,
    *,
    org: Organization | None,
    protocol: str,
    state: dict[str, Any],
    assertion: SsoAssertion | None = None,
    failure: str | None = None,
) -> HttpResponse:
    if state.get("test") and org is not None:
        return _finish_test(
            request, org=org, protocol=protocol, state=state, assertion=assertion, failure=failure
        )
    if failure is None and assertion is not None and org is not None:
        try:
            user = signin.sso_sign_in(org=org, assertion=assertion)
        except ServiceError as exc:  # SsoFailure, or what JIT refuses (a malformed e-mail…)
            failure = exc.message
        else:
            request.login_method = protocol  # type: ignore[attr-defined]
            login(request, user, backend="sso.backends.EmailBackend")
            # login() keeps the session only for the same person: their other IdPs still count.
            vouched = request.session.get(SESSION_SSO_ORGS) or []
            request.session[SESSION_SSO_ORGS] = sorted({*vouched, org.pk})
            target = safe_local_path(state.get("next") or "") or _landing(org, user)
            return HttpResponseRedirect(target)
    event = signin.sso_failure_record(
        org=org,
        protocol=protocol,
        reason=failure or "unknown",
        detail={"subject": assertion.subject} if assertion else None,
    )
    return render(
        request,
        "sso/sso_failed.html",
        {"reference": event.pk, "org": org},
        status=403,
    )


def _landing(org: Organization, user: User) -> str:
    """Where a sign-in without a `next` lands: the org's Overview for those with an
    administrative role, their own access page for everyone else."""
    membership = active_membership(org=org, user=user)
    name = "governance:overview" if has_admin_access(membership) else "governance:me"
    return reverse(name, args=[org.slug])


def _finish_test(
    request: HttpRequest,
    *,
    org: Organization,
    protocol: str,
    state: dict[str, Any],
    assertion: SsoAssertion | None,
    failure: str | None,
) -> HttpResponse:
    """Show what the IdP sent, or why it failed; never sign anyone in."""
    tester = user_get(state.get("tester"))
    outcome = ""
    if failure is None and assertion is not None:
        try:
            user, _identity, plan = selectors.sso_resolve(org=org, assertion=assertion)
        except SsoFailure as exc:
            failure = exc.message
        else:
            outcome = {
                "known": f"signs in as {user.email} (linked before)",
                "link": f"would link to {user.email} and sign them in",
                "jit": f"would create {assertion.email} as a member (just-in-time)",
            }[plan]
    if failure is None and tester is not None:
        config.sso_test_succeeded(
            org=org, protocol=protocol, tester=tester, assertion=assertion, outcome=outcome
        )
    else:
        signin.sso_failure_record(
            org=org,
            protocol=protocol,
            reason=failure or "the admin who started the test no longer exists",
            test=True,
            detail={"subject": assertion.subject} if assertion else None,
        )
    key = secrets.token_urlsafe(16)
    cache.set(
        f"sso:test:{org.pk}:{key}",
        {
            "ok": failure is None,
            "protocol": protocol,
            "failure": failure,
            "outcome": outcome,
            "assertion": assertion.__dict__ if assertion else None,
        },
        TEST_RESULT_TTL,
    )
    return redirect("governance:sso_test_result", slug=org.slug, key=key)
