"""Usage analytics of the gateway: runs, tool calls, errors, refusals and active members per day
(UTC), for the whole organization and per team, member, agent and integration.

How the figures stay exact: they are never incremented. The trace writer marks each
(organization, day) it stores traces for (gateway.traces.store, in the traces' transaction);
`rollup()` takes the marked days (locking the marks), deletes their rows and recomputes them
from the traces with GROUP BY, in one transaction. A day marked again while it is being
recomputed (a trace stored meanwhile) waits for that transaction on the mark's row and is
recomputed at the next pass. The beat runs a pass every minute (`mcp-usage-rollup`); `manage.py
mcp_usage_rollup --all` recomputes every day that has traces. Charts read only these rows: a
period of 90 days is at most 90 rows per key.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Q, Sum

from gateway.models import ToolTrace, UsageDaily, UsageDirty

DIMENSIONS = {
    "all": None,
    "team": "team_id",
    "member": "member_id",
    "agent": "agent_id",
    "integration": "integration",
}
METRICS = ("runs", "calls", "errors", "denied", "members")
MAX_DAYS = 366
TOP = 8  # keys drawn on a chart; the rest are summed as "other"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _figures(qs: Any) -> dict[str, Any]:
    return {
        "calls": Count("id"),
        "errors": Count("id", filter=Q(outcome="error")),
        "denied": Count("id", filter=Q(outcome="denied")),
        "runs": Count("run_id", distinct=True),
        "members": Count("member_id", distinct=True),
    }


def compute(org_id: int, day: date) -> list[UsageDaily]:
    """The day's rows, from its traces (five GROUP BY reads on the (org, at) index)."""
    start, end = _bounds(day)
    base = ToolTrace.objects.filter(org_id=org_id, at__gte=start, at__lt=end)
    made: list[UsageDaily] = []
    for dimension, column in DIMENSIONS.items():
        if column is None:
            total = base.aggregate(**_figures(base))
            if total["calls"]:
                made.append(UsageDaily(org_id=org_id, day=day, dimension="all", key="", **total))
            continue
        grouped = (
            base.exclude(**{f"{column}__isnull": True})
            .exclude(**{column: ""} if column == "integration" else {})
            .values(column)
            .annotate(**_figures(base))
            .order_by()
        )
        for row in grouped:
            key = str(row.pop(column))
            made.append(UsageDaily(org_id=org_id, day=day, dimension=dimension, key=key, **row))
    return made


def rollup(limit: int = 500) -> int:
    """Recomputes up to `limit` marked days; returns how many."""
    done = 0
    while done < limit:
        with transaction.atomic():
            marks = list(
                UsageDirty.objects.select_for_update(skip_locked=True).order_by("day", "org_id")[
                    : min(50, limit - done)
                ]
            )
            if not marks:
                break
            for mark in marks:
                UsageDaily.objects.filter(org_id=mark.org_id, day=mark.day).delete()
                UsageDaily.objects.bulk_create(compute(mark.org_id, mark.day))
            UsageDirty.objects.filter(pk__in=[m.pk for m in marks]).delete()
            done += len(marks)
    return done


def mark_all(org_id: int | None = None) -> int:
    """Marks every day that has traces (a backfill: `mcp_usage_rollup --all`)."""
    from django.db.models.functions import TruncDate

    qs = ToolTrace.objects.all() if org_id is None else ToolTrace.objects.filter(org_id=org_id)
    days = qs.annotate(day=TruncDate("at", tzinfo=UTC)).values_list("org_id", "day").distinct()
    marks = [UsageDirty(org_id=o, day=d) for o, d in days]
    UsageDirty.objects.bulk_create(marks, ignore_conflicts=True)
    return len(marks)


# --- Reading -------------------------------------------------------------------------------


def _labels(org: Any, dimension: str, keys: set[str]) -> dict[str, str]:
    """Names for the keys (one query): e-mails, team and agent names, integration names."""
    ids = sorted(int(k) for k in keys if k.isdigit())
    if dimension == "member":
        from orgs.models import Membership

        found = Membership.objects.filter(org=org, pk__in=ids).values_list("pk", "user__email")
    elif dimension == "team":
        from orgs.models import Team

        found = Team.objects.filter(org=org, pk__in=ids).values_list("pk", "name")
    elif dimension == "agent":
        from workspace.models import Agent

        found = Agent.objects.filter(org=org, pk__in=ids).values_list("pk", "name")
    elif dimension == "integration":
        from orgs.rbac import INTEGRATIONS

        return {slug: name for slug, name in INTEGRATIONS if slug in keys}
    else:
        return {"": "All"}
    named = {str(pk): name for pk, name in found}
    return {k: named.get(k, f"#{k} (gone)") for k in keys}


