from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from audit import ledger
from audit.choices import OUTCOMES, AuditAction, actions_matching
from audit.models import AuditSeal
from audit.selectors import AuditFilter, audit_page, event_in, seal_of
from auditlog.figures import audit_figures
from auditlog.services import export_start, last_verification
from auditlog.tasks import audit_verify_org
from core.exceptions import ServiceError
from core.input import as_id, parse_instant
from orgs.access import OrgActionView, OrgView, found
from orgs.selectors import member_of_user

WINDOWS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


def filters_from(params: Any) -> tuple[AuditFilter, list[str]]:
    """Filters from query parameters, and a plain-words error for each one that is wrong.
    `action` may repeat (any of them); each is an exact name or a prefix ending in a dot."""
    errors: list[str] = []
    actions = []
    raw_actions = (
        params.getlist("action") if hasattr(params, "getlist") else [params.get("action", "")]
    )
    for action in (a[:64] for a in raw_actions if a):
        if not actions_matching(action):
            errors.append(
                f"Unknown action {action!r}: use a name from the catalog, or a prefix ending "
                "in a dot such as 'scim.'."
            )
        else:
            actions.append(action)
    outcome = params.get("outcome", "")
    if outcome and outcome not in OUTCOMES:
        errors.append(f"Unknown outcome {outcome[:32]!r}; use allowed, denied or failed.")
        outcome = ""
    since = until = None
    window = params.get("window", "")
    if window in WINDOWS:
        since = timezone.now() - WINDOWS[window]
    elif window:
        errors.append(f"Unknown time window {window!r}; use 1h, 24h, 7d, 30d or 90d.")
    for name in ("since", "until"):
        raw = params.get(name, "")
        value = parse_instant(raw)
        if raw and value is None:
            errors.append(
                f"{name}={raw[:64]!r} is not a date-time between the years 1 and 9999 in UTC "
                "(use 2026-01-31T13:00, optionally with an offset such as +02:00)."
            )
        elif value is not None:
            if name == "since":
                since = value
            else:
                until = value
    return AuditFilter(
        actor=params.get("actor", "").strip()[:300],
        actions=tuple(actions),
        target=params.get("target", "").strip()[:300],
        outcome=outcome,
        since=since,
        until=until,
    ), errors


class AuditLogView(OrgView):
    capability = "admin.audit_log"

    def get(self, request: HttpRequest) -> HttpResponse:
        filters, errors = filters_from(request.GET)
        before = request.GET.get("before", "")
        before_id = as_id(before)
        if before and before_id is None:
            errors.append(f"before={before[:64]!r} is not an event id; start from the first page.")
        events, next_cursor = audit_page(org=self.org, filters=filters, before=before_id)
        query = request.GET.copy()
        query.pop("before", None)
        return render(
            request,
            "auditlog/audit_log.html",
            {
                "events": events,
                "next_cursor": next_cursor,
                "errors": errors,
                "params": request.GET,
                "actions": AuditAction.choices,
                "prefixes": sorted({a.split(".")[0] + "." for a in AuditAction.values}),
                "outcomes": OUTCOMES,
                "windows": list(WINDOWS),
                "base_query": query.urlencode(),
                "export_fields": [
                    (k, v) for k, values in query.lists() if k != "format" for v in values
                ],
                "verification": last_verification(self.org),
                "figures": audit_figures(org=self.org) if before_id is None else None,
                "last_seal": AuditSeal.objects.filter(org_key=self.org.pk)
                .order_by("-seq")
                .only("seq", "sealed_at", "count", "last_id")
                .first(),
                "is_first_page": before_id is None,
            },
            status=400 if errors else 200,
        )


class AuditVerifyView(OrgActionView):
    """Verify now: the organization's trail is checked by a Celery job; the page shows the
    result when it is done."""

    capability = "admin.audit_log"
    back = "audit_log"

    def act(self, request: HttpRequest) -> str:
        audit_verify_org.delay(self.org.pk, request.user.pk)
        return "Verification started: the result shows here when it finishes."


class AuditExportView(OrgView):
    """The filtered set as a download: JSON Lines (with the seals that cover it) or CSV,
    streamed; audited as `audit.exported`. A POST (the export is audited: nothing is written
    on GET), with the page's filters as its fields."""

    capability = "admin.audit_log"
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        filters, errors = filters_from(request.POST)
        if errors:
            return HttpResponse(" ".join(errors), status=400, content_type="text/plain")
        fmt = request.POST.get("format", "jsonl")
        try:
            lines = export_start(
                org=self.org, actor=request.user, filters=filters, fmt=fmt, door="dashboard"
            )
        except ServiceError as exc:
            return HttpResponse(exc.message, status=400, content_type="text/plain")
        return export_response(lines, self.org.slug, fmt)


def export_response(lines: Any, slug: str, fmt: str) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(
        lines,
        content_type="application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="audit-{slug}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


# The pages an event's target links to, by its type (the page itself turns away what the
# viewer may not see, or what is gone).
TARGET_PAGES = {
    "membership": "governance:member_detail",
    "team": "governance:team_detail",
    "customrole": "governance:role_edit",
    "agent": "governance:agent_detail",
    "workflow": "governance:workflow_detail",
    "run": "governance:run_detail",
    "auditstream": "governance:audit_stream",
}


class AuditEventView(OrgView):
    """One event, every field: its actor and target linked to their pages, its leaf checked
    against its fields, and the seal that covers it."""

    capability = "admin.audit_log"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        event = found(event_in(org=self.org, pk=pk), "event")
        actor_url = None
        if event.actor_kind == "user" and event.actor_id:
            member = member_of_user(org=self.org, user_id=event.actor_id)
            if member is not None:
                actor_url = reverse("governance:member_detail", args=[self.org.slug, member.pk])
        target_url = None
        page = TARGET_PAGES.get(event.target_type)
        if page and as_id(event.target_id):
            target_url = reverse(page, args=[self.org.slug, as_id(event.target_id)])
        # A tool call the MCP gateway refused: the run's refused calls on the Tool calls page.
        data = event.data if isinstance(event.data, dict) else {}
        run_calls_url = None
        if event.action == "access.denied" and data.get("door") == "mcp_gateway":
            run = as_id(data.get("run"))
            run_calls_url = reverse("governance:traces", args=[self.org.slug]) + (
                f"?run={run}&outcome=denied" if run else "?outcome=denied"
            )
        return render(
            request,
            "auditlog/event.html",
            {
                "event": event,
                "action_label": dict(AuditAction.choices).get(event.action, ""),
                "actor_url": actor_url,
                "target_url": target_url,
                "run_calls_url": run_calls_url,
                "leaf_ok": not event.leaf
                or ledger.leaf({n: getattr(event, n) for n in ledger.FIELDS}).hex() == event.leaf,
                "seal": seal_of(event),
            },
        )
