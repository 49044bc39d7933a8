"""Enforcement: the selection (retention.selection) deleted in batches.

Each table is walked by primary key in batches (one transaction each: the rows, the run's
counts and its cursor move together), with a pause between batches so writers never wait long.
A run freezes its `now` and its windows when it starts; killed at any point, it resumes on the
next start with the same selection and exact counts. Holds are re-read in each batch's
transaction under the organization's policy row lock, which creating a hold also takes: a hold
placed during a run is honoured from the next batch on.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.purge import delete_purged, purge_through
from audit.services import audit_record
from core import retention as registry
from core.actors import SystemActor
from core.partitions import ensure_ahead
from core.rows import delete_ids
from orgs.models import Organization
from retention.choices import RunState
from retention.models import RetentionPolicy, RetentionRun
from retention.partitions import drop_expired_months
from retention.selection import (
    Policy,
    _bytes,
    _model,
    active_holds,
    audit_purgeable,
    doomed,
    dry_run,
    enforced_tables,
    policy_of,
    stored,
    zdr_blank,
)

ACTOR = SystemActor("retention enforcement")
_LOCK_KEY = 0x7265_7465_6E74  # "retent": one enforcement at a time


# --- Enforcement ------------------------------------------------------------------------------


def _start(org: Organization) -> RetentionRun:
    """The organization's unfinished run (resumed), or a new one with its plan frozen."""
    run = RetentionRun.objects.filter(org=org, state=RunState.RUNNING).order_by("id").first()
    if run is not None:
        run.resumed += 1
        run.save(update_fields=["resumed"])
        return run
    now = timezone.now()
    plan = policy_of(org).as_plan()
    plan["dry_run"] = dry_run(org, now)
    plan["stored"] = stored(org)
    plan["cursor"] = {}
    return RetentionRun.objects.create(org=org, now=now, plan=plan, counts={})


def _batch(
    run: RetentionRun, key: str, table: registry.Table, policy: Policy, size: int, blank: bool
) -> int:
    """One batch; returns how many rows it removed (or emptied), 0 when the table is done, and
    -1 when a hold changed while it chose (it chooses again).

    The rows are chosen by a read outside the write transaction, so the write is short (on
    SQLite, writers wait for exactly that long); the write transaction then takes the policy
    row lock that placing a hold also takes, and goes ahead only if the active holds are still
    the ones the choice was made with."""
    holds = active_holds(run.org)
    after = int(run.plan["cursor"].get(key + (":zdr" if blank else ""), 0))
    if blank:
        qs = zdr_blank(table, run.org, holds)
    else:
        qs = doomed(table, run.org, policy, run.now, holds, planning=False)
    if qs is None:
        return 0
    pks = list(qs.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size])
    if not pks:
        return 0
    with transaction.atomic():
        RetentionPolicy.objects.select_for_update().filter(org_id=run.org_id).first()
        if [h.pk for h in active_holds(run.org)] != [h.pk for h in holds]:
            return -1
        run.refresh_from_db(fields=["counts", "plan", "state"])
        # The rows are acted on by primary key alone (re-running the selection's conditions
        # inside the delete made each batch scan the table).
        chosen = _model(table).objects.filter(pk__in=pks)
        size_bytes = _bytes(chosen, table)
        if blank:
            done = chosen.update(**{table.zdr_column: ""})
        elif table.written_delete:
            done = delete_ids(_model(table), pks)
        else:
            done = chosen.delete()[1].get(table.model, 0)
        counts = run.counts.setdefault(table.category, {"rows": 0, "bytes": 0, "blanked": 0})
        counts["blanked" if blank else "rows"] += done
        counts["bytes"] += size_bytes
        run.plan["cursor"][key + (":zdr" if blank else "")] = pks[-1]
        run.save(update_fields=["counts", "plan"])
        return done


def enforce_org(
    org: Organization, *, batch: int | None = None, pause: float | None = None
) -> RetentionRun:
    """Runs (or resumes) the organization's enforcement to the end; returns the finished run,
    whose receipt is the `retention.purged` audit event."""
    return _enforce([org], batch=batch, pause=pause)[0]


