"""SCIM state: tokens, the provisioned view of members, and refused requests.

A SCIM User is a Membership plus the attributes the IdP owns (userName, externalId, names,
enterprise extension). A SCIM Group is an IdP group of the mapping app (mapping.models.IdpGroup).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from orgs.models import BearerCredential


class ScimToken(BearerCredential):
    """A bearer token that identifies one organization. Only an HMAC of it is stored."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="scim_tokens"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["org"], name="scimtoken_active_idx", condition=Q(revoked_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"SCIM token {self.label or self.prefix}"

    def audit_actor(self) -> tuple[str, str, str]:
        return "scim_token", str(self.pk), str(self)


class ScimUser(models.Model):
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="scim_users"
    )
    membership = models.OneToOneField(
        "orgs.Membership", on_delete=models.CASCADE, related_name="scim"
    )
    user_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    given_name = models.CharField(max_length=200, blank=True)
    family_name = models.CharField(max_length=200, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    emails = models.JSONField(default=list, blank=True)
    department = models.CharField(max_length=200, blank=True)
    manager_id = models.CharField(max_length=255, blank=True)
    employee_number = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # userName is unique per org case-insensitively: in the database, not only a check.
            models.UniqueConstraint("org", Lower("user_name"), name="scimuser_org_username_ci"),
        ]
        indexes = [
            models.Index(fields=["org", "id"], name="scimuser_org_id"),
            models.Index("org", Lower("user_name"), name="scimuser_org_username_lower"),
            models.Index(fields=["org", "external_id"], name="scimuser_org_externalid"),
        ]

    def __str__(self) -> str:
        return self.user_name


class ScimRequestError(models.Model):
    """A refused or failed SCIM request, for the dashboard's "recent errors" (refusals change
    nothing, so they leave no audit event). Pruned to 7 days."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="scim_errors"
    )
    token = models.ForeignKey(ScimToken, on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField()
    scim_type = models.CharField(max_length=32, blank=True)
    detail = models.CharField(max_length=500)

    class Meta:
        indexes = [models.Index(fields=["org", "-at"], name="scimerror_org_at")]

    def __str__(self) -> str:
        return f"{self.status} {self.method} {self.path}"
