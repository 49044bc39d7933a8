"""Retention policies, legal holds and enforcement runs. What expires, and where, is the
registry's (core.retention); these rows say for how long, what is spared, and how far the
last run got."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from retention.choices import HoldScope, RunState


class RetentionPolicy(models.Model):
    """An organization's windows: {category: days, or null for "keep forever"}. A category
    missing from `windows` has its registered default (never forever)."""

    org = models.OneToOneField("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    windows = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # Set when enforcement has not completed for two intervals (the page's alert).
    overdue_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"retention of {self.org_id}"


class TeamRetention(models.Model):
    """A team's window for one category of run data (null: keep forever). Where the
    organization's window and the team's both apply, the longer one wins."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("orgs.Team", on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=32)
    days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "category"], name="teamretention_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.category} of team {self.team_id}"


class LegalHold(models.Model):
    """Data that must not be deleted, by retention or anything else, until the hold is
    released: an organization's, a team's, a member's or one agent's or workflow's, optionally
    only in a time range. A hold grants no access to what it holds."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=16, choices=HoldScope.choices)
    target_id = models.BigIntegerField(null=True, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    starts = models.DateTimeField(null=True, blank=True)
    ends = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=1000)
    case_reference = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["org", "released_at"], name="hold_org_active")]

    def __str__(self) -> str:
        return f"hold {self.pk} on {self.scope} {self.target_label or ''}".strip()


class RetentionRun(models.Model):
    """One enforcement of one organization's policy. `now` is frozen at the start, so a run
    killed at any point selects the same rows when it resumes; `counts` and `cursor` move in
    the transaction of each batch, so its counts stay exact."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    now = models.DateTimeField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=RunState.choices, default=RunState.RUNNING)
    plan = models.JSONField(default=dict, blank=True)  # windows, holds and what they spare
    counts = models.JSONField(default=dict, blank=True)  # category -> {rows, bytes, blanked}
    resumed = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["org", "-id"], name="retentionrun_org_newest")]

    def __str__(self) -> str:
        return f"retention run {self.pk} of {self.org_id}"
