"""Agents and workflows: lists of what the viewer may see, a page each, and the forms
(create, edit, share, run now) that go through the audited services."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.exceptions import ServiceError, ValidationFailed
from core.input import as_id
from orgs import rbac
from orgs.access import OrgActionView, OrgView, found
from orgs.models import Membership, Team
from workspace.choices import ResourceStatus
from workspace.decisions import Question, decide, decide_many, visible_q
from workspace.models import (
    Agent,
    AgentTeamShare,
    AgentUserShare,
    Run,
    Workflow,
    WorkflowTeamShare,
    WorkflowUserShare,
)
from workspace.services import resources
from workspace.services.runs import run_open


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
                    "delete",
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
                "may_delete": answers[4].allowed,
            },
        )


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


class ResourceDeleteView(ResourceEditView):
    """Delete (the page asks for confirmation first): refused and audited as denied without
    the capability and owner-level access."""

    back_with_pk = False

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj = self.obj(kwargs["pk"])
        try:
            resources.resource_delete(obj=obj, actor=request.user)
        except ServiceError as exc:
            self.fail(exc)
            return redirect(reverse(f"governance:{self.kind}_detail", args=[self.org.slug, obj.pk]))
        messages.success(request, f"{obj.name} is deleted; its runs are kept under that name.")
        return redirect(reverse(f"governance:{self.kind}s", args=[self.org.slug]))


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
