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
