"""The sync: what the mapping engine plans (mapping.engine), applied. It follows every change
of an IdP group or member (inside that change's transaction, for the members it touched), and
runs as a Celery job over everyone after a settings change, on "Run sync now" and nightly."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor, SystemActor, describe_actor
from core.exceptions import Conflict, ValidationFailed

# mapping.tasks imports this module too; each reads the other's names only when called.
from mapping import engine, tasks
from mapping.choices import Direction, SyncStatus, SyncTrigger
from mapping.models import IdpUser, MappingSettings, MappingSyncJob
from orgs.choices import AssignmentSource
from orgs.models import Organization
from orgs.services import assignments, roles, teams
from orgs.services.assignments import MemberChange

logger = logging.getLogger(__name__)


def mapping_settings_locked(org: Organization) -> MappingSettings:
    """The organization's mapping settings, locked: every sync and settings change of the
    organization takes this lock first, so they never interleave."""
    MappingSettings.objects.bulk_create([MappingSettings(org=org)], ignore_conflicts=True)
    return MappingSettings.objects.select_for_update().get(org=org)


def _mapping_apply(plan: engine.Plan, *, org: Organization, actor: Actor | None) -> dict:
    """Write what `plan` says through the bulk assignment service, with one audit event per
    member whose set changed. A group that cannot become a role or team is skipped (reported
    by the caller), never a failure for everyone else."""
    direction = plan.direction
    created: list[str] = []
    skipped = list(plan.skipped)
    for name in plan.create:
        try:
            with transaction.atomic():
                if direction == Direction.ROLES:
                    entity = roles.custom_role_create(
                        org=org, name=name, permissions=[], actor=actor
                    )
                else:
                    entity = teams.team_create(org=org, name=name, actor=actor)
        except Conflict:
            continue  # made by hand since the plan was read: it matches by name now
        except ValidationFailed as exc:
            skipped.append({"group": name, "reason": exc.message})
            continue
        created.append(entity.name)
        audit_record(
            action=AuditAction.SCIM_AUTO_CREATED_ENTITY,
            org=org,
            actor=actor,
            target=entity,
            data={"new": {"kind": direction[:-1], "name": entity.name}},
        )
    id_of = dict(
        engine.target_model(direction).objects.filter(org=org).values_list("name_key", "id")
    )
    mode = "mapping table" if plan.use_table else "name-based"
    changes = [
        MemberChange(
            org=org,
            membership_id=delta.membership_id,
            label=delta.label,
            data={"old": delta.before, "new": delta.after, "mode": mode},
        )
        for delta in plan.members
        if delta.before != delta.after
    ]
    action = (
        AuditAction.SCIM_USER_ROLE_CHANGED
        if direction == Direction.ROLES
        else AuditAction.SCIM_USER_TEAM_CHANGED
    )
    assignments.assignments_bulk_change(
        kind=direction,
        add=[(mid, id_of[key]) for mid, key in plan.add if key in id_of],
        delete_ids=plan.delete_ids,
        source=AssignmentSource.IDP,
        changes=changes,
        action=action,
        actor=actor,
    )
    if plan.elsewhere:
        # Name-based team sync is authoritative across organizations: what it takes away in
        # another organization is recorded in that organization's log.
        lost: dict[tuple[int, int], list[str]] = {}
        for loss in plan.elsewhere:
            lost.setdefault((loss.org_id, loss.membership_id), []).append(loss.team_name)
        reason = (
            f"name-based team sync of organization {org.slug!r} is authoritative across "
            "organizations"
        )
        assignments.assignments_bulk_change(
            kind="teams",
            add=[],
            delete_ids=[loss.row_id for loss in plan.elsewhere],
            source=AssignmentSource.IDP,
            changes=[
                MemberChange(
                    org=Organization(pk=other_org_id),
                    membership_id=mid,
                    label="",
                    data={"removed": sorted(names, key=str.casefold), "reason": reason},
                )
                for (other_org_id, mid), names in lost.items()
            ],
            action=AuditAction.SCIM_USER_TEAM_CHANGED,
            actor=actor,
        )
    return {"members_changed": len(plan.members), "auto_created": created, "skipped": skipped}


def _skipped_record(
    skipped: list[dict[str, str]], *, org: Organization, direction: str, actor: Actor | None
) -> None:
    """One audit event per group a full sync could not apply, with the reason."""
    for item in skipped:
        audit_record(
            action=AuditAction.SCIM_MAPPING_GROUP_SKIPPED,
            org=org,
            actor=actor,
            target=org,
            data={"group": item["group"], "kind": direction[:-1], "reason": item["reason"]},
        )


def _mapping_sync(
    *,
    org: Organization,
    settings: MappingSettings,
    scope: list[int] | None,
    actor: Actor | None,
) -> dict:
    """Both directions for the members in `scope` (None: everyone), under the settings lock.
    Groups it cannot apply are returned as `skipped` (a full sync records them)."""
    changed, created, skipped = 0, [], []
    for direction in Direction.values:
        plan = engine.plan(
            org,
            direction,
            use_table=settings.use_table(direction),
            rows=engine.table_rows(org, direction),
            scope=scope,
        )
        if not plan.empty:
            result = _mapping_apply(plan, org=org, actor=actor)
            changed += result["members_changed"]
            created += result["auto_created"]
            skipped += [{**item, "kind": direction[:-1]} for item in result["skipped"]]
        else:
            skipped += [{**item, "kind": direction[:-1]} for item in plan.skipped]
    return {"members_changed": changed, "auto_created": created, "skipped": skipped}


def mapping_sync_members(
    *, org: Organization, membership_ids: Iterable[int], actor: Actor | None
) -> dict:
    """The sync that follows a SCIM change, for the members it affected, inside the SCIM
    change's own transaction (call it from an atomic service)."""
    ids = sorted(set(membership_ids))
    if not ids:
        return {"members_changed": 0, "auto_created": [], "skipped": []}
    settings = mapping_settings_locked(org)
    return _mapping_sync(org=org, settings=settings, scope=ids, actor=actor)


