"""Okta OAuth organization credentials (seed 001): the organization's Okta client at one
authorization server, the services (Snowflake, NetSuite, Databricks, ...) members authenticate
through it, each member's connection to a service (tokens encrypted at rest), and revocations
still owed to Okta."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from credentials.choices import ConnectionStatus


class OktaCredential(models.Model):
    """The four values of the seed's step 5, and what the server's discovery document said."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    okta_domain = models.CharField(max_length=255)  # acme.okta.com
    server_id = models.CharField(max_length=100)  # aus8x7abc123def (or "default")
    client_id = models.CharField(max_length=255)
    client_secret = models.TextField()  # core.crypto; write-only
    # From <issuer>/.well-known/oauth-authorization-server, read when saved.
    issuer = models.CharField(max_length=2048)
    authorization_endpoint = models.CharField(max_length=2048)
    token_endpoint = models.CharField(max_length=2048)
    revocation_endpoint = models.CharField(max_length=2048, blank=True)
    scopes_supported = models.JSONField(default=list, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_test_message = models.CharField(max_length=1000, blank=True)
    created_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="oktacredential_org_name"),
        ]
        indexes = [models.Index(fields=["org", "id"], name="oktacredential_org_id")]

    def __str__(self) -> str:
        return self.name


class CredentialService(models.Model):
    """A service members authenticate through a credential: its integration (whose permission
    `integrations.use.<slug>` decides who may use it), audience and scopes."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    credential = models.ForeignKey(
        OktaCredential, on_delete=models.CASCADE, related_name="services"
    )
    name = models.CharField(max_length=100)
    integration = models.CharField(max_length=32)
    audience = models.CharField(max_length=2048, blank=True)
    scopes = models.JSONField(default=list)  # the service's own, after the base scopes
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="credentialservice_org_name"),
        ]
        indexes = [models.Index(fields=["org", "id"], name="credentialservice_org_id")]

    def __str__(self) -> str:
        return self.name


class ServiceConnection(models.Model):
    """One member's tokens for one service. Refreshed under this row's lock (Okta rotates
    refresh tokens and revokes the grant when a rotated one is used again)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey("orgs.Membership", on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(
        CredentialService, on_delete=models.CASCADE, related_name="connections"
    )
    status = models.CharField(max_length=16, choices=ConnectionStatus.choices)
    access_token = models.TextField(blank=True)  # core.crypto
    refresh_token = models.TextField(blank=True)  # core.crypto
    expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list, blank=True)  # as granted
    subject = models.CharField(max_length=255, blank=True)
    connected_at = models.DateTimeField(default=timezone.now)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "service"], name="serviceconnection_member_service"
            ),
        ]
        indexes = [
            models.Index(fields=["org", "membership"], name="serviceconnection_member"),
            models.Index(fields=["status", "refreshed_at"], name="serviceconnection_refresh"),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} @ {self.service_id}"


class TokenRevocation(models.Model):
    """A token Okta has not yet confirmed revoked: kept (encrypted) only until it does, retried
    with backoff, shown to the organization's admins."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    credential = models.ForeignKey(
        OktaCredential, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    member_label = models.CharField(max_length=300)
    service_name = models.CharField(max_length=100)
    token = models.TextField()  # core.crypto
    token_type_hint = models.CharField(max_length=16)
    reason = models.CharField(max_length=100)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], name="tokenrevocation_due"),
            models.Index(fields=["org", "id"], name="tokenrevocation_org"),
        ]

    def __str__(self) -> str:
        return f"{self.token_type_hint} of {self.member_label} for {self.service_name}"
