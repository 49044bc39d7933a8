"""An organization's audit streams: where its trail is delivered, and how far delivery got."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from siem.choices import Kind, Payload


class AuditStream(models.Model):
    """One SIEM destination. The cursor is a position in the organization's seals: every event
    of seals up to `cursor_seq` (and their seal heads) was delivered, and the first
    `cursor_offset` events of the next seal (`cursor_sent` of which matched the filter).
    Delivery runs in a Celery worker under a lease (`lease_owner` until `lease_until`), so two
    workers never send the same destination at once."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # host:port for syslog; an https:// URL for a webhook or HEC.
    endpoint = models.CharField(max_length=500)
    payload = models.CharField(max_length=8, choices=Payload.choices, default=Payload.JSON)
    # Encrypted (core.crypto): the webhook's signing secret or the HEC token.
    secret = models.TextField(blank=True)
    # An extra CA to trust (PEM), for a collector with a private or self-signed certificate.
    ca_pem = models.TextField(blank=True)
    hec_index = models.CharField(max_length=100, blank=True)
    hec_sourcetype = models.CharField(max_length=100, default="governance:audit")
    hec_channel = models.CharField(max_length=36, blank=True)
    # The event filter: action names or prefixes ending in a dot (empty: every action), and
    # an outcome (allowed, denied, failed; empty: every outcome).
    actions = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=8, blank=True)
    paused = models.BooleanField(default=False)
    cursor_seq = models.PositiveIntegerField(default=0)
    cursor_offset = models.PositiveIntegerField(default=0)
    cursor_sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveBigIntegerField(default=0)
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=36, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="siem_auditstream_org_name"),
        ]
        indexes = [models.Index(fields=["paused", "next_attempt_at"], name="siem_due")]

    def __str__(self) -> str:
        return self.name
