"""Reads of the workspace that pages need beyond single objects: the Overview's daily figures
and the runs list (what the viewer may see, and its filters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.models import AuditEvent
from core.input import as_id, parse_instant
from orgs import rbac
from orgs.models import Membership, Organization
from workspace.choices import RunStatus, RunTrigger
from workspace.decisions import visible_q
from workspace.models import Agent, Run, Workflow

SIGN_INS = ("auth.login_succeeded", "sso.login_succeeded")


def daily_figures(*, org: Organization, days: int = 30) -> dict[str, Any]:
    """Per day of the last `days` (UTC): runs by team, sign-ins, denied attempts. Three
    aggregate queries, whatever the volume."""
    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    labels = [first + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(labels)}

    def series() -> list[int]:
        return [0] * days

    by_team: dict[str, list[int]] = {}
    for day, team, n in (
        Run.objects.filter(org=org, started_at__date__gte=first)
        .annotate(day=TruncDate("started_at"))
        .values_list("day", "team__name")
        .annotate(n=Count("id"))
    ):
        if _day(day) in index:
            by_team.setdefault(team or "No team", series())[index[_day(day)]] = n
    events = AuditEvent.objects.filter(org_id=org.pk, occurred_at__date__gte=first).annotate(
        day=TruncDate("occurred_at")
    )
    sign_ins, denied = series(), series()
    for day, action, n in (
        events.filter(action__in=(*SIGN_INS, "access.denied"))
        .values_list("day", "action")
        .annotate(n=Count("id"))
    ):
        target = denied if action == "access.denied" else sign_ins
        if _day(day) in index:
            target[index[_day(day)]] += n
    return {
        "days": [d.isoformat() for d in labels],
        "runs_by_team": dict(sorted(by_team.items())),
        "sign_ins": sign_ins,
        "denied": denied,
    }


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# The runs list's filters, shared by the Runs page and GET /api/v1/runs/: each names a column,
# and a value that is not valid for it is reported back rather than ignored in silence.
RUN_FILTERS = ("status", "trigger", "agent", "workflow", "team", "member", "since", "until")


@dataclass(frozen=True)
class RunFilter:
    status: str = ""
    trigger: str = ""
    agent: int | None = None
    workflow: int | None = None
    team: int | None = None
    member: str = ""  # an e-mail, or its beginning
    since: datetime | None = None
    until: datetime | None = None
    problems: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Any) -> RunFilter:
        problems: list[str] = []
        values: dict[str, Any] = {}

        def text(name: str) -> str:
            raw = params.get(name, "")
            return raw.strip() if isinstance(raw, str) else ""

        for name, choices in (("status", RunStatus.values), ("trigger", RunTrigger.values)):
            value = text(name)
            if value and value not in choices:
                problems.append(f"{name} must be one of {', '.join(choices)}.")
            elif value:
                values[name] = value
        for name in ("agent", "workflow", "team"):
            value = text(name)
            if value and as_id(value) is None:
                problems.append(f"{name} is an id (digits).")
            elif value:
                values[name] = as_id(value)
        member = text("member")
        if member:
            values["member"] = member[:254].lower()
        for name in ("since", "until"):
            value = text(name)
            instant = parse_instant(value) if value else None
            if value and instant is None:
                problems.append(f"{name} is an ISO date (2026-11-01) or date-time.")
            elif instant is not None:
                # A bare date as `until` means the whole of that day.
                if name == "until" and len(value) == 10:
                    instant += timedelta(days=1)
                values[name] = instant
        return cls(**values, problems=tuple(problems))

    def apply(self, qs: QuerySet[Run]) -> QuerySet[Run]:
        if self.status:
            qs = qs.filter(status=self.status)
        if self.trigger:
            qs = qs.filter(trigger=self.trigger)
        if self.agent:
            qs = qs.filter(agent_id=self.agent)
        if self.workflow:
            qs = qs.filter(workflow_id=self.workflow)
        if self.team:
            qs = qs.filter(team_id=self.team)
        if self.member:
            qs = qs.filter(member__user__email__lower__startswith=self.member)
        if self.since:
            qs = qs.filter(started_at__gte=self.since)
        if self.until:
            qs = qs.filter(started_at__lt=self.until)
        return qs


def runs_visible(*, org: Organization, membership: Membership) -> QuerySet[Run]:
    """Every run of the organization for an admin; otherwise the member's own runs and those
    of the agents and workflows they may view."""
    qs = Run.objects.filter(org=org)
    if rbac.is_admin(membership):
        return qs
    return qs.filter(
        Q(member=membership)
        | Q(agent__in=Agent.objects.filter(org=org).filter(visible_q(membership, "agent")))
        | Q(workflow__in=Workflow.objects.filter(org=org).filter(visible_q(membership, "workflow")))
    )