def _period(org: Any, dimension: str, since: date, until: date) -> Any:
    return UsageDaily.objects.filter(
        org=org, dimension=dimension, day__gte=since, day__lte=until
    ).order_by()


def rows(org: Any, dimension: str, since: date, until: date) -> list[dict[str, Any]]:
    """Every row of the period, by day then key, labelled (the CSV and the API)."""
    found = list(
        _period(org, dimension, since, until).order_by("day", "key").values("day", "key", *METRICS)
    )
    labels = _labels(org, dimension, {r["key"] for r in found})
    for r in found:
        r["day"] = r["day"].isoformat()
        r["label"] = labels.get(r["key"], r["key"])
    return found


def totals(org: Any, dimension: str, since: date, until: date) -> list[dict[str, Any]]:
    """Per key over the period: runs, calls, errors and refusals summed, and the most active
    members on one day (distinct counts of different days do not add up)."""
    found = list(
        _period(org, dimension, since, until)
        .values("key")
        .annotate(
            runs=Sum("runs"),
            calls=Sum("calls"),
            errors=Sum("errors"),
            denied=Sum("denied"),
            members=Max("members"),
        )
        .order_by("-calls", "key")
    )
    labels = _labels(org, dimension, {r["key"] for r in found})
    for r in found:
        r["label"] = labels.get(r["key"], r["key"])
    return found


def chart(org: Any, dimension: str, since: date, until: date) -> dict[str, Any]:
    """Per metric, a series per key: the TOP keys by calls over the period, the rest summed
    per day as "other" (three reads, whatever the number of keys)."""
    days = [(since + timedelta(days=i)).isoformat() for i in range((until - since).days + 1)]
    at = {d: i for i, d in enumerate(days)}
    period = _period(org, dimension, since, until)
    top = list(period.values("key").annotate(total=Sum("calls")).order_by("-total", "key")[:TOP])
    keys = [t["key"] for t in top]
    labels = _labels(org, dimension, set(keys))
    series: dict[str, dict[str, list[int]]] = {m: {} for m in METRICS}

    def add(label: str, row: dict[str, Any]) -> None:
        for m in METRICS:
            series[m].setdefault(label, [0] * len(days))[at[row["day"].isoformat()]] += row[m]

    for row in period.filter(key__in=keys).values("day", "key", *METRICS):
        add(labels.get(row["key"], row["key"]), row)
    others = (
        period.exclude(key__in=keys)
        .values("day")
        .annotate(**{m: Sum(m) for m in METRICS})
        .order_by("day")
    )
    for row in others:
        add("other", row)
    return {
        "days": days,
        "series": series,
        "totals": [(labels.get(t["key"], t["key"]), t["total"]) for t in top],
    }


def as_csv(found: list[dict[str, Any]], dimension: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "dimension", "key", "label", *METRICS[:-1], "active_members"])
    for r in found:
        label = r["label"]
        if label[:1] in ("=", "+", "-", "@"):  # a spreadsheet must not run a name as a formula
            label = "'" + label
        writer.writerow(
            [r["day"], dimension, r["key"], label, *(r[m] for m in METRICS[:-1]), r["members"]]
        )
    return out.getvalue()


def period(params: Any, default_days: int = 30) -> tuple[str, date, date]:
    """(dimension, since, until) from a query string: `dimension` (all, team, member, agent,
    integration; default team), `since` and `until` as YYYY-MM-DD (default: the last 30 days,
    UTC). ValidationFailed says what is wrong."""
    from core.exceptions import ValidationFailed

    dimension = str(params.get("dimension") or "team")
    if dimension not in DIMENSIONS:
        raise ValidationFailed(
            f"dimension must be one of {', '.join(DIMENSIONS)}.", field="dimension"
        )
    today = datetime.now(UTC).date()

    def day(name: str, default: date) -> date:
        raw = params.get(name)
        if not raw:
            return default
        try:
            return date.fromisoformat(str(raw)[:10])
        except ValueError:
            raise ValidationFailed(
                f"{name} must be a date as YYYY-MM-DD (for example {today.isoformat()}).",
                field=name,
            ) from None

    until = day("until", today)
    since = day("since", until - timedelta(days=default_days - 1))
    if since > until:
        raise ValidationFailed("since must not be after until.", field="since")
    if (until - since).days >= MAX_DAYS:
        raise ValidationFailed(f"A period covers at most {MAX_DAYS} days.", field="since")
    return dimension, since, until
