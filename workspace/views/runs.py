"""Runs: the list of what the viewer may see, and a run's timeline."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.input import as_id
from orgs import rbac
from orgs.access import OrgView, found
from orgs.models import Organization, Team
from workspace.choices import RunStatus, RunTrigger
from workspace.decisions import Question, decide
from workspace.models import Agent, Run, Workflow
from workspace.selectors import RunFilter, runs_visible

TIMELINE_PAGE = 500


class RunListView(OrgView):
    """Runs the viewer may see (every run for an admin; otherwise their own and those of the
    agents and workflows they may view), filtered by status, trigger, agent, workflow, team,
    member and time."""

    def get(self, request: HttpRequest) -> HttpResponse:
        filters = RunFilter.from_params(request.GET)
        for problem in filters.problems:
            messages.error(request, f"Filter ignored: {problem}")
        qs = filters.apply(runs_visible(org=self.org, membership=self.membership))
        page = Paginator(qs.select_related("member__user", "team").order_by("-id"), 50).get_page(
            request.GET.get("page")
        )
        return render(
            request,
            "workspace/runs.html",
            {
                "page": page,
                "filters": filters,
                "statuses": RunStatus.values,
                "triggers": RunTrigger.values,
                "teams": Team.objects.filter(org=self.org).order_by("name").only("id", "name"),
                "named": _named(self.org, filters),
            },
        )


def _named(org: Organization, filters: RunFilter) -> str:
    """The agent or workflow a filter names (from its page's "All runs" link), by name."""
    if filters.agent:
        obj = Agent.objects.filter(org=org, pk=filters.agent).only("name").first()
        return f"agent {obj.name}" if obj else "an unknown agent"
    if filters.workflow:
        obj = Workflow.objects.filter(org=org, pk=filters.workflow).only("name").first()
        return f"workflow {obj.name}" if obj else "an unknown workflow"
    return ""


class RunDetailView(OrgView):
    """A run's timeline: its log lines and tool calls in order (payload bodies are not shown
    here: sizes and hashes only)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        run = found(
            Run.objects.filter(org=self.org, pk=as_id(pk) or 0)
            .select_related("member__user")
            .first(),
            "run",
        )
        if not rbac.is_admin(self.membership) and run.member_id != self.membership.pk:
            kind, obj_id = (
                ("agent", run.agent_id) if run.agent_id else ("workflow", run.workflow_id)
            )
            if (
                obj_id is None
                or not decide(
                    self.org, Question(self.membership.pk, f"{kind}.view", resource=(kind, obj_id))
                ).allowed
            ):
                raise Http404("No such run.")
        after = as_id(request.GET.get("after")) or 0
        events = list(run.events.filter(seq__gt=after).order_by("seq")[: TIMELINE_PAGE + 1])
        more = len(events) > TIMELINE_PAGE
        events = events[:TIMELINE_PAGE]
        return render(
            request,
            "workspace/run_detail.html",
            {
                "run": run,
                "events": events,
                "after": after,
                "next_after": events[-1].seq if more else None,
            },
        )
