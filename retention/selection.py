"""What expires: one selection serves the dry run and the enforcement (retention.engine), so
what a dry run shows is what the next run deletes.

A row of a registered table (core.retention) is deleted when:
- its time is older than its category's window: the organization's, or where its team has its
  own window for that category, the longer of the two (no window: "keep forever");
- no active legal hold covers it: a hold on the organization, or on the row's team, member,
  agent or workflow (through the paths the table registered), within the hold's time range if
  it has one;
- the table's own condition holds (a run goes only after its log lines, tool calls and
  payloads; a log line or tool call only after its payloads).
Zero data retention empties payload content (size and SHA-256 stay) wherever the organization,
the agent or the workflow has it on, except under a hold. The audit log goes by whole sealed
segments (audit_purgeable).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import Any

from django.apps import apps
from django.db.models import Count, Max, Min, Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast, Length
from django.utils import timezone

from audit.models import AuditEvent, AuditSeal
from audit.purge import last_purge
from audit.sealing import in_range
from core import retention as registry
from orgs.models import Organization
from retention.models import LegalHold, RetentionPolicy, TeamRetention
from siem.models import AuditStream


@dataclass
class Policy:
    """The windows one run applies: {category: days or None} and per team overrides."""

    windows: dict[str, int | None]
    teams: dict[str, dict[int, int | None]] = field(default_factory=dict)

    def as_plan(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "teams": {c: {str(t): d for t, d in v.items()} for c, v in self.teams.items()},
        }

    @classmethod
    def from_plan(cls, plan: dict[str, Any]) -> Policy:
        return cls(
            windows=dict(plan["windows"]),
            teams={c: {int(t): d for t, d in v.items()} for c, v in plan.get("teams", {}).items()},
        )


def windows_of(org: Organization) -> dict[str, int | None]:
    stored = RetentionPolicy.objects.filter(org=org).values_list("windows", flat=True).first()
    stored = stored or {}
    return {key: stored.get(key, c.default_days) for key, c in registry.CATEGORIES.items()}


def policy_of(org: Organization) -> Policy:
    teams: dict[str, dict[int, int | None]] = {}
    for team_id, category, days in TeamRetention.objects.filter(org=org).values_list(
        "team_id", "category", "days"
    ):
        teams.setdefault(category, {})[team_id] = days
    return Policy(windows=windows_of(org), teams=teams)


def active_holds(org: Organization) -> list[LegalHold]:
    return list(LegalHold.objects.filter(org=org, released_at__isnull=True).order_by("id"))


def longest(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a, b)


def _model(table: registry.Table) -> Any:
    return apps.get_model(table.model)


def base(table: registry.Table, org: Organization) -> QuerySet:
    qs = _model(table).objects.all()
    if table.org:
        qs = qs.filter(**{table.org: org.pk})
    if table.where is not None:
        qs = qs.filter(table.where())
    return qs


def expired_q(table: registry.Table, policy: Policy, now: datetime) -> Q | None:
    """Rows older than their window (None: nothing in this table ever expires)."""
    category = registry.CATEGORIES[table.category]
    org_days = policy.windows.get(table.category)
    overrides = policy.teams.get(table.category, {}) if category.per_team and table.team else {}
    parts = []
    for team_id, days in overrides.items():
        effective = longest(org_days, days)
        if effective is not None:
            parts.append(
                Q(**{table.team: team_id, f"{table.time}__lt": now - timedelta(days=effective)})
            )
    if org_days is not None:
        rest = Q(**{f"{table.time}__lt": now - timedelta(days=org_days)})
        if overrides:
            rest &= ~Q(**{f"{table.team}__in": list(overrides)})
        parts.append(rest)
    return reduce(or_, parts) if parts else None


def hold_q(table: registry.Table, hold: LegalHold) -> Q | None:
    """The rows of this table a hold covers (None: none of them)."""
    if hold.scope == "org":
        q = Q(pk__isnull=False)
    else:
        path = getattr(table, hold.scope, None)
        if not path:
            return None
        q = Q(**{path: hold.target_id})
    if hold.starts:
        q &= Q(**{f"{table.time}__gte": hold.starts})
    if hold.ends:
        q &= Q(**{f"{table.time}__lt": hold.ends})
    return q


def held_q(table: registry.Table, holds: list[LegalHold]) -> Q | None:
    parts = [q for q in (hold_q(table, h) for h in holds) if q is not None]
    return reduce(or_, parts) if parts else None


def doomed_q(
    table: registry.Table,
    org: Organization,
    policy: Policy,
    now: datetime,
    holds: list[LegalHold],
    *,
    planning: bool = True,
) -> Q | None:
    """The condition a row of this table is deleted under: expired, not held, and allowed by
    the table's own condition (None: no row of it ever expires).

    Planning (the dry run, a run's plan), a row whose dependants are doomed counts as doomed
    with them: its condition says "every dependant left is doomed too", written as a negated
    condition on the dependants (an anti-join the database answers per row from an index; a
    NOT IN over the dependants' whole selection made the dry run quadratic on PostgreSQL).
    Enforcing, the tables are walked dependants first, so by the time a run's row comes up its
    doomed dependants are gone and the plain "nothing left" condition selects the same rows."""
    expired = expired_q(table, policy, now)
    if expired is None:
        return None
    q = expired
    if table.org:
        q &= Q(**{table.org: org.pk})
    if table.where is not None:
        q &= table.where()
    held = held_q(table, holds)
    if held is not None:
        q &= ~held
    if table.only_when is not None:
        if planning:
            q &= table.only_when(lambda label: doomed_q_of(label, org, policy, now, holds))
        else:
            q &= table.only_when(None)
    return q


def doomed_q_of(
    label: str, org: Organization, policy: Policy, now: datetime, holds: list[LegalHold]
) -> Q:
    """Any doomed row of one model, over all its tables (matches nothing when none can be)."""
    parts = [
        q
        for q in (
            doomed_q(t, org, policy, now, holds) for _, t in enforced_tables() if t.model == label
        )
        if q is not None
    ]
    return reduce(or_, parts) if parts else Q(pk__in=[])


def doomed(
    table: registry.Table,
    org: Organization,
    policy: Policy,
    now: datetime,
    holds: list[LegalHold],
    *,
    planning: bool = True,
) -> QuerySet | None:
    """The rows the run deletes (see doomed_q)."""
    q = doomed_q(table, org, policy, now, holds, planning=planning)
    return None if q is None else _model(table).objects.filter(q)


def zdr_blank(table: registry.Table, org: Organization, holds: list[LegalHold]) -> QuerySet | None:
    """Payload content that zero data retention empties (never under a hold)."""
    if not table.zdr_column:
        return None
    flags = reduce(or_, (Q(**{flag: True}) for flag in table.zdr_flags))
    qs = base(table, org).filter(flags).exclude(**{table.zdr_column: ""})
    held = held_q(table, holds)
    return qs.exclude(held) if held is not None else qs


def _bytes(qs: QuerySet, table: registry.Table) -> int:
    if not table.size:
        return 0
    return int(qs.aggregate(n=Sum(Length(table.size)))["n"] or 0)


def enforced_tables() -> Iterator[tuple[str, registry.Table]]:
    for index, table in enumerate(registry.TABLES):
        if table.enforced and table.org:
            yield f"{index}:{table.model}:{table.category}", table


def dry_run(
    org: Organization,
    now: datetime | None = None,
    *,
    policy: Policy | None = None,
    holds: list[LegalHold] | None = None,
) -> dict[str, Any]:
    """Per category: rows, oldest and newest, bytes, and what holds spare (per hold too); and
    what zero data retention would empty. Exactly the enforcement's selection. `policy` and
    `holds` preview a change before it is saved (shorter windows, a hold released)."""
    now = now or timezone.now()
    policy = policy or policy_of(org)
    holds = active_holds(org) if holds is None else holds
    categories: dict[str, dict[str, Any]] = {
        key: {
            "label": c.label,
            "window_days": policy.windows.get(key),
            "team_windows": {str(t): d for t, d in policy.teams.get(key, {}).items()},
            "rows": 0,
            "bytes": 0,
            "oldest": None,
            "newest": None,
            "spared_by_holds": 0,
            "zdr_blank": 0,
            "enforced": any(t.enforced for t in registry.TABLES if t.category == key),
        }
        for key, c in registry.CATEGORIES.items()
    }
    spared_per_hold = {h.pk: 0 for h in holds}
    for _, table in enforced_tables():
        entry = categories[table.category]
        qs = doomed(table, org, policy, now, [])
        unheld = doomed(table, org, policy, now, holds)
        if qs is not None and unheld is not None:
            rows = unheld.count()
            entry["rows"] += rows
            if rows:
                times = unheld.aggregate(lo=Min(table.time), hi=Max(table.time))
                entry["oldest"] = _earliest(entry["oldest"], times["lo"])
                entry["newest"] = _latest(entry["newest"], times["hi"])
                entry["bytes"] += _bytes(unheld, table)
            for hold in holds:
                covered = hold_q(table, hold)
                if covered is not None:
                    spared = qs.filter(covered).count()
                    spared_per_hold[hold.pk] += spared
            held = held_q(table, holds)
            if held is not None:
                entry["spared_by_holds"] += qs.filter(held).count()
        blank = zdr_blank(table, org, holds)
        if blank is not None:
            entry["zdr_blank"] += blank.count()
    audit = categories.get("audit_log")
    if audit is not None:
        seals = audit_purgeable(org, policy, now, holds)
        figures = _audit_figures(org, seals)
        audit.update(rows=figures["rows"], bytes=figures["bytes"], enforced=True)
        audit["oldest"], audit["newest"] = figures["oldest"], figures["newest"]
        audit["seals"] = len(seals)
    for entry in categories.values():
        for name in ("oldest", "newest"):
            entry[name] = entry[name].isoformat() if entry[name] else None
    return {
        "organization": org.slug,
        "now": now.isoformat(),
        "categories": categories,
        "holds": [
            {
                "id": h.pk,
                "scope": h.scope,
                "target": h.target_label,
                "spares": spared_per_hold[h.pk],
            }
            for h in holds
        ],
    }


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


# --- The audit log: whole sealed segments -----------------------------------------------------


def audit_purgeable(
    org: Organization, policy: Policy, now: datetime, holds: list[LegalHold]
) -> list[AuditSeal]:
    """The seals whose events the next run purges: the oldest run of seals after the last
    purge, each sealed before the window's start, none of whose events an organization hold
    covers, and none an audit stream has yet to deliver."""
    days = policy.windows.get("audit_log")
    org_holds = [h for h in holds if h.scope == "org"]
    if days is None or any(h.starts is None and h.ends is None for h in org_holds):
        return []
    cutoff = now - timedelta(days=days)
    last = last_purge(org.pk)
    done = last.through_seq if last else 0
    cursors = list(AuditStream.objects.filter(org=org).values_list("cursor_seq", flat=True))
    undelivered_after = min(cursors) if cursors else None
    out: list[AuditSeal] = []
    previous_hi = last.bound_hi if last else 0
    seals = AuditSeal.objects.filter(org_key=org.pk, seq__gt=done, sealed_at__lt=cutoff)
    for seal in seals.order_by("seq").defer("manifest").iterator(chunk_size=200):
        if seal.seq != done + len(out) + 1:
            break
        if undelivered_after is not None and seal.seq > undelivered_after:
            break
        if org_holds and _audit_held(org, previous_hi, seal, org_holds):
            break
        out.append(seal)
        previous_hi = seal.bound_hi
    return out


def _audit_held(org: Organization, lo: int, seal: AuditSeal, holds: list[LegalHold]) -> bool:
    span = AuditEvent.objects.filter(in_range(lo, seal.bound_hi), org_id=org.pk).aggregate(
        lo=Min("occurred_at"), hi=Max("occurred_at")
    )
    if span["lo"] is None:
        return False
    return any(
        (h.starts is None or span["hi"] >= h.starts) and (h.ends is None or span["lo"] < h.ends)
        for h in holds
    )


def _audit_figures(org: Organization, seals: list[AuditSeal]) -> dict[str, Any]:
    """Rows, bytes and time span of the events a purge would take (and any left below an
    earlier purge's bound by a run that was cut off)."""
    last = last_purge(org.pk)
    bound = seals[-1].bound_hi if seals else (last.bound_hi if last else 0)
    if not bound:
        return {"rows": 0, "bytes": 0, "oldest": None, "newest": None}
    qs = AuditEvent.objects.filter(in_range(0, bound), org_id=org.pk)
    figures = qs.aggregate(
        rows=Count("id"),
        lo=Min("occurred_at"),
        hi=Max("occurred_at"),
        size=Sum(Length(Cast("data", TextField()))),
    )
    return {
        "rows": figures["rows"],
        "bytes": int(figures["size"] or 0),
        "oldest": figures["lo"],
        "newest": figures["hi"],
    }


def stored(org: Organization) -> dict[str, dict[str, int]]:
    """Rows and bytes each category holds now (the page's chart, one point per run)."""
    out: dict[str, dict[str, int]] = {}
    for table in registry.TABLES:
        if not table.org:
            continue
        entry = out.setdefault(table.category, {"rows": 0, "bytes": 0})
        qs = base(table, org)
        entry["rows"] += qs.count()
        entry["bytes"] += _bytes(qs, table)
    return out
