"""Celery beat: every enabled MCP server's tools listed again every 10 minutes (changes
audited), so a new or changed tool shows before anyone uses it; every minute, the usage rows
of the days whose traces changed are recomputed (gateway.usage)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from gateway.models import McpServer
from gateway.services import tools_refresh


@shared_task(name="gateway.tasks.mcp_tools_refresh", ignore_result=True)
def mcp_tools_refresh() -> dict[str, Any]:
    results = {}
    for server in McpServer.objects.filter(enabled=True).order_by("id"):
        outcome = tools_refresh(server=server)
        results[server.pk] = outcome["health"]
    return results


@shared_task(name="gateway.tasks.mcp_usage_rollup", ignore_result=True)
def mcp_usage_rollup() -> int:
    from gateway.usage import rollup

    return rollup()
