"""SCIM state: bearer tokens and refused requests. A SCIM User is a member as the IdP describes
them (mapping.models.IdpUser), a SCIM Group an IdP group (mapping.models.IdpGroup): SCIM is the
protocol that reports them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
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
