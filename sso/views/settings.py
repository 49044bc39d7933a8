"""Settings → SSO: our SAML values with copy buttons and metadata download, IdP metadata
upload, attribute mapping, OIDC client, domains, test connection, JIT and Require SSO. One URL
per form; each calls one service and comes back to the page with what happened."""

from __future__ import annotations

import re

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from audit.selectors import AuditFilter, audit_page
from orgs import selectors as org_selectors
from orgs.access import OrgActionView, OrgView, found
from orgs.services import domains
from sso import saml_metadata, selectors
from sso.exceptions import SsoFailure
from sso.models import SsoConnection
from sso.services import config
from sso.views.finish import base_url, oidc_callback_url


class SsoSettingsView(OrgView):
    capability = "admin.sso"

    def get(self, request: HttpRequest) -> HttpResponse:
        # Nothing is written on GET: before the first save the page shows an unsaved
        # connection with its defaults, and our signing key pair does not exist yet.
        conn = selectors.sso_connection(org=self.org) or SsoConnection(org=self.org)
        urls = saml_metadata.sp_urls(base_url(request), self.org.slug)
        events, _ = audit_page(
            org=self.org, filters=AuditFilter(actions=("sso.", "domain.")), limit=15
        )
        sp_cert = (
            saml_metadata.certificate_summary(saml_metadata.pem_body(conn.sp_certificate))
            if conn.sp_certificate
            else None
        )
        return render(
            request,
            "sso/sso_settings.html",
            {
                "conn": conn,
                "urls": urls,
                "nameid_format": saml_metadata.NAMEID_FORMAT_EMAILADDRESS,
                "sp_cert": sp_cert,
                "idp_certs": [saml_metadata.certificate_summary(c) for c in conn.idp_certificates],
                "oidc_redirect_uri": oidc_callback_url(request),
                "domains": org_selectors.domain_claims(org=self.org),
                "events": events,
            },
        )


class SsoFormView(OrgActionView):
    capability = "admin.sso"
    back = "sso"


class SsoStartView(SsoFormView):
    def act(self, request: HttpRequest) -> str:
        config.sso_connection_ensure(org=self.org, actor=request.user)
        return "Our SAML signing certificate is ready: download the SP metadata."


class SamlMetadataView(SsoFormView):
    def act(self, request: HttpRequest) -> str:
        upload = request.FILES.get("metadata_file")
        xml: str | bytes = (
            upload.read(1024 * 1024 + 1) if upload else request.POST.get("metadata_xml", "")
        )
        if not xml.strip():
            raise SsoFailure("Choose the IdP metadata file (or paste its XML).")
        config.sso_saml_configure(
            org=self.org,
            metadata_xml=xml,
            keep_previous_certificate=request.POST.get("keep_previous") == "on",
            actor=request.user,
        )
        return "IdP metadata saved."


class SamlSettingsView(SsoFormView):
    def act(self, request: HttpRequest) -> str:
        config.sso_saml_settings_set(
            org=self.org,
            attributes={k: request.POST.get(k, "") for k in config.SAML_ATTRIBUTE_FIELDS},
            allow_idp_initiated=request.POST.get("allow_idp_initiated") == "on",
            actor=request.user,
        )
        return "SAML settings saved."


class OidcClientView(SsoFormView):
    def act(self, request: HttpRequest) -> str:
        secret = request.POST.get("client_secret", "")
        config.sso_oidc_configure(
            org=self.org,
            issuer=request.POST.get("issuer", ""),
            client_id=request.POST.get("client_id", ""),
            client_secret=secret or None,
            actor=request.user,
        )
        return "OIDC settings saved (discovery document read)."


class ProtocolView(SsoFormView):
    def act(self, request: HttpRequest) -> str:
        conn = config.sso_protocol_set(
            org=self.org, protocol=request.POST.get("protocol", ""), actor=request.user
        )
        return f"Members now sign in with {conn.protocol.upper() or 'passwords (SSO off)'}."


class DomainsView(SsoFormView):
    def act(self, request: HttpRequest) -> str:
        raw = request.POST.get("domains", "")
        domains.domains_set(org=self.org, domains=re.split(r"[\s,;]+", raw), actor=request.user)
        return "Domains saved. Publish each pending domain's TXT record, then verify it."


class DomainVerifyView(SsoFormView):
    def act(self, request: HttpRequest, domain: str) -> str:
        claim = found(org_selectors.domain_claim_get(org=self.org, domain=domain), "domain")
        domains.domain_verify(claim=claim, actor=request.user)
        return f"{claim.domain} is verified."


class JitView(SsoFormView):
    def act(self, request: HttpRequest) -> str:
        on = request.POST.get("enabled") == "on"
        config.sso_jit_set(org=self.org, enabled=on, actor=request.user)
        return f"Just-in-time provisioning is {'on' if on else 'off'}."


class RequireSsoView(SsoFormView):
    def act(self, request: HttpRequest) -> str:
        on = request.POST.get("enabled") == "on"
        config.sso_require_set(org=self.org, required=on, actor=request.user)
        return f"Require SSO is {'on' if on else 'off'}."


class SsoTestResultView(OrgView):
    capability = "admin.sso"

    def get(self, request: HttpRequest, key: str) -> HttpResponse:
        result = cache.get(f"sso:test:{self.org.pk}:{key[:64]}")
        if result is None:
            raise Http404("This test result has expired (results are kept for 15 minutes).")
        return render(request, "sso/sso_test_result.html", {"result": result})
