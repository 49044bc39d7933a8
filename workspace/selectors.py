"""Reads of the workspace that pages need beyond single objects: the Overview's daily figures."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.models import AuditEvent
from orgs.models import Organization
from workspace.models import Run

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
