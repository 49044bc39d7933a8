"""Single sign-on state: each organization's connection (SAML IdP, OIDC provider, policy),
its claimed e-mail domains, and the IdP identities linked to users."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# Okta's attribute statement names; Entra's claim URIs are offered on the SSO page.
DEFAULT_SAML_ATTRIBUTES = {
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "groups": "groups",
}


class SsoConnection(models.Model):
    """An organization's single sign-on: a SAML IdP, an OIDC provider, or both configured, with
    `protocol` naming the one its members sign in with. `version` goes up on every change, which
    is what invalidates the parsed configs cached in each process."""

    org = models.OneToOneField("orgs.Organization", on_delete=models.CASCADE, related_name="sso")
    protocol = models.CharField(max_length=8, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    # SAML: our side (per-org signing key pair; the private key is encrypted at rest)
    sp_private_key = models.TextField(blank=True, default="")
    sp_certificate = models.TextField(blank=True, default="")
    # SAML: the IdP, from its metadata
    idp_metadata_xml = models.TextField(blank=True, default="")
    idp_entity_id = models.CharField(max_length=1024, blank=True, default="")
    idp_sso_url = models.CharField(max_length=2048, blank=True, default="")
    idp_certificates = models.JSONField(default=list, blank=True)  # base64 DER, at most two
    attr_email = models.CharField(max_length=300, default=DEFAULT_SAML_ATTRIBUTES["email"])
    attr_first_name = models.CharField(
        max_length=300, default=DEFAULT_SAML_ATTRIBUTES["first_name"]
    )
    attr_last_name = models.CharField(max_length=300, default=DEFAULT_SAML_ATTRIBUTES["last_name"])
    attr_groups = models.CharField(max_length=300, default=DEFAULT_SAML_ATTRIBUTES["groups"])
    allow_idp_initiated = models.BooleanField(default=False)
    saml_tested_at = models.DateTimeField(null=True, blank=True)
    # OIDC (endpoints come from the issuer's discovery document, read when the issuer is saved)
    oidc_issuer = models.CharField(max_length=2048, blank=True, default="")
    oidc_client_id = models.CharField(max_length=300, blank=True, default="")
    oidc_client_secret = models.TextField(blank=True, default="")  # encrypted
    oidc_authorization_endpoint = models.CharField(max_length=2048, blank=True, default="")
    oidc_token_endpoint = models.CharField(max_length=2048, blank=True, default="")
    oidc_jwks_uri = models.CharField(max_length=2048, blank=True, default="")
    oidc_userinfo_endpoint = models.CharField(max_length=2048, blank=True, default="")
    oidc_sign_alg = models.CharField(max_length=10, default="RS256")
    oidc_scopes = models.CharField(max_length=300, default="openid email profile")
    oidc_tested_at = models.DateTimeField(null=True, blank=True)
    # Policy
    jit_enabled = models.BooleanField(default=False)
    require_sso = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"SSO of {self.org_id}"

    @property
    def saml_ready(self) -> bool:
        return bool(self.idp_entity_id and self.idp_sso_url and self.idp_certificates)

    @property
    def oidc_ready(self) -> bool:
        return bool(
            self.oidc_issuer
            and self.oidc_client_id
            and self.oidc_authorization_endpoint
            and self.oidc_token_endpoint
            and self.oidc_jwks_uri
        )

    def tested_at(self, protocol: str) -> object:
        return self.saml_tested_at if protocol == "saml" else self.oidc_tested_at

    @property
    def active(self) -> bool:
        """Does sign-in go through the IdP? (a protocol is chosen and configured)"""
        return (self.protocol == "saml" and self.saml_ready) or (
            self.protocol == "oidc" and self.oidc_ready
        )


class SsoIdentity(models.Model):
    """Who the IdP says someone is: (org, IdP entity ID or issuer, NameID or sub) → user. Never
    the e-mail the IdP asserts: that only links a new identity, once, to a verified address."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="sso_identities"
    )
    issuer = models.CharField(max_length=1024)
    subject = models.CharField(max_length=1024)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org", "issuer", "subject"], name="ssoidentity_org_issuer_subject"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
