"""What the Data retention page and API show: the windows with their defaults, team windows,
zero data retention, holds, the last receipts, the next run and the alert."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from core import retention as registry
from core.clock import retention_at
from orgs.models import Organization
from retention.models import LegalHold, RetentionRun
from retention.monitor import is_overdue, last_completed
from retention.selection import policy_of
from workspace.models import Agent, Workflow


def next_run(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    hour, minute = retention_at()
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def hold_get(*, org: Organization, pk: Any) -> LegalHold | None:
    text = str(pk)
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return LegalHold.objects.filter(org=org, pk=int(text)).first()


def holds_of(*, org: Organization, released: bool = False) -> list[LegalHold]:
    qs = LegalHold.objects.filter(org=org, released_at__isnull=not released)
    return list(qs.order_by("-id")[:200])


def runs_of(*, org: Organization, limit: int = 30) -> list[RetentionRun]:
    """The last runs, each with `months`: the whole months it dropped that held its rows."""
    runs = list(RetentionRun.objects.filter(org=org).order_by("-id")[:limit])
    for run in runs:
        run.months = [m for m in run.plan.get("months_dropped", []) if m["rows"]]
    return runs


def overview(*, org: Organization) -> dict[str, Any]:
    policy = policy_of(org)
    last = last_completed(org)
    return {
        "categories": [
            {
                "key": c.key,
                "label": c.label,
                "description": c.description,
                "default_days": c.default_days,
                "days": policy.windows.get(c.key),
                "per_team": c.per_team,
                "enforced": any(t.enforced for t in registry.TABLES if t.category == c.key),
                "team_windows": policy.teams.get(c.key, {}),
            }
            for c in registry.CATEGORIES.values()
        ],
        "zero_data_retention": org.zero_data_retention,
        "zdr_agents": list(
            Agent.objects.filter(org=org, zero_data_retention=True).order_by("name")
        ),
        "zdr_workflows": list(
            Workflow.objects.filter(org=org, zero_data_retention=True).order_by("name")
        ),
        "last_completed": last,
        "next_run": next_run(),
        "overdue": is_overdue(org),
    }