def _enforce(
    orgs: list[Organization], *, batch: int | None = None, pause: float | None = None
) -> list[RetentionRun]:
    """Each table in the registry's order, for every organization: first (PostgreSQL) the
    partitioned tables' wholly expired months, dropped across organizations
    (retention.partitions), then each organization's rows walked in batches."""
    batch = batch or settings.RETENTION_BATCH_ROWS
    pause = settings.RETENTION_PAUSE_SECONDS if pause is None else pause
    runs = [_start(org) for org in orgs]
    policies = {run.pk: Policy.from_plan(run.plan) for run in runs}
    months_done: set[str] = set()
    for key, table in enforced_tables():
        if table.model not in months_done:
            months_done.add(table.model)
            drop_expired_months(runs, table.model)
        for run in runs:
            _walk(run, key, table, policies[run.pk], batch, pause)
    finished = []
    for run in runs:
        _purge_audit(run, policies[run.pk], batch, pause)
        finished.append(_finish(run))
    return finished


def _walk(
    run: RetentionRun, key: str, table: registry.Table, policy: Policy, batch: int, pause: float
) -> None:
    for blank in (False, True):
        cursor_key = key + (":zdr" if blank else "")
        if run.plan.get("finished_tables", {}).get(cursor_key):
            continue
        while _batch(run, key, table, policy, batch, blank):
            if pause:
                time.sleep(pause)
        run.refresh_from_db(fields=["plan"])
        run.plan.setdefault("finished_tables", {})[cursor_key] = True
        RetentionRun.objects.filter(pk=run.pk).update(plan=run.plan)


def _purge_audit(run: RetentionRun, policy: Policy, batch: int, pause: float) -> None:
    """The audit log's segments: the signed purge record first, then the events in batches
    (each batch and its count in one transaction)."""
    with transaction.atomic():
        RetentionPolicy.objects.select_for_update().filter(org_id=run.org_id).first()
        seals = audit_purgeable(run.org, policy, run.now, active_holds(run.org))
        if seals:
            purge_through(seals[-1], events=sum(s.count for s in seals))
    while True:
        with transaction.atomic():
            done = delete_purged(run.org_id, batch)
            if not done:
                break
            run.refresh_from_db(fields=["counts"])
            counts = run.counts.setdefault("audit_log", {"rows": 0, "bytes": 0, "blanked": 0})
            counts["rows"] += done
            run.save(update_fields=["counts"])
        if pause:
            time.sleep(pause)


@transaction.atomic
def _finish(run: RetentionRun) -> RetentionRun:
    run = RetentionRun.objects.select_for_update().get(pk=run.pk)
    if run.state == RunState.DONE:
        return run
    run.state = RunState.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["state", "finished_at"])
    audit_record(
        action=AuditAction.RETENTION_PURGED,
        org=run.org,
        actor=ACTOR,
        target=run,
        data=receipt(run),
    )
    return run


def receipt(run: RetentionRun) -> dict[str, Any]:
    planned = run.plan.get("dry_run", {})
    return {
        "run": run.pk,
        "now": run.now.isoformat(),
        "duration_s": round(
            ((run.finished_at or timezone.now()) - run.started_at).total_seconds(), 3
        ),
        "resumed": run.resumed,
        "windows": run.plan.get("windows", {}),
        "team_windows": run.plan.get("teams", {}),
        "purged": run.counts,
        "months_dropped": [m for m in run.plan.get("months_dropped", []) if m["rows"]],
        "holds": planned.get("holds", []),
        "spared_by_holds": {
            k: v.get("spared_by_holds", 0) for k, v in planned.get("categories", {}).items()
        },
    }


def enforce(*, org: Organization | None = None) -> dict[str, Any]:
    """Every organization (or one), one runner at a time on PostgreSQL (an advisory lock held
    for the whole run; a second runner returns at once)."""
    locked = False
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
            locked = cur.fetchone()[0]
        if not locked:
            return {"skipped": "another retention run is in progress"}
    try:
        ensure_ahead()  # next months' partitions (PostgreSQL)
        orgs = [org] if org is not None else list(Organization.objects.order_by("id"))
        runs = _enforce(orgs)
        return {"runs": [{"organization": r.org.slug, **receipt(r)} for r in runs]}
    finally:
        if locked:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
