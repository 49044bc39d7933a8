"""Whole expired months dropped at once (PostgreSQL, core.partitions): before a partitioned
model's rows are walked row by row, each of its monthly partitions whose every row is doomed
(retention.selection, the same condition the walk deletes under) is detached and dropped, its
rows counted into each organization's run in the same transaction as the detach.

A month with any row that must stay (a hold, a longer team window, an organization not in this
run, a row whose payloads are held) is kept whole, and its doomed rows go by the walk: held rows
are never moved. The check reads the month under a SHARE lock (writers of that month wait;
writers of the current month do not), then DETACH takes the parent's exclusive lock for a few
milliseconds, with a short lock timeout retried so that writers never queue behind it for long.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Length

from core import partitions
from core import retention as registry
from retention.models import RetentionPolicy, RetentionRun
from retention.selection import Policy, active_holds, doomed_q, enforced_tables, longest


def _shortest_days(policy: Policy, tables: list[registry.Table]) -> int | None:
    """The shortest window any row of these tables can have under this policy (None: none of
    them ever expires)."""
    days = []
    for table in tables:
        org_days = policy.windows.get(table.category)
        if org_days is not None:
            days.append(org_days)
        for team_days in policy.teams.get(table.category, {}).values():
            effective = longest(org_days, team_days)
            if effective is not None:
                days.append(effective)
    return min(days) if days else None


def drop_expired_months(runs: list[RetentionRun], label: str) -> list[dict[str, Any]]:
    """Drops every month of `label`'s table whose rows are all doomed under these runs; returns
    what was dropped. Nothing on SQLite or for a table that is not partitioned."""
    model = apps.get_model(label)
    table_name = model._meta.db_table
    column = partitions.partitioned_tables().get(table_name)
    tables = [t for _, t in enforced_tables() if t.model == label]
    if not column or not tables or not runs:
        return []
    time = tables[0].time
    if any(model._meta.get_field(t.time).column != column for t in tables):
        return []  # partitioned on another column than the one retention reads
    for run in runs:  # the row each hold placement locks, so the check below can lock it too
        RetentionPolicy.objects.get_or_create(org_id=run.org_id)
    # No row of a month that starts after every run's latest cutoff can be doomed.
    cutoffs = []
    for run in runs:
        days = _shortest_days(Policy.from_plan(run.plan), tables)
        if days is not None:
            cutoffs.append(run.now - timedelta(days=days))
    if not cutoffs:
        return []
    latest = max(cutoffs)
    dropped = []
    for month in partitions.months(table_name):
        if month.starts >= latest:
            break
        done = _drop_if_doomed(runs, model, tables, time, table_name, month)
        if done is not None:
            dropped.append(done)
    partitions.drop_detached()
    return dropped


def _drop_if_doomed(
    runs: list[RetentionRun],
    model: Any,
    tables: list[registry.Table],
    time: str,
    table_name: str,
    month: partitions.Month,
) -> dict[str, Any] | None:
    qn = connection.ops.quote_name
    with transaction.atomic():
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SET LOCAL lock_timeout = '10s'")
                cur.execute(f"LOCK TABLE {qn(month.name)} IN SHARE MODE")
        except DatabaseError:
            return None  # a writer of that month held on for 10 s: this month goes row by row
        with connection.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout = 0")
            cur.execute(f"SELECT count(*) FROM {qn(month.name)}")  # noqa: S608 (a catalog name)
            total = cur.fetchone()[0]
        # Holds as they are now, with their placement blocked until this commits.
        locked = list(
            RetentionPolicy.objects.select_for_update()
            .filter(org_id__in=[r.org_id for r in runs])
            .order_by("org_id")
        )
        assert len(locked) == len({r.org_id for r in runs})
        parts = []
        for run in runs:
            policy = Policy.from_plan(run.plan)
            holds = active_holds(run.org)
            for table in tables:
                q = doomed_q(table, run.org, policy, run.now, holds, planning=False)
                if q is not None:
                    parts.append((run, table, q))
        if total and not parts:
            return None
        counted: dict[int, dict[str, int]] = {}
        if total:
            which = Case(
                *[When(q, then=Value(i)) for i, (_, _, q) in enumerate(parts)],
                default=Value(-1),
                output_field=IntegerField(),
            )
            sizes = sorted({t.size for t in tables if t.size})
            groups = (
                model.objects.filter(Q(**{f"{time}__gte": month.starts, f"{time}__lt": month.ends}))
                .annotate(which=which)
                .values("which")
                .annotate(n=Count("pk"), **{f"b_{s}": Sum(Length(s)) for s in sizes})
            )
            for group in groups:
                counted[group["which"]] = group
            # Every row doomed, each once (a row missing from the groups has no run: kept).
            if -1 in counted or sum(g["n"] for g in counted.values()) != total:
                return None
        if not partitions.detach(table_name, month):
            return None  # the parent's lock never came: this month goes row by row
        per_run: dict[int, int] = {}
        for i, (run, table, _) in enumerate(parts):
            group = counted.get(i)
            if not group:
                continue
            fresh = RetentionRun.objects.select_for_update().get(pk=run.pk)
            counts = fresh.counts.setdefault(table.category, {"rows": 0, "bytes": 0, "blanked": 0})
            counts["rows"] += group["n"]
            counts["bytes"] += int(group.get(f"b_{table.size}") or 0) if table.size else 0
            fresh.save(update_fields=["counts"])
            run.counts = fresh.counts
            per_run[run.pk] = per_run.get(run.pk, 0) + group["n"]
        for run in runs:
            fresh = RetentionRun.objects.select_for_update().get(pk=run.pk)
            fresh.plan.setdefault("months_dropped", []).append(
                {
                    "table": table_name,
                    "month": f"{month.starts:%Y-%m}",
                    "rows": per_run.get(run.pk, 0),
                }
            )
            fresh.save(update_fields=["plan"])
            run.plan = fresh.plan
    return {"table": table_name, "month": f"{month.starts:%Y-%m}", "rows": total}
