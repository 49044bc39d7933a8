"""The SAML door: SP metadata, the AuthnRequest, and the ACS that checks the IdP's response
(sso.saml) and hands the mapped assertion to the finish step."""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.urlsafety import safe_local_path
from sso import saml, saml_client
from sso import saml_metadata as metadata
from sso.assertion import SsoAssertion
from sso.exceptions import SsoFailure
from sso.models import SsoConnection
from sso.views.finish import base_url, finish, org_and_connection, ready_connection, start_state


@require_GET
def saml_metadata(request: HttpRequest, slug: str) -> HttpResponse:
    _org, conn = org_and_connection(slug)
    if conn is None:  # made with the first save on the SSO page; a GET creates nothing
        raise Http404("SAML is not set up for this organization yet.")
    body = metadata.sp_metadata_xml(conn, metadata.sp_urls(base_url(request), slug))
    response = HttpResponse(body, content_type="application/samlmetadata+xml")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="governance-{slug}-sp.xml"'
    return response


@require_GET
@never_cache
def saml_login(request: HttpRequest, slug: str) -> HttpResponse:
    org, conn = ready_connection(slug, "saml")
    urls = metadata.sp_urls(base_url(request), slug)
    request_id, location = saml_client.authn_request_create(
        conn, urls, state=start_state(request, org)
    )
    response = HttpResponseRedirect(location)
    # The IdP's answer comes back as a cross-site POST, which carries only SameSite=None
    # cookies: this one says which requests this browser started, so a response obtained in
    # another browser (an attacker's own sign-in) cannot sign this one in (login CSRF).
    response.set_cookie(
        saml_client.BROWSER_COOKIE,
        saml_client.browser_cookie_value(
            request.COOKIES.get(saml_client.BROWSER_COOKIE, ""), request_id
        ),
        max_age=saml_client.REQUEST_TTL,
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
    org, conn = ready_connection(slug, "saml")
    urls = metadata.sp_urls(base_url(request), slug)
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
            state = saml_client.request_consume(org.pk, hint_id)
        if relay and safe_local_path(relay) is None:
            raise SsoFailure(f"RelayState {relay[:100]!r} is not a path on this site; refused.")
        root = saml.precheck(xml)
        in_response_to = root.get("InResponseTo") or ""
        if in_response_to != hint_id:
            state = saml_client.request_consume(org.pk, in_response_to) if in_response_to else None
        if in_response_to:
            if state is None:
                raise SsoFailure(
                    "InResponseTo does not match a sign-in request we sent (unknown, expired "
                    "after 10 minutes, or already answered)."
                )
            if not saml_client.browser_started(
                request.COOKIES.get(saml_client.BROWSER_COOKIE, ""), in_response_to
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


def saml_assertion(conn: SsoConnection, result: saml.SamlResult) -> SsoAssertion:
    """The mapped values: attribute names come from the org's attribute mapping."""

    def first(name: str) -> str:
        values = result.attributes.get(name) or []
        return values[0] if values else ""

    email = first(conn.attr_email)
    if not email and "@" in result.name_id:
        email = result.name_id
    return SsoAssertion(
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
