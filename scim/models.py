"""SCIM state: tokens, and the provisioned view of members and IdP groups.

A SCIM User is a Membership plus the attributes the IdP owns (userName, externalId, names,
enterprise extension). A SCIM Group is an IdP group: the mapping engine turns its members into
custom roles and teams; the group itself grants nothing.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from governance.models import BearerCredential
from scim.choices import Direction, SyncStatus, SyncTrigger


class ScimToken(BearerCredential):
    """A bearer token that identifies one organization. Only an HMAC of it is stored."""

    org = models.ForeignKey(
        "governance.Organization", on_delete=models.CASCADE, related_name="scim_tokens"
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
        "governance.Organization", on_delete=models.CASCADE, related_name="scim_users"
    )
    membership = models.OneToOneField(
        "governance.Membership", on_delete=models.CASCADE, related_name="scim"
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


class ScimGroup(models.Model):
    scim_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(
        "governance.Organization", on_delete=models.CASCADE, related_name="scim_groups"
    )
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["org", "id"], name="scimgroup_org_id"),
            models.Index("org", Lower("display_name"), name="scimgroup_org_name_lower"),
        ]

    def __str__(self) -> str:
        return self.display_name


class ScimGroupMember(models.Model):
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(ScimUser, on_delete=models.CASCADE, related_name="group_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="scimgroupmember_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class ScimRequestError(models.Model):
    """A refused or failed SCIM request, for the dashboard's "recent errors" (refusals change
    nothing, so they leave no audit event). Pruned to 7 days."""

    org = models.ForeignKey(
        "governance.Organization", on_delete=models.CASCADE, related_name="scim_errors"
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


class MappingSettings(models.Model):
    """Per organization and direction: "Use mapping table" (default on). The row is also the
    lock every sync of the organization takes, so syncs never interleave."""

    org = models.OneToOneField(
        "governance.Organization", on_delete=models.CASCADE, related_name="mapping_settings"
    )
    roles_use_table = models.BooleanField(default=True)
    teams_use_table = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"mapping settings of {self.org_id}"

    def use_table(self, direction: str) -> bool:
        return bool(getattr(self, f"{direction}_use_table"))


class GroupMapping(models.Model):
    """One row of a direction's mapping table: this IdP group grants this role (or team)."""

    org = models.ForeignKey(
        "governance.Organization", on_delete=models.CASCADE, related_name="group_mappings"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices)
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="mappings")
    role = models.ForeignKey(
        "governance.CustomRole", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        "governance.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(direction=Direction.ROLES, role__isnull=False, team__isnull=True)
                    | Q(direction=Direction.TEAMS, team__isnull=False, role__isnull=True)
                ),
                name="groupmapping_target_matches_direction",
            ),
            models.UniqueConstraint(
                fields=["org", "direction", "group", "role", "team"],
                name="groupmapping_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["org", "direction"], name="groupmapping_org_dir")]

    def __str__(self) -> str:
        return f"{self.group_id} -> {self.role_id or self.team_id}"

    @property
    def target_id(self) -> int:
        return self.role_id if self.direction == Direction.ROLES else self.team_id


class MappingSyncJob(models.Model):
    """A full sync of one organization's members (both directions), run by Celery in chunks;
    the dashboard shows its progress and result."""

    org = models.ForeignKey(
        "governance.Organization", on_delete=models.CASCADE, related_name="mapping_jobs"
    )
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices)
    status = models.CharField(max_length=8, choices=SyncStatus.choices, default=SyncStatus.QUEUED)
    requested_by = models.CharField(max_length=300, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    members_changed = models.PositiveIntegerField(default=0)
    auto_created = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["org", "-id"], name="mappingjob_org_id")]

    def __str__(self) -> str:
        return f"sync {self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status == SyncStatus.DONE:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0
