"""`manage.py mcp_servers_refresh [--org SLUG]`: lists every enabled MCP server's tools now (what
beat does every 10 minutes); prints what was added, changed or removed, and each server's
health."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from gateway.models import McpServer
from gateway.services import tools_refresh
from orgs.commands import OrgCommand


class Command(OrgCommand):
    help = "List every enabled MCP server's tools now; audit what changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="one organization's slug (default: every one)")

    def handle(self, *args: Any, **opts: Any) -> None:
        servers = McpServer.objects.filter(enabled=True).select_related("org").order_by("id")
        if opts.get("org"):
            servers = servers.filter(org=self.org(opts["org"]))
        self.emit(
            {
                "servers": [
                    {"organization": s.org.slug, "server": s.name, **tools_refresh(server=s)}
                    for s in servers
                ]
            }
        )
