"""SSO endpoints (SAML metadata, login, ACS; OIDC login and callback), the shared finish step
(sign in, or show a test result), and the dashboard's SSO page.

These are interfaces: they translate protocol messages into an `SsoAssertion`, call one service,
and translate the outcome back. Every failure is audited with its reason in plain words; the
browser of a failed sign-in sees a short message and the reference of that audit event.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from audit.selectors import AuditFilter, audit_page
from governance import rbac
from governance.access import OrgView, has_admin_access
from governance.exceptions import ServiceError
from governance.models import Membership, Organization
from identity import oidc, saml, services
from identity.exceptions import SsoFailure
from identity.models import SsoConnection, SsoDomain
from identity.urlsafety import safe_local_path

SESSION_SSO_ORGS = "sso_org_ids"  # orgs whose IdP vouched for this session
TEST_RESULT_TTL = 900


def base_url(request: HttpRequest) -> str:
    return settings.PUBLIC_URL or f"{request.scheme}://{request.get_host()}"


def _org_and_connection(slug: str) -> tuple[Organization, SsoConnection | None]:
    org = Organization.objects.filter(slug=slug).select_related("sso").first()
    if org is None:
        raise Http404("No such organization.")
    return org, getattr(org, "sso", None)


def _ready_connection(slug: str, protocol: str) -> tuple[Organization, SsoConnection]:
    """The org and its connection, or 404 when sign-in with `protocol` is not set up."""
    org, conn = _org_and_connection(slug)
    if conn is None or not getattr(conn, f"{protocol}_ready"):
        raise Http404(f"{protocol.upper()} sign-in is not configured for this organization.")
    return org, conn


def _tester(request: HttpRequest, org: Organization) -> Any:
    """A test login is started by a signed-in member allowed to manage this org's SSO."""
    if not request.user.is_authenticated:
        raise PermissionDenied("Sign in as an admin of this organization to test SSO.")
    membership = Membership.objects.filter(org=org, user=request.user, is_active=True).first()
    if membership is None:
        raise Http404("No such organization.")
    if not rbac.may(membership, "admin.sso"):
        raise PermissionDenied("Testing SSO needs the 'admin.sso' permission.")
    return request.user


def _start_state(request: HttpRequest, org: Organization) -> dict[str, Any]:
    """What a sign-in remembers until the IdP answers: where to go, and whether it is a test
    (started by an admin allowed to manage SSO)."""
    test = request.GET.get("test") == "1"
    tester = _tester(request, org) if test else None
    return {
        "next": safe_local_path(request.GET.get("next", "")) or "",
        "test": test,
        "tester": tester.pk if tester else None,
    }


# --- the shared finish step ------------------------------------------------------------------


def finish(
    request: HttpRequest,
    *,
    org: Organization | None,
    protocol: str,
    state: dict[str, Any],
    assertion: services.SsoAssertion | None = None,
    failure: str | None = None,
) -> HttpResponse:
    if state.get("test") and org is not None:
        return _finish_test(
            request, org=org, protocol=protocol, state=state, assertion=assertion, failure=failure
        )
    if failure is None and assertion is not None and org is not None:
        try:
            user = services.sso_sign_in(org=org, assertion=assertion)
        except ServiceError as exc:  # SsoFailure, or what JIT refuses (a malformed e-mail…)
            failure = exc.message
        else:
            request.login_method = protocol  # type: ignore[attr-defined]
            login(request, user, backend="identity.backends.EmailBackend")
            # login() keeps the session only for the same person: their other IdPs still count.
            vouched = request.session.get(SESSION_SSO_ORGS) or []
            request.session[SESSION_SSO_ORGS] = sorted({*vouched, org.pk})
            target = safe_local_path(state.get("next") or "") or _landing(org, user)
            return HttpResponseRedirect(target)
    event = services.sso_failure_record(
        org=org,
        protocol=protocol,
        reason=failure or "unknown",
        detail={"subject": assertion.subject} if assertion else None,
    )
    return render(
        request,
        "identity/sso_failed.html",
        {"reference": event.pk, "org": org},
        status=403,
    )


