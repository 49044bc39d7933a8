"""IdP groups and what they grant: the per-organization settings of the two directions (roles,
teams), their mapping tables, and the sync jobs that apply them. Protocol-neutral: SCIM pushes
groups today; SAML or OIDC group claims could tomorrow."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from mapping.choices import Direction, SyncStatus, SyncTrigger


class IdpUser(models.Model):
    """A member the identity provider speaks for, as it describes them: the profile it owns
    (userName, names, e-mails, the enterprise attributes), its own id (`external_id`) and the id
    a provisioning client knows them by (`uid`). Their IdP groups decide their roles and teams;
    people added by hand have no IdpUser, no IdP groups, and the IdP does not speak for them.
    SCIM provisions them today."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    membership = models.OneToOneField(
        "orgs.Membership", on_delete=models.CASCADE, related_name="idp"
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
    # Further attributes of the IdP's description (SCIM: title, phoneNumbers, addresses…),
    # kept as sent and returned, never interpreted.
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # userName is unique per org case-insensitively: in the database, not only a check.
            models.UniqueConstraint("org", Lower("user_name"), name="idpuser_org_username_ci"),
        ]
        indexes = [
            models.Index(fields=["org", "id"], name="idpuser_org_id"),
            models.Index("org", Lower("user_name"), name="idpuser_org_username_lower"),
            models.Index(fields=["org", "external_id"], name="idpuser_org_externalid"),
        ]

    def __str__(self) -> str:
        return self.user_name


class IdpUserEmail(models.Model):
    """Each e-mail address the IdP sent for a member, with its `type` and `primary` flag: the
    rows that filters search (`emails.value eq`, `emails[type eq "work" and value co "@x"]`).
    `IdpUser.emails` keeps the list as sent, for rendering; both are written together."""

    idp_user = models.ForeignKey(IdpUser, on_delete=models.CASCADE, related_name="email_rows")
    value = models.CharField(max_length=255)
    type = models.CharField(max_length=255, blank=True)
    primary = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index("idp_user", Lower("value"), name="idpuseremail_user_value"),
            models.Index(Lower("value"), name="idpuseremail_value_lower"),
        ]

    def __str__(self) -> str:
        return self.value


class IdpGroup(models.Model):
    """A group of the organization's identity provider. It grants nothing by itself: the mapping
    engine turns its members into custom roles and teams. SCIM pushes groups today; `uid` is the
    id a provisioning client knows the group by, `external_id` the IdP's own."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="idp_groups"
    )
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["org", "id"], name="idpgroup_org_id")]
        constraints = [
            # displayName is unique per org case-insensitively: name-based mapping and Entra's
            # matching depend on it.
            models.UniqueConstraint(
                "org", Lower("display_name"), name="idpgroup_org_name_ci_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class IdpGroupMember(models.Model):
    group = models.ForeignKey(IdpGroup, on_delete=models.CASCADE, related_name="members")
    membership = models.ForeignKey(
        "orgs.Membership", on_delete=models.CASCADE, related_name="idp_group_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "membership"], name="idpgroupmember_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} in {self.group_id}"


class MappingSettings(models.Model):
    """Per organization and direction: "Use mapping table" (default on). The row is also the
    lock every sync of the organization takes, so syncs never interleave."""

    org = models.OneToOneField(
        "orgs.Organization", on_delete=models.CASCADE, related_name="mapping_settings"
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
        "orgs.Organization", on_delete=models.CASCADE, related_name="group_mappings"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices)
    group = models.ForeignKey(IdpGroup, on_delete=models.CASCADE, related_name="mappings")
    role = models.ForeignKey(
        "orgs.CustomRole", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        "orgs.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
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
            # Each row once. Two partial constraints (one per direction's target column) rather
            # than one with nulls_distinct=False, which SQLite cannot enforce (models.W047).
            models.UniqueConstraint(
                fields=["org", "group", "role"],
                condition=Q(role__isnull=False),
                name="groupmapping_role_unique",
            ),
            models.UniqueConstraint(
                fields=["org", "group", "team"],
                condition=Q(team__isnull=False),
                name="groupmapping_team_unique",
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
        "orgs.Organization", on_delete=models.CASCADE, related_name="mapping_jobs"
    )
    trigger = models.CharField(max_length=16, choices=SyncTrigger.choices)
    status = models.CharField(max_length=8, choices=SyncStatus.choices, default=SyncStatus.QUEUED)
    requested_by = models.CharField(max_length=300, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    members_changed = models.PositiveIntegerField(default=0)
    auto_created = models.JSONField(default=list, blank=True)
    # Groups the sync could not apply ({"group", "kind", "reason"}): reported, not fatal.
    skipped = models.JSONField(default=list, blank=True)
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
