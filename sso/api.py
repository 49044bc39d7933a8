"""REST API (/api/v1/sso/...) for single sign-on: every setting of the SSO page, readable and
writable by automation (Terraform-style), through the same services and checks as the page
(Require SSO still needs a passed test login; a domain routes nobody until verified).
Authenticated by API key; needs the `admin.sso` capability."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound
from orgs import selectors as org_selectors
from orgs.api.views import OrgAPIView
from orgs.models import DomainClaim
from orgs.services import domains
from sso import saml_metadata, selectors
from sso.models import SsoConnection
from sso.services import config
from sso.views.finish import base_url, oidc_callback_url

SAML_ATTRIBUTES = {
    "email": "attr_email",
    "first_name": "attr_first_name",
    "last_name": "attr_last_name",
    "groups": "attr_groups",
}

SETTINGS = inline_serializer(
    "SsoSettings",
    {
        "protocol": serializers.ChoiceField(choices=["saml", "oidc"], allow_null=True),
        "jit_enabled": serializers.BooleanField(),
        "require_sso": serializers.BooleanField(),
        "domains": serializers.ListField(child=serializers.DictField()),
        "saml": serializers.DictField(),
        "oidc": serializers.DictField(),
        "tests": serializers.DictField(),
    },
)


def _domain(claim: DomainClaim) -> dict[str, Any]:
    return {
        "domain": claim.domain,
        "status": claim.status,
        "txt_record": {"name": claim.domain, "type": "TXT", "value": claim.txt_value},
        "verified_at": claim.verified_at,
        "verified_method": claim.verified_method or None,
        "checked_at": claim.checked_at,
        "check_error": claim.check_error or None,
    }


def sso_state(request: Request, org: Any) -> dict[str, Any]:
    """Everything the SSO page shows, as JSON. Reading writes nothing (no connection, no key
    pair, until the first write)."""
    conn = selectors.sso_connection(org=org) or SsoConnection(org=org)
    urls = saml_metadata.sp_urls(base_url(request), org.slug)
    return {
        "protocol": conn.protocol or None,
        "jit_enabled": conn.jit_enabled,
        "require_sso": conn.require_sso,
        "domains": [_domain(c) for c in org_selectors.domain_claims(org=org)],
        "saml": {
            "ready": conn.saml_ready,
            "sp": {
                "entity_id": urls.entity_id,
                "acs_url": urls.acs,
                "metadata_url": urls.metadata,
                "nameid_format": saml_metadata.NAMEID_FORMAT_EMAILADDRESS,
                "signing_certificate": bool(conn.sp_certificate),
            },
            "idp": {
                "entity_id": conn.idp_entity_id or None,
                "sso_url": conn.idp_sso_url or None,
                "certificates": [
                    saml_metadata.certificate_summary(c) for c in conn.idp_certificates
                ],
            },
            "attributes": {key: getattr(conn, field) for key, field in SAML_ATTRIBUTES.items()},
            "allow_idp_initiated": conn.allow_idp_initiated,
        },
        "oidc": {
            "ready": conn.oidc_ready,
            "issuer": conn.oidc_issuer or None,
            "client_id": conn.oidc_client_id or None,
            "client_secret_set": bool(conn.oidc_client_secret),  # never shown
            "redirect_uri": oidc_callback_url(request),
            "authorization_endpoint": conn.oidc_authorization_endpoint or None,
            "token_endpoint": conn.oidc_token_endpoint or None,
            "jwks_uri": conn.oidc_jwks_uri or None,
            "userinfo_endpoint": conn.oidc_userinfo_endpoint or None,
        },
        "tests": {
            # A test login runs in a browser, signed in as an admin (the page's buttons).
            "saml_passed_at": conn.saml_tested_at,
            "oidc_passed_at": conn.oidc_tested_at,
            "saml_test_url": f"{urls.login}?test=1",
            "oidc_test_url": f"{base_url(request)}/sso/oidc/{org.slug}/login/?test=1",
        },
    }


class SsoAPIView(OrgAPIView):
    capability = "admin.sso"

    def state(self) -> Response:
        return Response(sso_state(self.request, self.org))


class SsoSettingsAPIView(SsoAPIView):
    @extend_schema(responses=SETTINGS)
    def get(self, request: Request) -> Response:
        return self.state()


class SsoStartAPIView(SsoAPIView):
    @extend_schema(request=None, responses=SETTINGS)
    def post(self, request: Request) -> Response:
        """Create the connection and our SAML signing key pair (the page's first save)."""
        config.sso_connection_ensure(org=self.org, actor=self.actor)
        return self.state()


class ProtocolSerializer(serializers.Serializer):
    protocol = serializers.ChoiceField(choices=["", "saml", "oidc"], allow_blank=True)


class SsoProtocolAPIView(SsoAPIView):
    @extend_schema(request=ProtocolSerializer, responses=SETTINGS)
    def put(self, request: Request) -> Response:
        """ "saml" or "oidc" (configured first), or "" for passwords (SSO off)."""
        data = self.valid(ProtocolSerializer)
        config.sso_protocol_set(org=self.org, protocol=data["protocol"], actor=self.actor)
        return self.state()


class EnabledSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class SsoJitAPIView(SsoAPIView):
    @extend_schema(request=EnabledSerializer, responses=SETTINGS)
    def put(self, request: Request) -> Response:
        data = self.valid(EnabledSerializer)
        config.sso_jit_set(org=self.org, enabled=data["enabled"], actor=self.actor)
        return self.state()


class SsoRequireAPIView(SsoAPIView):
    @extend_schema(request=EnabledSerializer, responses=SETTINGS)
    def put(self, request: Request) -> Response:
        """Require SSO: refused (400) until a test login of the chosen protocol passed."""
        data = self.valid(EnabledSerializer)
        config.sso_require_set(org=self.org, required=data["enabled"], actor=self.actor)
        return self.state()


class DomainsSerializer(serializers.Serializer):
    domains = serializers.ListField(child=serializers.CharField(max_length=253), max_length=50)


class SsoDomainsAPIView(SsoAPIView):
    @extend_schema(request=DomainsSerializer, responses=SETTINGS)
    def put(self, request: Request) -> Response:
        """The claimed domains as a whole: new ones are pending (publish each TXT record),
        missing ones are released."""
        data = self.valid(DomainsSerializer)
        domains.domains_set(org=self.org, domains=data["domains"], actor=self.actor)
        return self.state()


class SsoDomainVerifyAPIView(SsoAPIView):
    @extend_schema(request=None, responses=SETTINGS)
    def post(self, request: Request, domain: str) -> Response:
        """Look the TXT record up now; 400 saying what DNS holds when it is not there."""
        claim = org_selectors.domain_claim_get(org=self.org, domain=domain[:253])
        if claim is None:
            raise NotFound("This organization has not claimed that domain.")
        domains.domain_verify(claim=claim, actor=self.actor)
        return self.state()


class SamlMetadataSerializer(serializers.Serializer):
    metadata_xml = serializers.CharField(max_length=1_000_000, trim_whitespace=False)
    keep_previous_certificate = serializers.BooleanField(default=False)


class SsoSamlMetadataAPIView(SsoAPIView):
    @extend_schema(request=SamlMetadataSerializer, responses=SETTINGS)
    def put(self, request: Request) -> Response:
        """Trust the IdP in this metadata (Okta's or Entra's federation metadata XML)."""
        data = self.valid(SamlMetadataSerializer)
        config.sso_saml_configure(
            org=self.org,
            metadata_xml=data["metadata_xml"],
            keep_previous_certificate=data["keep_previous_certificate"],
            actor=self.actor,
        )
        return self.state()


class SamlSettingsSerializer(serializers.Serializer):
    attributes = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=300),
        required=False,
        help_text="email, first_name, last_name, groups: the SAML attribute names",
    )
    allow_idp_initiated = serializers.BooleanField(required=False)

    def validate_attributes(self, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(SAML_ATTRIBUTES))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown attribute(s) {', '.join(unknown)}; use {', '.join(SAML_ATTRIBUTES)}."
            )
        return value


