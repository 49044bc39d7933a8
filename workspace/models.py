"""What an AI-agent platform's security team governs: integrations connected by the
organization, agents and workflows (versioned, owned by a team or by their owner's personal
space, shared at owner > editor > runner > viewer through django-guardian object permissions).
Schedules and runs arrive with the next parts of the same issue."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from workspace.choices import (
    LEVEL_PERMISSION,
    EventKind,
    PayloadDirection,
    ResourceStatus,
    RunStatus,
    RunTrigger,
)

SHARE_PERMISSIONS = [
    (codename, f"Shared as {level}") for level, codename in LEVEL_PERMISSION.items()
]


class IntegrationConnection(models.Model):
    """An organization's connection of an integration. It holds a reference to the secret
    material (the credentials issue stores it, encrypted), never a secret in clear."""

    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="integration_connections"
    )
    integration = models.CharField(max_length=32)
    label = models.CharField(max_length=100)
    credential_ref = models.CharField(max_length=200, blank=True)
    connected_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["org", "integration"], name="wsconn_org_integration")]

    def __str__(self) -> str:
        return f"{self.integration}: {self.label}"


class Governed(models.Model):
    """What agents and workflows share: the organization, the owning team (or the owner's
    personal space when there is none), the owner, the status and a version counter."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=1000, blank=True)
    team = models.ForeignKey(
        "orgs.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    owner = models.ForeignKey(
        "orgs.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=ResourceStatus.choices, default=ResourceStatus.ACTIVE
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Zero data retention for this agent's or workflow's runs (set by the retention app).
    zero_data_retention = models.BooleanField(default=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


class Agent(Governed):
    instructions = models.TextField(blank=True)
    model = models.CharField(max_length=100, blank=True)
    integrations = models.JSONField(default=list, blank=True)  # integration slugs it uses

    class Meta:
        permissions = SHARE_PERMISSIONS
        indexes = [
            models.Index(fields=["org", "id"], name="agent_org_id"),
            models.Index(fields=["team"], name="agent_team"),
            models.Index(fields=["owner"], name="agent_owner"),
        ]


class Workflow(Governed):
    # [{"name": ..., "integration": "slack", "action": "post_message"}, ...]
    steps = models.JSONField(default=list, blank=True)

    class Meta:
        permissions = SHARE_PERMISSIONS
        indexes = [
            models.Index(fields=["org", "id"], name="workflow_org_id"),
            models.Index(fields=["team"], name="workflow_team"),
            models.Index(fields=["owner"], name="workflow_owner"),
        ]

    @property
    def integrations(self) -> list[str]:
        return sorted({str(s.get("integration")) for s in self.steps if s.get("integration")})


class Version(models.Model):
    """One saved edit: who, when, the whole definition after it, and the diff from before."""

    version = models.PositiveIntegerField()
    changed_by = models.CharField(max_length=300, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)
    snapshot = models.JSONField(default=dict)
    diff = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"version {self.version}"


class AgentVersion(Version):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "version"], name="agentversion_unique")
        ]


class WorkflowVersion(Version):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "version"], name="workflowversion_unique")
        ]


# Shares, as django-guardian object permissions with direct foreign keys (joins, not generic
# string ids): to a member (their user) or to a team (the team's auth group).


class AgentUserShare(UserObjectPermissionBase):
    content_object = models.ForeignKey(Agent, on_delete=models.CASCADE)


class AgentTeamShare(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Agent, on_delete=models.CASCADE)


class WorkflowUserShare(UserObjectPermissionBase):
    content_object = models.ForeignKey(Workflow, on_delete=models.CASCADE)


class WorkflowTeamShare(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Workflow, on_delete=models.CASCADE)


class Run(models.Model):
    """One execution of an agent or a workflow, opened and closed by the runtime (or recorded
    as denied when a schedule's member may no longer run it). On PostgreSQL the table is
    partitioned by month of `started_at` (core.partitions; migration 0005)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.SET_NULL, null=True, blank=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.SET_NULL, null=True, blank=True)
    resource_name = models.CharField(max_length=200)  # kept when the agent or workflow goes
    team = models.ForeignKey(
        "orgs.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    member = models.ForeignKey(
        "orgs.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    events_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["org", "-id"], name="run_org_newest"),
            models.Index(fields=["org", "status", "-id"], name="run_org_status"),
            models.Index(fields=["agent", "-id"], name="run_agent"),
            models.Index(fields=["workflow", "-id"], name="run_workflow"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.resource_name}"


class RunEvent(models.Model):
    """A log line or a tool call of a run: metadata only (integration metadata and run logs for
    retention); bodies are RunPayload rows. On PostgreSQL the table is partitioned by month of
    `at`, and (run, seq) is an index there, not a constraint: run_events_append numbers events
    under the run's row lock."""

    # Not a constraint in the database: runs are partitioned by month on PostgreSQL
    # (core.partitions); Django's collector cascades.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    seq = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    level = models.CharField(max_length=16, blank=True)
    message = models.CharField(max_length=2000, blank=True)
    integration = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="runevent_run_seq")]

    def __str__(self) -> str:
        return f"{self.kind} {self.seq} of run {self.run_id}"


class RunPayload(models.Model):
    """Input or output content of a run or of one of its tool calls, stored apart from the
    metadata (retention treats payloads as their own category), with its size and SHA-256."""

    # Runs and run events are partitioned by month on PostgreSQL: no constraints in the
    # database (core.partitions); Django's collector cascades.
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="payloads", db_constraint=False
    )
    event = models.ForeignKey(
        RunEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="payloads",
        db_constraint=False,
    )
    direction = models.CharField(max_length=8, choices=PayloadDirection.choices)
    content = models.TextField(blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.direction} of run {self.run_id}"


class Schedule(models.Model):
    """An agent or a workflow run on a cron expression in a time zone, as a named member whose
    access is decided again at each firing (a denied firing is recorded as a denied run)."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, null=True, blank=True)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, null=True, blank=True)
    cron = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64, default="UTC")
    run_as = models.ForeignKey("orgs.Membership", on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField()
    last_fired_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    created_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["enabled", "next_run_at"], name="schedule_due"),
            models.Index(fields=["org", "id"], name="schedule_org_id"),
        ]

    def __str__(self) -> str:
        return f"{self.cron} ({self.time_zone})"
