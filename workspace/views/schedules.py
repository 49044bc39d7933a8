"""Schedules: your own, or with schedules.manage everyone's and the forms."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.input import as_id
from orgs.access import OrgActionView, OrgView, found
from orgs.models import Membership
from workspace.decisions import visible_q
from workspace.models import (
    Agent,
    Schedule,
    Workflow,
)
from workspace.services import schedules


class SchedulesView(OrgView):
    """Schedules the viewer may see (everyone's with `schedules.manage`; otherwise those that
    run as them), and with `schedules.manage` a form to add one."""

    def get(self, request: HttpRequest) -> HttpResponse:
        manage = self.may("schedules.manage")
        qs = Schedule.objects.filter(org=self.org).select_related(
            "agent", "workflow", "run_as__user", "last_run"
        )
        if not manage:
            qs = qs.filter(run_as=self.membership)
        choices = [
            (f"agent:{pk}", f"Agent: {name}")
            for pk, name in Agent.objects.filter(org=self.org)
            .filter(visible_q(self.membership, "agent"))
            .order_by("name")
            .values_list("pk", "name")[:200]
        ] + [
            (f"workflow:{pk}", f"Workflow: {name}")
            for pk, name in Workflow.objects.filter(org=self.org)
            .filter(visible_q(self.membership, "workflow"))
            .order_by("name")
            .values_list("pk", "name")[:200]
        ]
        return render(
            request,
            "workspace/schedules.html",
            {
                "schedules": qs.order_by("next_run_at")[:500],
                "may_manage": manage,
                "choices": choices,
            },
        )


class ScheduleCreateView(OrgActionView):
    back = "schedules"

    def act(self, request: HttpRequest) -> str:
        kind, _, ident = (request.POST.get("resource") or "").partition(":")
        model = {"agent": Agent, "workflow": Workflow}.get(kind)
        obj = found(
            model.objects.filter(org=self.org, pk=as_id(ident) or 0).first() if model else None,
            "agent or workflow",
        )
        email = (request.POST.get("run_as") or "").strip()
        run_as = found(
            Membership.objects.select_related("user")
            .filter(org=self.org, user__email__lower=email.lower())
            .first()
            if email
            else None,
            "member",
        )
        schedule = schedules.schedule_create(
            resource=obj,
            cron=request.POST.get("cron", ""),
            time_zone=request.POST.get("time_zone") or "UTC",
            run_as=run_as,
            actor=request.user,
        )
        return f"Scheduled: next run {schedule.next_run_at:%Y-%m-%d %H:%M} UTC."


class ScheduleChangeView(OrgActionView):
    back = "schedules"
    change = "toggle"

    def act(self, request: HttpRequest, pk: int) -> str:
        schedule = found(
            Schedule.objects.filter(org=self.org, pk=as_id(pk) or 0).first(), "schedule"
        )
        if self.change == "delete":
            schedules.schedule_delete(schedule=schedule, actor=request.user)
            return "The schedule is deleted."
        schedule = schedules.schedule_update(
            schedule=schedule, enabled=not schedule.enabled, actor=request.user
        )
        return "The schedule is on." if schedule.enabled else "The schedule is paused."
