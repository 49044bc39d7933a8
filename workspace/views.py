"""Dashboard pages of the workspace: agents, workflows, runs and the explainer. Each page shows
only what the viewer may see; the server refuses the rest anyway."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.exceptions import ServiceError, ValidationFailed
from core.input import as_id
from orgs import rbac
from orgs.access import OrgActionView, OrgView, found
from orgs.models import Membership, Team
from workspace.choices import ResourceStatus, RunStatus, RunTrigger
from workspace.decisions import ACTIONS, KINDS, Question, decide, decide_many, visible_q
from workspace.explainer import explain
from workspace.models import (
    Agent,
    AgentTeamShare,
    AgentUserShare,
    IntegrationConnection,
    Run,
    Schedule,
    Workflow,
    WorkflowTeamShare,
    WorkflowUserShare,
)
from workspace.services import connections, resources, schedules
from workspace.services.runs import run_open


class ExplainerView(OrgView):
    """Why can (or can't) a member do this to that? Anyone may ask about themselves; asking
    about another member needs `admin.roles`. Reading writes nothing."""

    def get(self, request: HttpRequest) -> HttpResponse:
        may_ask_others = self.may("admin.roles")
        params = request.GET
        member = self.membership
        error = ""
        email = (params.get("member") or "").strip()
        if email and may_ask_others:
            member = (
                Membership.objects.select_related("user")
                .filter(org=self.org, user__email__lower=email.lower())
                .first()
            )
            if member is None:
                error = f"No member {email!r} in this organization."
        action = params.get("action") or "agent.run"
        resource = None
        kind, _, ident = (params.get("resource") or "").partition(":")
        if kind in KINDS and as_id(ident):
            resource = (kind, as_id(ident))
        explanation = None
        if member is not None and action in ACTIONS and not error and "action" in params:
            explanation = explain(self.org, member, action, resource, params.get("integration"))
        return render(
            request,
            "workspace/explain.html",
            {
                "may_ask_others": may_ask_others,
                "member_email": email,
                "actions": sorted(ACTIONS),
                "action": action,
                "resource": params.get("resource", ""),
                "integration": params.get("integration", ""),
                "integrations": [slug for slug, _ in rbac.INTEGRATIONS],
                "choices": [
                    (f"agent:{pk}", f"Agent: {name}")
                    for pk, name in Agent.objects.filter(org=self.org)
                    .order_by("name")
                    .values_list("pk", "name")[:200]
                ]
                + [
                    (f"workflow:{pk}", f"Workflow: {name}")
                    for pk, name in Workflow.objects.filter(org=self.org)
                    .order_by("name")
                    .values_list("pk", "name")[:200]
                ],
                "explanation": explanation,
                "error": error,
            },
            status=400 if error else 200,
        )


class ResourceListView(OrgView):
    """Agents or workflows the viewer may at least view (the rest are not listed: the server
    refuses them anyway), filterable by team, status and name."""

    kind = "agent"
    page_size = 50

    def get(self, request: HttpRequest) -> HttpResponse:
        model = Agent if self.kind == "agent" else Workflow
        qs = (
            model.objects.filter(org=self.org)
            .filter(visible_q(self.membership, self.kind))
            .select_related("team", "owner__user")
            .order_by("name", "id")
        )
        team = as_id(request.GET.get("team"))
        if team:
            qs = qs.filter(team_id=team)
        status = request.GET.get("status", "")
        if status in ResourceStatus.values:
            qs = qs.filter(status=status)
        q = (request.GET.get("q") or "").strip()[:200]
        if q:
            qs = qs.filter(name__icontains=q)
        page = Paginator(qs, self.page_size).get_page(request.GET.get("page"))
        return render(
            request,
            "workspace/resources.html",
            {
                "kind": self.kind,
                "page": page,
                "teams": Team.objects.filter(org=self.org)
                .order_by("name_key")
                .values_list("pk", "name")[:500],
                "statuses": ResourceStatus.values,
                "params": request.GET,
                "can_create": decide(
                    self.org, Question(self.membership.pk, f"{self.kind}.create")
                ).allowed,
                "integrations": rbac.INTEGRATIONS,
            },
        )


class ResourceDetailView(OrgView):
    """One agent or workflow: its definition, its versions with their diffs, its shares and its
    latest runs. A 404 for anyone who may not view it."""

    kind = "agent"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        model = Agent if self.kind == "agent" else Workflow
        obj = found(
            model.objects.filter(org=self.org, pk=as_id(pk) or 0)
            .select_related("team", "owner__user")
            .first(),
            self.kind,
        )
        answers = decide_many(
            self.org,
            [
                Question(self.membership.pk, f"{self.kind}.{action}", resource=(self.kind, obj.pk))
                for action in (
                    "view",
                    "edit",
                    "share",
                    "run" if self.kind == "agent" else "execute",
                )
            ],
        )
        if not answers[0].allowed:
            raise Http404(f"No such {self.kind}.")
        share_model = AgentUserShare if self.kind == "agent" else WorkflowUserShare
        team_share_model = AgentTeamShare if self.kind == "agent" else WorkflowTeamShare
        runs = (
            Run.objects.filter(**{self.kind: obj})
            .select_related("member__user")
            .order_by("-id")[:20]
        )
        return render(
            request,
            "workspace/resource_detail.html",
            {
                "kind": self.kind,
                "obj": obj,
                "versions": obj.versions.order_by("-version")[:20],
                "user_shares": share_model.objects.filter(content_object=obj).select_related(
                    "user", "permission"
                ),
                "team_shares": team_share_model.objects.filter(content_object=obj).select_related(
                    "group__team", "permission"
                ),
                "runs": runs,
                "may_edit": answers[1].allowed,
                "integrations": rbac.INTEGRATIONS,
                "teams": Team.objects.filter(org=self.org)
                .order_by("name_key")
                .values_list("pk", "name")[:500],
                "steps_json": json.dumps(obj.steps, indent=2) if self.kind == "workflow" else "",
                "may_share": answers[2].allowed,
                "may_run": answers[3].allowed,
            },
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


class IntegrationsView(OrgView):
    """The integration catalog: which the viewer's roles allow, the organization's connections,
    and (with `integrations.connect`) a form to connect one."""

    def get(self, request: HttpRequest) -> HttpResponse:
        perms = rbac.permissions_of(self.membership)
        admin = rbac.is_admin(self.membership)
        return render(
            request,
            "workspace/integrations.html",
            {
                "catalog": [
                    (slug, name, admin or f"integrations.use.{slug}" in perms)
                    for slug, name in rbac.INTEGRATIONS
                ],
                "connections": IntegrationConnection.objects.filter(org=self.org).order_by(
                    "integration", "label"
                ),
                "may_connect": admin or "integrations.connect" in perms,
            },
        )


class IntegrationConnectView(OrgActionView):
    back = "integrations"

    def act(self, request: HttpRequest) -> str:
        made = connections.connection_create(
            org=self.org,
            integration=request.POST.get("integration", ""),
            label=request.POST.get("label", ""),
            actor=request.user,
        )
        return f"{made.label} is connected."


class IntegrationDisconnectView(OrgActionView):
    back = "integrations"

    def act(self, request: HttpRequest, pk: int) -> str:
        connection = found(
            IntegrationConnection.objects.filter(org=self.org, pk=as_id(pk) or 0).first(),
            "connection",
        )
        connections.connection_delete(connection=connection, actor=request.user)
        return f"{connection.label} is disconnected."


def _fields_from_form(request: HttpRequest, kind: str, org: Any) -> dict[str, Any]:
    """The editable fields a form posted (only those present)."""
    post = request.POST
    fields: dict[str, Any] = {}
    for key in ("name", "description", "instructions", "model", "status"):
        if key in post:
            fields[key] = post.get(key, "")
    if kind == "workflow":
        fields.pop("instructions", None)
        fields.pop("model", None)
    if "integrations_present" in post and kind == "agent":
        fields["integrations"] = post.getlist("integrations")
    if "steps" in post and kind == "workflow":
        try:
            fields["steps"] = json.loads(post.get("steps") or "[]")
        except ValueError as exc:
            raise ValidationFailed(
                'Steps are a JSON list: [{"integration": "slack", "action": "post_message"}].'
            ) from exc
    if "team" in post:
        team = as_id(post.get("team"))
        fields["team"] = team  # None: personal space
    return fields


class ResourceCreateView(OrgActionView):
    kind = "agent"

    @property
    def back(self) -> str:  # type: ignore[override]
        return f"{self.kind}s"

    def act(self, request: HttpRequest) -> str:
        obj = resources.resource_create(
            org=self.org,
            kind=self.kind,
            fields=_fields_from_form(request, self.kind, self.org),
            actor=request.user,
        )
        return f"{obj.name} is created."


class ResourceEditView(OrgActionView):
    kind = "agent"
    back_with_pk = True

    @property
    def back(self) -> str:  # type: ignore[override]
        return f"{self.kind}_detail"

    def obj(self, pk: int) -> Any:
        model = Agent if self.kind == "agent" else Workflow
        return found(model.objects.filter(org=self.org, pk=as_id(pk) or 0).first(), self.kind)

    def act(self, request: HttpRequest, pk: int) -> str:
        obj = resources.resource_update(
            obj=self.obj(pk),
            fields=_fields_from_form(request, self.kind, self.org),
            actor=request.user,
        )
        return f"Saved: {obj.name} is at version {obj.version}."


class ResourceShareView(ResourceEditView):
    def act(self, request: HttpRequest, pk: int) -> str:
        obj = self.obj(pk)
        level = request.POST.get("level") or None
        email = (request.POST.get("member") or "").strip().lower()
        team_id = as_id(request.POST.get("team"))
        member = team = None
        if email:
            member = found(
                Membership.objects.select_related("user")
                .filter(org=self.org, user__email__lower=email)
                .first(),
                "member",
            )
        elif team_id:
            team = found(Team.objects.filter(org=self.org, pk=team_id).first(), "team")
        else:
            raise ValidationFailed("Name a member (e-mail) or a team to share with.")
        resources.share_set(obj=obj, level=level, member=member, team=team, actor=request.user)
        who = member.user.email if member else f"team {team.name}"
        return f"Shared with {who} as {level}." if level else f"The share with {who} is removed."


class ResourceRunView(ResourceEditView):
    """Run now, from the web: opens a run as the viewer (the runtime executes it), when the
    decision function allows it; otherwise refused and audited as denied."""

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj = self.obj(kwargs["pk"])
        try:
            run = run_open(
                org=self.org,
                member=self.membership,
                resource=obj,
                trigger="web",
                actor=request.user,
            )
        except ServiceError as exc:
            self.fail(exc)
            return redirect(reverse(f"governance:{self.kind}_detail", args=[self.org.slug, obj.pk]))
        messages.success(request, f"Run #{run.pk} is started.")
        return redirect(reverse("governance:run_detail", args=[self.org.slug, run.pk]))


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