def mapping_job_create(*, org: Organization, trigger: str, actor: Actor | None) -> MappingSyncJob:
    job = MappingSyncJob.objects.create(
        org=org, trigger=trigger, requested_by=describe_actor(actor)[2][:300]
    )

    transaction.on_commit(lambda: tasks.mapping_sync_job.delay(job.pk))
    return job


@transaction.atomic
def mapping_sync_start(
    *, org: Organization, trigger: str = SyncTrigger.MANUAL, actor: Actor | None
) -> MappingSyncJob:
    """ "Run sync now" and the nightly reconciliation: a full sync of both directions."""
    return mapping_job_create(org=org, trigger=trigger, actor=actor)


def mapping_sync_job_run(*, job_id: int, actor: Actor | None = None) -> MappingSyncJob:
    """Run a full sync job: every member the IdP speaks for, in chunks, each chunk one
    transaction under the settings lock (a SCIM change waits at most one chunk). Progress is
    saved after each chunk. A failure is recorded on the job, never raised to the worker."""
    job = MappingSyncJob.objects.select_related("org").get(pk=job_id)
    if job.status != SyncStatus.QUEUED:
        return job
    org = job.org
    ids = list(
        IdpUser.objects.filter(org=org)
        .order_by("membership_id")
        .values_list("membership_id", flat=True)
    )
    job.status, job.started_at, job.total = SyncStatus.RUNNING, timezone.now(), len(ids)
    job.save(update_fields=["status", "started_at", "total"])
    actor = actor or _job_actor(job)
    try:
        for chunk in engine._chunks(ids) if ids else [[]]:
            with transaction.atomic():
                settings = mapping_settings_locked(org)
                result = _mapping_sync(org=org, settings=settings, scope=chunk, actor=actor)
                new = [s for s in result["skipped"] if s not in job.skipped]
                if new:
                    for kind in {s["kind"] for s in new}:
                        _skipped_record(
                            [s for s in new if s["kind"] == kind],
                            org=org,
                            direction=f"{kind}s",
                            actor=actor,
                        )
            job.processed += len(chunk)
            job.members_changed += result["members_changed"]
            job.auto_created = job.auto_created + result["auto_created"]
            job.skipped = job.skipped + new
            job.save(update_fields=["processed", "members_changed", "auto_created", "skipped"])
    except Exception as exc:
        logger.exception("mapping sync job %s failed", job.pk)
        job.status, job.error = SyncStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500]
    else:
        job.status = SyncStatus.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return job


def _job_actor(job: MappingSyncJob) -> Actor:
    return SystemActor(f"mapping sync ({job.get_trigger_display()})")


def mapping_reconcile_all(*, trigger: str = SyncTrigger.NIGHTLY) -> int:
    """Queue a full sync for every organization with members the IdP speaks for."""
    actor = SystemActor("nightly mapping reconciliation")
    count = 0
    for org in Organization.objects.filter(pk__in=IdpUser.objects.values("org_id")):
        mapping_sync_start(org=org, trigger=trigger, actor=actor)
        count += 1
    return count