class SsoSamlSettingsAPIView(SsoAPIView):
    @extend_schema(request=SamlSettingsSerializer, responses=SETTINGS)
    def put(self, request: Request) -> Response:
        """Attribute mapping and IdP-initiated sign-in; what is left out keeps its value."""
        data = self.valid(SamlSettingsSerializer)
        conn = selectors.sso_connection(org=self.org) or SsoConnection(org=self.org)
        config.sso_saml_settings_set(
            org=self.org,
            attributes={SAML_ATTRIBUTES[k]: v for k, v in data.get("attributes", {}).items()},
            allow_idp_initiated=data.get("allow_idp_initiated", conn.allow_idp_initiated),
            actor=self.actor,
        )
        return self.state()


class OidcSerializer(serializers.Serializer):
    issuer = serializers.CharField(max_length=2048)
    client_id = serializers.CharField(max_length=300)
    client_secret = serializers.CharField(
        max_length=2000, required=False, help_text="leave out to keep the stored secret"
    )


class SsoOidcAPIView(SsoAPIView):
    @extend_schema(request=OidcSerializer, responses=SETTINGS)
    def put(self, request: Request) -> Response:
        """Save the OIDC client; the issuer's discovery document is read first (400 when it
        cannot be, or names another issuer). The secret is write-only."""
        data = self.valid(OidcSerializer)
        config.sso_oidc_configure(
            org=self.org,
            issuer=data["issuer"],
            client_id=data["client_id"],
            client_secret=data.get("client_secret"),
            actor=self.actor,
        )
        return self.state()
