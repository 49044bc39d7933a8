"""Reads of the MCP registry and the traces, always within one organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import quantiles
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from gateway.models import McpServer, ToolTrace
from orgs.models import Organization

OUTCOMES = ("ok", "error", "denied")


def servers_of(*, org: Organization) -> QuerySet[McpServer]:
    return McpServer.objects.filter(org=org).order_by("name", "id")


def server_get(*, org: Organization, pk: Any) -> McpServer | None:
    return McpServer.objects.filter(org=org, pk=pk).first()


@dataclass
class TraceFilter:
    member: str = ""
    server: str = ""
    tool: str = ""
    outcome: str = ""
    run: int | None = None
    team: int | None = None
    agent: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, qs: QuerySet) -> QuerySet:
        if self.member:
            qs = qs.filter(member_label__iexact=self.member)
        if self.server:
            qs = qs.filter(server_name=self.server)
        if self.tool:
            qs = qs.filter(tool=self.tool)
        if self.outcome in OUTCOMES:
            qs = qs.filter(outcome=self.outcome)
        if self.run:
            qs = qs.filter(run_id=self.run)
        if self.team:
            qs = qs.filter(team_id=self.team)
        if self.agent:
            qs = qs.filter(agent_id=self.agent)
        if self.since:
            qs = qs.filter(at__gte=self.since)
        if self.until:
            qs = qs.filter(at__lt=self.until)
        return qs


def traces_of(*, org: Organization, filters: TraceFilter, limit: int = 100) -> list[ToolTrace]:
    return list(filters.apply(ToolTrace.objects.filter(org=org)).order_by("-at", "-id")[:limit])


def _pct(values: list[float], p: int) -> float:
    if len(values) == 1:
        return values[0]
    return quantiles(values, n=100, method="inclusive")[p - 1]


def tool_stats(*, org: Organization, filters: TraceFilter) -> list[dict[str, Any]]:
    """Per server and tool over the filtered window (default: the last 7 days): calls, errors,
    refusals, and latency p50 / p95."""
    if filters.since is None and filters.until is None:
        filters.since = timezone.now() - timedelta(days=7)
    rows = filters.apply(ToolTrace.objects.filter(org=org)).values_list(
        "server_name", "tool", "outcome", "latency_ms"
    )
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for server, tool, outcome, latency in rows.iterator(chunk_size=5000):
        entry = grouped.setdefault(
            (server, tool),
            {"server": server, "tool": tool, "calls": 0, "errors": 0, "denied": 0, "lat": []},
        )
        entry["calls"] += 1
        entry["errors"] += outcome == "error"
        entry["denied"] += outcome == "denied"
        entry["lat"].append(float(latency))
    out = []
    for entry in grouped.values():
        latencies = entry.pop("lat")
        entry["p50_ms"] = round(_pct(latencies, 50), 2)
        entry["p95_ms"] = round(_pct(latencies, 95), 2)
        out.append(entry)
    return sorted(out, key=lambda e: (-e["calls"], e["server"], e["tool"]))
