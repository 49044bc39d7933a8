"""What an AI-agent platform's security team governs: integrations connected by the
organization, agents and workflows (versioned, owned by a team or by their owner's personal
space, shared at owner > editor > runner > viewer through django-guardian object permissions).
Schedules and runs arrive with the next parts of the same issue."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from workspace.choices import LEVEL_PERMISSION, ResourceStatus

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
