"""Runs: the list of what the viewer may see, and a run's timeline."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.input import as_id
from orgs import rbac
from orgs.access import OrgView, found
from workspace.choices import RunStatus, RunTrigger
from workspace.decisions import Question, decide, visible_q
from workspace.models import (
    Agent,
    Run,
    Workflow,
)


class RunListView(OrgView):
    """Runs the viewer may see (every run for an admin; otherwise their own and those of the
    agents and workflows they may view), filterable by status and trigger."""

    def get(self, request: HttpRequest) -> HttpResponse:
        qs = Run.objects.filter(org=self.org)
        if not rbac.is_admin(self.membership):
            qs = qs.filter(
                Q(member=self.membership)
                | Q(
                    agent__in=Agent.objects.filter(org=self.org).filter(
                        visible_q(self.membership, "agent")
                    )
                )
                | Q(
                    workflow__in=Workflow.objects.filter(org=self.org).filter(
                        visible_q(self.membership, "workflow")
                    )
                )
            )
        status = request.GET.get("status", "")
        if status in RunStatus.values:
            qs = qs.filter(status=status)
        trigger = request.GET.get("trigger", "")
        if trigger in RunTrigger.values:
            qs = qs.filter(trigger=trigger)
        agent = as_id(request.GET.get("agent"))
        if agent:
            qs = qs.filter(agent_id=agent)
        page = Paginator(qs.select_related("member__user", "team").order_by("-id"), 50).get_page(
            request.GET.get("page")
        )
        return render(
            request,
            "workspace/runs.html",
            {
                "page": page,
                "statuses": RunStatus.values,
                "triggers": RunTrigger.values,
                "params": request.GET,
            },
        )


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
        events = run.events.order_by("seq")[:1000]
        return render(request, "workspace/run_detail.html", {"run": run, "events": events})
