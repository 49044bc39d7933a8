"""The Data retention page: windows per category (defaults shown, "keep forever" flagged in red),
team windows, zero data retention, legal holds, the dry run, the last receipts, the next run and
the alert. Shortening a window or releasing a hold shows first what the next run would then
delete, and asks again."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from core import retention as registry
from core.exceptions import ServiceError, ValidationFailed
from core.input import as_id, parse_instant
from orgs.access import OrgView, found
from orgs.selectors import team_get, team_list
from retention import services
from retention.choices import HoldScope
from retention.selection import Policy, active_holds, dry_run, policy_of
from retention.selectors import hold_get, holds_of, overview, runs_of
from retention.tasks import retention_enforce_org
from workspace.models import Agent, Workflow

CAPABILITY = "admin.retention"
CONFLICT_RULES = [
    "A legal hold beats every window: what it covers is never deleted.",
    "Where the organization's window and a team's both apply, the longer retention wins.",
    "Zero data retention beats every window for payload content: it is never stored.",
]


def chart(runs: list[Any]) -> dict[str, Any]:
    """Stored rows per category at each run (oldest first), for the page's chart."""
    points = [r for r in reversed(runs) if r.plan.get("stored")]
    return {
        "days": [r.started_at.strftime("%Y-%m-%d %H:%M") for r in points],
        "rows": {
            c: [r.plan["stored"].get(c, {}).get("rows", 0) for r in points]
            for c in registry.CATEGORIES
        },
    }


class RetentionPageView(OrgView):
    capability = CAPABILITY

    def page(self, request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
        runs = runs_of(org=self.org)
        context = {
            **overview(org=self.org),
            "plan": extra.pop("plan", None) or dry_run(self.org),
            "holds": holds_of(org=self.org),
            "released": holds_of(org=self.org, released=True)[:20],
            "runs": runs[:10],
            "chart": chart(runs),
            "teams": list(team_list(org=self.org)),
            "agents": list(Agent.objects.filter(org=self.org).order_by("name")),
            "workflows": list(Workflow.objects.filter(org=self.org).order_by("name")),
            "scopes": HoldScope.choices,
            "rules": CONFLICT_RULES,
            **extra,
        }
        return render(request, "retention/retention.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request)


def windows_from(post: Any) -> dict[str, Any]:
    windows: dict[str, Any] = {}
    for key in registry.CATEGORIES:
        if post.get(f"forever_{key}"):
            windows[key] = None
        elif f"days_{key}" in post:
            windows[key] = post.get(f"days_{key}", "").strip()
    return windows


def shortened(old: dict[str, int | None], new: dict[str, Any]) -> list[str]:
    out = []
    for key, value in new.items():
        if value is None or not str(value).isdigit():
            continue
        if old.get(key) is None or int(value) < int(old[key]):
            out.append(key)
    return out


@method_decorator(never_cache, name="dispatch")
class RetentionWindowsView(RetentionPageView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        windows = windows_from(request.POST)
        confirm_forever = bool(request.POST.get("confirm_forever"))
        current = policy_of(self.org)
        shorter = shortened(current.windows, windows)
        if shorter and request.POST.get("confirmed") != "1":
            try:
                proposed = Policy(
                    windows={
                        **current.windows,
                        **{k: services.window_days(k, v, True) for k, v in windows.items()},
                    },
                    teams=current.teams,
                )
            except ValidationFailed as exc:
                self.fail(exc)
                return self.page(request, status=400)
            return self.page(
                request,
                plan=dry_run(self.org, policy=proposed),
                preview={
                    "what": "Shorter windows: the next run would delete this.",
                    "fields": [(k, "" if v is None else v) for k, v in windows.items()],
                    "forever": [k for k, v in windows.items() if v is None],
                    "confirm_forever": confirm_forever,
                    "shortened": shorter,
                },
            )
        try:
            services.policy_set(
                org=self.org, actor=request.user, windows=windows, confirm_forever=confirm_forever
            )
        except ServiceError as exc:
            self.fail(exc)
            return self.page(request, status=400)
        messages.success(request, "Retention windows saved.")
        return redirect("governance:retention", slug=self.org.slug)


class RetentionTeamView(RetentionPageView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        team = found(team_get(org=self.org, pk=request.POST.get("team")), "team")
        try:
            services.team_window_set(
                team=team,
                actor=request.user,
                category=request.POST.get("category", ""),
                days=None if request.POST.get("forever") else request.POST.get("days", ""),
                confirm_forever=bool(request.POST.get("confirm_forever")),
                clear=bool(request.POST.get("clear")),
            )
        except ServiceError as exc:
            self.fail(exc)
            return self.page(request, status=400)
        messages.success(request, f"{team.name}'s window saved.")
        return redirect("governance:retention", slug=self.org.slug)


class RetentionZdrView(RetentionPageView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        scope = request.POST.get("scope", "org")
        resource = None
        if scope in ("agent", "workflow"):
            model = Agent if scope == "agent" else Workflow
            resource = found(
                model.objects.filter(org=self.org, pk=as_id(request.POST.get("target"))).first(),
                scope,
            )
        enabled = request.POST.get("enabled") == "1"
        services.zdr_set(org=self.org, actor=request.user, enabled=enabled, resource=resource)
        what = str(resource) if resource else self.org.name
        messages.success(
            request,
            f"Zero data retention is {'on' if enabled else 'off'} for {what}."
            + (" Stored content is emptied by the next run." if enabled else ""),
        )
        return redirect("governance:retention", slug=self.org.slug)


class HoldPlaceView(RetentionPageView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        times = {}
        for name in ("starts", "ends"):
            raw = request.POST.get(name, "")
            times[name] = parse_instant(raw) if raw else None
            if raw and times[name] is None:
                self.fail(ValidationFailed(f"{name}={raw[:40]!r} is not a date-time."))
                return self.page(request, status=400)
        try:
            hold = services.hold_place(
                org=self.org,
                actor=request.user,
                scope=request.POST.get("scope", ""),
                target_id=request.POST.get("target") or None,
                reason=request.POST.get("reason", ""),
                case_reference=request.POST.get("case_reference", ""),
                **times,
            )
        except ServiceError as exc:
            self.fail(exc)
            return self.page(request, status=400)
        messages.success(request, f"Legal hold placed on {hold.target_label}.")
        return redirect("governance:retention", slug=self.org.slug)


@method_decorator(never_cache, name="dispatch")
class HoldReleaseView(RetentionPageView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        hold = found(hold_get(org=self.org, pk=pk), "legal hold")
        if request.POST.get("confirmed") != "1":
            remaining = [h for h in active_holds(self.org) if h.pk != hold.pk]
            return self.page(
                request,
                plan=dry_run(self.org, holds=remaining),
                release_preview=hold,
            )
        services.hold_release(hold=hold, actor=request.user)
        messages.success(request, f"The hold on {hold.target_label} is released.")
        return redirect("governance:retention", slug=self.org.slug)


class RetentionRunNowView(RetentionPageView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        retention_enforce_org.delay(self.org.pk)
        messages.success(request, "Retention run started: its receipt shows here when it ends.")
        return redirect("governance:retention", slug=self.org.slug)
