"""Pages (admin.tracing): the organization's MCP servers (add one, refresh its tools, delete
it), the tool calls the gateway traced (filters by member, server, tool, outcome, run and
time; per server and tool: calls, errors, refusals, latency p50 / p95; a run's calls as a
timeline), and usage analytics (per team, member, agent or integration by day, as charts and
as CSV)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from core.exceptions import ServiceError
from core.input import as_id, parse_instant
from gateway import preview, services, upstream, usage
from gateway.choices import Transport
from gateway.models import ToolRule
from gateway.selectors import OUTCOMES, TraceFilter, server_get, servers_of, tool_stats, traces_of
from orgs.access import OrgActionView, OrgView, found
from orgs.rbac import INTEGRATIONS
from orgs.selectors import team_list

CAPABILITY = "admin.tracing"


@method_decorator(never_cache, name="dispatch")
class McpServersView(OrgView):
    capability = CAPABILITY

    def get(self, request: HttpRequest, status: int = 200) -> HttpResponse:
        return render(
            request,
            "gateway/servers.html",
            {
                "servers": list(servers_of(org=self.org)),
                "integrations": INTEGRATIONS,
                "transports": Transport.choices,
                "stdio_names": upstream.stdio_names(),
                "form": request.POST.dict() if status != 200 else {},
            },
            status=status,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            server = services.server_create(
                org=self.org,
                actor=request.user,
                spec=services.ServerSpec(
                    name=request.POST.get("name", ""),
                    integration=request.POST.get("integration", ""),
                    transport=request.POST.get("transport", ""),
                    url=request.POST.get("url", ""),
                    command=request.POST.get("command", ""),
                ),
            )
        except ServiceError as exc:
            self.fail(exc)
            return self.get(request, status=400)
        result = services.tools_refresh(server=server, actor=request.user)
        if result["health"] == "up":
            messages.success(request, f"{server.name} lists {len(result['added'])} tools.")
        else:
            messages.error(request, f"{server.name} is saved but did not answer: {result['error']}")
        return redirect("governance:mcp_servers", slug=self.org.slug)


class McpServerRefreshView(OrgActionView):
    capability = CAPABILITY
    back = "mcp_servers"

    def act(self, request: HttpRequest, pk: int) -> str:
        server = found(server_get(org=self.org, pk=pk), "MCP server")
        result = services.tools_refresh(server=server, actor=request.user)
        if result["health"] != "up":
            return f"{server.name} did not answer: {result['error']}"
        changes = [
            f"{k}: {', '.join(v)}" for k in ("added", "changed", "removed") if (v := result[k])
        ]
        return f"{server.name} is up; " + ("; ".join(changes) or "no tool changed") + "."


class McpServerDeleteView(OrgActionView):
    capability = CAPABILITY
    back = "mcp_servers"

    def act(self, request: HttpRequest, pk: int) -> str:
        server = found(server_get(org=self.org, pk=pk), "MCP server")
        services.server_delete(server=server, actor=request.user)
        return f"{server.name} is deleted."


def trace_filter(params: Any) -> TraceFilter:
    return TraceFilter(
        member=str(params.get("member", ""))[:300].strip(),
        server=str(params.get("server", ""))[:100].strip(),
        tool=str(params.get("tool", ""))[:200].strip(),
        outcome=str(params.get("outcome", "")),
        run=as_id(params.get("run")),
        team=as_id(params.get("team")),
        agent=as_id(params.get("agent")),
        since=parse_instant(params.get("since")) if params.get("since") else None,
        until=parse_instant(params.get("until")) if params.get("until") else None,
    )


@method_decorator(never_cache, name="dispatch")
class TracesView(OrgView):
    capability = CAPABILITY

    def get(self, request: HttpRequest) -> HttpResponse:
        filters = trace_filter(request.GET)
        calls = traces_of(org=self.org, filters=filters)
        if filters.run:
            calls.reverse()  # a run's calls as a timeline, oldest first
        return render(
            request,
            "gateway/traces.html",
            {
                "calls": calls,
                "stats": tool_stats(org=self.org, filters=trace_filter(request.GET)),
                "f": request.GET,
                "outcomes": OUTCOMES,
                "run": filters.run,
                "teams": list(team_list(org=self.org)),
            },
        )


@method_decorator(never_cache, name="dispatch")
class UsageView(OrgView):
    capability = CAPABILITY

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            dimension, since, until = usage.period(request.GET)
        except ServiceError as exc:
            messages.error(request, exc.message)
            dimension, since, until = usage.period({})
        if request.GET.get("format") == "csv":
            found = usage.rows(self.org, dimension, since, until)
            response = HttpResponse(usage.as_csv(found, dimension), content_type="text/csv")
            name = f"usage-{self.org.slug}-{dimension}-{since}-{until}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        return render(
            request,
            "gateway/usage.html",
            {
                "dimension": dimension,
                "dimensions": [d for d in usage.DIMENSIONS if d != "all"] + ["all"],
                "since": since,
                "until": until,
                "figures": usage.chart(self.org, dimension, since, until),
                "totals": usage.totals(self.org, dimension, since, until),
            },
        )


@method_decorator(never_cache, name="dispatch")
class PolicyView(OrgView):
    """Tool rules (add, delete) and the policy preview: a proposed change of a custom role's
    integrations, of a member's roles or of the tool rules, replayed against the recorded calls
    of the last N days before anything changes."""

    capability = CAPABILITY

    def get(self, request: HttpRequest, result: Any = None, status: int = 200) -> HttpResponse:
        from orgs.models import CustomRole, Membership

        return render(
            request,
            "gateway/policy.html",
            {
                "servers": list(servers_of(org=self.org)),
                "rules": list(
                    ToolRule.objects.filter(org=self.org)
                    .select_related("server", "role")
                    .order_by("server__name", "tool", "id")
                ),
                "roles": list(CustomRole.objects.filter(org=self.org).order_by("name")),
                "members": list(
                    Membership.objects.filter(org=self.org, is_active=True)
                    .select_related("user")
                    .order_by("user__email")[:500]
                ),
                "integrations": INTEGRATIONS,
                "kinds": preview.KINDS,
                "form": request.POST if request.method == "POST" else request.GET,
                "result": result,
            },
            status=status,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            change = preview.change_from(self.org, request.POST)
            if request.POST.get("apply") and change.kind in ("rule_add", "rule_remove"):
                return self._apply(request, change)
            result = preview.replay(self.org, change, request.POST.get("days") or 30)
        except ServiceError as exc:
            self.fail(exc)
            return self.get(request, status=400)
        return self.get(request, result=result)

    def _apply(self, request: HttpRequest, change: Any) -> HttpResponse:
        if change.kind == "rule_add":
            server = found(server_get(org=self.org, pk=change.server), "MCP server")
            services.rule_create(
                server=server,
                tool=change.tool,
                role=change.role,
                note=request.POST.get("note", ""),
                actor=request.user,
            )
            messages.success(request, "The tool rule is added; it counts at the next call.")
        else:
            rule = found(ToolRule.objects.filter(org=self.org, pk=change.rule).first(), "rule")
            services.rule_delete(rule=rule, actor=request.user)
            messages.success(request, "The tool rule is removed.")
        return redirect("governance:mcp_policy", slug=self.org.slug)
