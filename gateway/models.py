"""The MCP servers an organization's agents use, behind the gateway: each belongs to an
integration (whose permission decides who may see and call its tools), speaks Streamable HTTP
(or stdio, for a command the operator allowed on the gateway's host), and carries the tools it
exposed at its last refresh."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from gateway.choices import Health, Transport


class McpServer(models.Model):
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    integration = models.CharField(max_length=32)
    transport = models.CharField(max_length=8, choices=Transport.choices)
    url = models.CharField(max_length=2048, blank=True)  # Streamable HTTP endpoint
    command = models.CharField(max_length=100, blank=True)  # a name in GOVERNANCE_MCP_STDIO_SERVERS
    enabled = models.BooleanField(default=True)
    health = models.CharField(max_length=8, choices=Health.choices, default=Health.UNKNOWN)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    # [{name, description, input_schema, digest}] as listed at the last refresh.
    tools = models.JSONField(default=list, blank=True)
    tools_refreshed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="mcpserver_org_name"),
        ]
        indexes = [
            models.Index(fields=["org", "id"], name="mcpserver_org_id"),
            models.Index(fields=["enabled", "tools_refreshed_at"], name="mcpserver_refresh"),
        ]

    def __str__(self) -> str:
        return self.name


class ToolTrace(models.Model):
    """One tool call through the gateway: who (member, run, client), where (server, tool),
    how it went (outcome, error, latency, sizes). Integration metadata for retention; the
    arguments and the result are ToolTracePayload rows (payloads: zero data retention and their
    own window apply). `trace_id` makes the spooled write exactly-once."""

    trace_id = models.UUIDField(unique=True)
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(
        "orgs.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    member_label = models.CharField(max_length=300)
    run_id = models.BigIntegerField(null=True, blank=True)  # the run it served (no constraint)
    # The run's agent or workflow and team, when a run was named (ids only: traces outlive them).
    agent_id = models.BigIntegerField(null=True, blank=True)
    workflow_id = models.BigIntegerField(null=True, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True)
    client = models.CharField(max_length=200, blank=True)  # "gateway_token:<prefix>", …
    server = models.ForeignKey(
        McpServer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    server_name = models.CharField(max_length=100)
    integration = models.CharField(max_length=32)
    tool = models.CharField(max_length=200)
    outcome = models.CharField(max_length=16)  # ok, error, denied
    error = models.CharField(max_length=1000, blank=True)
    latency_ms = models.FloatField(default=0)
    # Decided from the gateway's last database read while the database was unreachable
    # (gateway.outage): a refusal then was not audited.
    offline = models.BooleanField(default=False)
    arguments_size = models.PositiveIntegerField(default=0)
    result_size = models.PositiveIntegerField(default=0)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["org", "-at"], name="tooltrace_org_at"),
            models.Index(fields=["org", "run_id"], name="tooltrace_run"),
            models.Index(fields=["org", "server_name", "tool", "-at"], name="tooltrace_tool"),
        ]

    def __str__(self) -> str:
        return f"{self.server_name}/{self.tool} at {self.at:%Y-%m-%d %H:%M:%S}"


class ToolTracePayload(models.Model):
    """A traced call's arguments or result, with its size and SHA-256 (content empty under zero
    data retention)."""

    trace = models.ForeignKey(ToolTrace, on_delete=models.CASCADE, related_name="payloads")
    direction = models.CharField(max_length=8)  # input, output
    content = models.TextField(blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.direction} of trace {self.trace_id}"


class McpToken(models.Model):
    """A member-bound bearer token for the gateway (`gmt_<prefix>_<secret>`), bound to one
    audience: the gateway's resource URL when it was minted (RFC 8707). Only an HMAC is stored;
    it expires, and it is revoked with the member."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey("orgs.Membership", on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    audience = models.CharField(max_length=2048)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["membership", "revoked_at"], name="mcptoken_member")]

    def __str__(self) -> str:
        return f"gmt_{self.prefix}…"

    def audit_actor(self) -> tuple[str, str, str]:
        return (
            "mcp_token",
            str(self.pk),
            f"gateway token {self.prefix} of {self.membership.user.email}",
        )


class ToolRule(models.Model):
    """A rule on one tool of one server ("*": every tool of it), on top of the integration's
    permission: with no role it blocks the tool for everyone; with a custom role it reserves
    the tool to the members holding that role (and RBAC admins). gateway.policy.plan decides
    with it, for live calls and for the policy preview alike."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    server = models.ForeignKey(McpServer, on_delete=models.CASCADE, related_name="rules")
    tool = models.CharField(max_length=200)  # a tool's name at its server, or "*"
    role = models.ForeignKey(
        "orgs.CustomRole", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["org", "server"], name="toolrule_org_server")]

    def __str__(self) -> str:
        return f"{self.tool} of {self.server_id}: " + (
            f"reserved to role {self.role_id}" if self.role_id else "blocked"
        )


class UsageDaily(models.Model):
    """Usage analytics, one row per organization, day (UTC), dimension and key: the traces of
    that day recomputed by gateway.usage.rollup (so a figure is exactly what the traces say,
    never an increment that could drift). `dimension` is all (key ""), team, member, agent
    (their ids) or integration (its slug); runs and members are distinct counts that day."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    dimension = models.CharField(max_length=12)
    key = models.CharField(max_length=64, blank=True)
    runs = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    denied = models.PositiveIntegerField(default=0)
    members = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["org", "dimension", "day", "key"], name="usagedaily_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension} {self.key}: {self.calls} calls"


class UsageDirty(models.Model):
    """A day of an organization whose traces changed since its usage rows were computed: the
    trace writer marks it in the transaction that stores the traces."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "day"], name="usagedirty_unique")]

    def __str__(self) -> str:
        return f"{self.org_id} {self.day}"