def _landing(org: Organization, user: Any) -> str:
    """Where a sign-in without a `next` lands: the org's Overview for those with an
    administrative role, their own access page for everyone else."""
    membership = Membership.objects.get(org=org, user=user)
    name = "governance:overview" if has_admin_access(membership) else "governance:me"
    return reverse(name, args=[org.slug])


def _finish_test(
    request: HttpRequest,
    *,
    org: Organization,
    protocol: str,
    state: dict[str, Any],
    assertion: services.SsoAssertion | None,
    failure: str | None,
) -> HttpResponse:
    """Show what the IdP sent, or why it failed; never sign anyone in."""
    from identity.models import User

    tester = User.objects.filter(pk=state.get("tester")).first()
    outcome = ""
    if failure is None and assertion is not None:
        try:
            user, _identity, plan = services.sso_resolve(org=org, assertion=assertion)
        except SsoFailure as exc:
            failure = exc.message
        else:
            outcome = {
                "known": f"signs in as {user.email} (linked before)",
                "link": f"would link to {user.email} and sign them in",
                "jit": f"would create {assertion.email} as a member (just-in-time)",
            }[plan]
    if failure is None and tester is not None:
        services.sso_test_succeeded(
            org=org, protocol=protocol, tester=tester, assertion=assertion, outcome=outcome
        )
    else:
        services.sso_failure_record(
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


# --- SAML -------------------------------------------------------------------------------------


@require_GET
def saml_metadata(request: HttpRequest, slug: str) -> HttpResponse:
    org, conn = _org_and_connection(slug)
    if conn is None:
        conn = services.sso_connection_ensure(org=org, actor=None)
    body = saml.sp_metadata_xml(conn, saml.sp_urls(base_url(request), slug))
    response = HttpResponse(body, content_type="application/samlmetadata+xml")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="governance-{slug}-sp.xml"'
    return response


@require_GET
@never_cache
def saml_login(request: HttpRequest, slug: str) -> HttpResponse:
    org, conn = _ready_connection(slug, "saml")
    urls = saml.sp_urls(base_url(request), slug)
    request_id, location = saml.authn_request_create(conn, urls, state=_start_state(request, org))
    response = HttpResponseRedirect(location)
    # The IdP's answer comes back as a cross-site POST, which carries only SameSite=None
    # cookies: this one says which requests this browser started, so a response obtained in
    # another browser (an attacker's own sign-in) cannot sign this one in (login CSRF).
    response.set_cookie(
        saml.BROWSER_COOKIE,
        saml.browser_cookie_value(request.COOKIES.get(saml.BROWSER_COOKIE, ""), request_id),
        max_age=saml.REQUEST_TTL,
        path="/sso/saml/",
        secure=True,
        httponly=True,
        samesite="None",
    )
    return response


_IN_RESPONSE_TO = re.compile(rb'InResponseTo="([A-Za-z0-9_\-.:]{1,200})"')


@csrf_exempt  # the IdP posts here cross-site; the response's signature is the proof
@require_POST
@never_cache
def saml_acs(request: HttpRequest, slug: str) -> HttpResponse:
    org, conn = _ready_connection(slug, "saml")
    urls = saml.sp_urls(base_url(request), slug)
    state: dict[str, Any] | None = None
    assertion = None
    xml = b""
    try:
        relay = request.POST.get("RelayState", "")
        xml = saml.decode_response(request.POST.get("SAMLResponse", ""))
        # Found before the checks only so that a failed *test* still reaches its result page.
        hint = _IN_RESPONSE_TO.search(xml[:4096])
        hint_id = hint.group(1).decode() if hint else ""
        if hint_id:
            state = saml.request_consume(org.pk, hint_id)
        if relay and safe_local_path(relay) is None:
            raise SsoFailure(f"RelayState {relay[:100]!r} is not a path on this site; refused.")
        root = saml.precheck(xml)
        in_response_to = root.get("InResponseTo") or ""
        if in_response_to != hint_id:
            state = saml.request_consume(org.pk, in_response_to) if in_response_to else None
        if in_response_to:
            if state is None:
                raise SsoFailure(
                    "InResponseTo does not match a sign-in request we sent (unknown, expired "
                    "after 10 minutes, or already answered)."
                )
            if not saml.browser_started(
                request.COOKIES.get(saml.BROWSER_COOKIE, ""), in_response_to
            ):
                raise SsoFailure(
                    "This browser did not start the sign-in this response answers (a response "
                    "from another browser is refused: login CSRF). Start again from the "
                    "sign-in page; the browser must accept cookies."
                )
        elif not conn.allow_idp_initiated:
            raise SsoFailure(
                "This is an IdP-initiated (unsolicited) response and the organization does not "
                "allow IdP-initiated sign-in. Start from our sign-in page, or allow it on the "
                "SSO page."
            )
        result = saml.validate_response(conn, urls, xml, root, outstanding=state)
        if not saml.assertion_remember(org.pk, result):
            raise SsoFailure("This assertion was used before (a replayed response); refused.")
        assertion = saml_assertion(conn, result)
        if state is None:  # IdP-initiated: go where the IdP's RelayState says, if local
            state = {"next": safe_local_path(relay) or ""}
    except SsoFailure as exc:
        return finish(request, org=org, protocol="saml", state=state or {}, failure=exc.message)
    return finish(request, org=org, protocol="saml", state=state, assertion=assertion)


def saml_assertion(conn: SsoConnection, result: saml.SamlResult) -> services.SsoAssertion:
    """The mapped values: attribute names come from the org's attribute mapping."""

    def first(name: str) -> str:
        values = result.attributes.get(name) or []
        return values[0] if values else ""

    email = first(conn.attr_email)
    if not email and "@" in result.name_id:
        email = result.name_id
    return services.SsoAssertion(
        protocol="saml",
        issuer=result.issuer,
        subject=result.name_id,
        email=email.strip().lower(),
        email_verified=True,  # the org's own IdP; trusted only for the domains the org claims
        first_name=first(conn.attr_first_name),
        last_name=first(conn.attr_last_name),
        groups=list(result.attributes.get(conn.attr_groups) or []) if conn.attr_groups else [],
        raw={"name_id_format": result.name_id_format, "attributes": result.attributes},
    )


# --- OIDC -------------------------------------------------------------------------------------


def _oidc_callback_url(request: HttpRequest) -> str:
    return base_url(request) + reverse("identity:oidc_callback")


@require_GET
@never_cache
def oidc_login(request: HttpRequest, slug: str) -> HttpResponse:
    org, conn = _ready_connection(slug, "oidc")
    return oidc.OrgOIDCLoginView().start(
        request, conn, callback_url=_oidc_callback_url(request), pending=_start_state(request, org)
    )


@require_GET
@never_cache
def oidc_callback(request: HttpRequest) -> HttpResponse:
    state_param = request.GET.get("state", "")[:200]
    ours, theirs = oidc.pending_take(request, state_param) if state_param else (None, None)
    org = (
        Organization.objects.filter(pk=ours["org"]).select_related("sso").first() if ours else None
    )
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
        backend = oidc.OrgOIDCBackend(conn, _oidc_callback_url(request))
        backend.request = request
        claims = backend.exchange(
            code=code, code_verifier=theirs.get("code_verifier") or "", nonce=theirs["nonce"]
        )
        assertion = services.SsoAssertion(
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


# --- the dashboard page ---------------------------------------------------------------------


class SsoSettingsView(OrgView):
    """Settings → SSO: our SAML values with copy buttons and metadata download, IdP metadata
    upload, attribute mapping, OIDC client, domains, test connection, JIT and Require SSO."""

    capability = "admin.sso"

    def get(self, request: HttpRequest) -> HttpResponse:
        conn = services.sso_connection_ensure(org=self.org, actor=request.user)
        urls = saml.sp_urls(base_url(request), self.org.slug)
        events, _ = audit_page(org=self.org, filters=AuditFilter(action="sso."), limit=15)
        return render(
            request,
            "identity/sso_settings.html",
            {
                "conn": conn,
                "urls": urls,
                "nameid_format": saml.NAMEID_FORMAT_EMAILADDRESS,
                "sp_cert": saml.certificate_summary(saml.pem_body(conn.sp_certificate)),
                "idp_certs": [saml.certificate_summary(c) for c in conn.idp_certificates],
                "oidc_redirect_uri": _oidc_callback_url(request),
                "domains": list(SsoDomain.objects.filter(org=self.org)),
                "events": events,
            },
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("action", "")
        handler = getattr(self, f"do_{action}", None) if re.fullmatch(r"[a-z_]+", action) else None
        if handler is None:
            messages.error(request, f"Unknown action {action[:40]!r}.")
            return redirect("governance:sso", slug=self.org.slug)
        try:
            done = handler(request)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done)
        return redirect("governance:sso", slug=self.org.slug)

    def do_saml_metadata(self, request: HttpRequest) -> str:
        upload = request.FILES.get("metadata_file")
        xml: str | bytes = (
            upload.read(1024 * 1024 + 1) if upload else request.POST.get("metadata_xml", "")
        )
        if not xml.strip():
            raise SsoFailure("Choose the IdP metadata file (or paste its XML).")
        services.sso_saml_configure(
            org=self.org,
            metadata_xml=xml,
            keep_previous_certificate=request.POST.get("keep_previous") == "on",
            actor=request.user,
        )
        return "IdP metadata saved."

    def do_saml_settings(self, request: HttpRequest) -> str:
        services.sso_saml_settings_set(
            org=self.org,
            attributes={k: request.POST.get(k, "") for k in services.SAML_ATTRIBUTE_FIELDS},
            allow_idp_initiated=request.POST.get("allow_idp_initiated") == "on",
            actor=request.user,
        )
        return "SAML settings saved."

    def do_oidc(self, request: HttpRequest) -> str:
        secret = request.POST.get("client_secret", "")
        services.sso_oidc_configure(
            org=self.org,
            issuer=request.POST.get("issuer", "")[:2048],
            client_id=request.POST.get("client_id", "")[:300],
            client_secret=secret[:2000] if secret else None,
            actor=request.user,
        )
        return "OIDC settings saved (discovery document read)."

    def do_protocol(self, request: HttpRequest) -> str:
        conn = services.sso_protocol_set(
            org=self.org, protocol=request.POST.get("protocol", ""), actor=request.user
        )
        return f"Members now sign in with {conn.protocol.upper() or 'passwords (SSO off)'}."

    def do_domains(self, request: HttpRequest) -> str:
        raw = request.POST.get("domains", "")[:20000]
        services.sso_domains_set(
            org=self.org, domains=re.split(r"[\s,;]+", raw), actor=request.user
        )
        return "Domains saved."

    def do_jit(self, request: HttpRequest) -> str:
        on = request.POST.get("enabled") == "on"
        services.sso_jit_set(org=self.org, enabled=on, actor=request.user)
        return f"Just-in-time provisioning is {'on' if on else 'off'}."

    def do_require(self, request: HttpRequest) -> str:
        on = request.POST.get("enabled") == "on"
        services.sso_require_set(org=self.org, required=on, actor=request.user)
        return f"Require SSO is {'on' if on else 'off'}."


class SsoTestResultView(OrgView):
    capability = "admin.sso"

    def get(self, request: HttpRequest, key: str) -> HttpResponse:
        result = cache.get(f"sso:test:{self.org.pk}:{key[:64]}")
        if result is None:
            raise Http404("This test result has expired (results are kept for 15 minutes).")
        return render(request, "identity/sso_test_result.html", {"result": result})
