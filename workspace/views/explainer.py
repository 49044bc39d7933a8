"""The explainer page: why can (or can't) a member do this to that."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.input import as_id
from orgs import rbac
from orgs.access import OrgView
from orgs.models import Membership
from workspace.decisions import ACTIONS, KINDS, visible_q
from workspace.explainer import explain
from workspace.models import (
    Agent,
    Workflow,
)


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
                    .filter(visible_q(self.membership, "agent"))
                    .order_by("name")
                    .values_list("pk", "name")[:200]
                ]
                + [
                    (f"workflow:{pk}", f"Workflow: {name}")
                    for pk, name in Workflow.objects.filter(org=self.org)
                    .filter(visible_q(self.membership, "workflow"))
                    .order_by("name")
                    .values_list("pk", "name")[:200]
                ],
                "explanation": explanation,
                "error": error,
            },
            status=400 if error else 200,
        )
