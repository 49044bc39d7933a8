"""The mapping tables (which IdP group grants which role or team) and the "Use mapping table"
toggle of each direction. A change queues a full sync (mapping.services.sync)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import ValidationFailed
from core.input import uuid_or_none
from mapping import engine
from mapping.choices import Direction, SyncTrigger
from mapping.models import GroupMapping, IdpGroup, MappingSyncJob
from mapping.services.sync import mapping_job_create, mapping_settings_locked
from orgs.models import Organization


@dataclass(frozen=True)
class MappingRow:
    """A mapping table row as an admin names it: the group's SCIM id and the target's id."""

    group: str
    target: int


MAX_MAPPING_ROWS = 1000


def mapping_rows_resolve(
    *, org: Organization, direction: str, rows: Iterable[MappingRow]
) -> list[tuple[int, int]]:
    """Check a proposed table against this organization: (group pk, target pk) pairs, each
    once. Unknown or other organizations' groups and targets are refused by name."""
    rows = list(rows)
    if direction not in Direction.values:
        raise ValidationFailed(f"Unknown direction {direction!r}: use roles or teams.")
    if len(rows) > MAX_MAPPING_ROWS:
        raise ValidationFailed(f"A mapping table holds at most {MAX_MAPPING_ROWS} rows.")
    sids = [uuid_or_none(r.group) for r in rows]
    groups = dict(
        IdpGroup.objects.filter(org=org, uid__in=[s for s in sids if s]).values_list("uid", "id")
    )
    targets = set(
        engine.target_model(direction)
        .objects.filter(org=org, pk__in=[r.target for r in rows])
        .values_list("id", flat=True)
    )
    out: dict[tuple[int, int], None] = {}  # ordered, each pair once
    for i, (row, sid) in enumerate(zip(rows, sids, strict=True), start=1):
        if sid not in groups:
            raise ValidationFailed(
                f"Row {i}: no IdP group {row.group!r} in this organization (use the group's "
                "SCIM id, as GET /scim/v2/Groups lists it).",
                field="rows",
            )
        if row.target not in targets:
            what = "custom role" if direction == Direction.ROLES else "team"
            raise ValidationFailed(
                f"Row {i}: no {what} with id {row.target} in this organization.", field="rows"
            )
        out[(groups[sid], row.target)] = None
    return list(out)


def _table_names(org: Organization, direction: str, pairs: Iterable[tuple[int, int]]) -> list:
    pairs = list(pairs)
    groups = dict(
        IdpGroup.objects.filter(pk__in=[g for g, _ in pairs]).values_list("id", "display_name")
    )
    targets = dict(
        engine.target_model(direction)
        .objects.filter(pk__in=[t for _, t in pairs])
        .values_list("id", "name")
    )
    return sorted(
        ({"group": groups.get(g, str(g)), "target": targets.get(t, str(t))} for g, t in pairs),
        key=lambda r: (r["group"].casefold(), r["target"].casefold()),
    )


@transaction.atomic
def mapping_table_replace(
    *, org: Organization, direction: str, rows: Iterable[MappingRow], actor: Actor | None
) -> MappingSyncJob | None:
    """Replace a direction's mapping table as a whole, then resync everyone (a Celery job).
    Returns the job, or None when the table did not change."""
    pairs = mapping_rows_resolve(org=org, direction=direction, rows=rows)
    mapping_settings_locked(org)
    field_name = engine.target_field(direction)
    current = engine.table_rows(org, direction)
    if set(current) == set(pairs):
        return None
    GroupMapping.objects.filter(org=org, direction=direction).delete()
    GroupMapping.objects.bulk_create(
        GroupMapping(org=org, direction=direction, group_id=g, **{field_name: t}) for g, t in pairs
    )
    audit_record(
        action=(
            AuditAction.SCIM_ROLE_MAPPING_UPDATED
            if direction == Direction.ROLES
            else AuditAction.SCIM_TEAM_MAPPING_UPDATED
        ),
        org=org,
        actor=actor,
        target_type="mapping_table",
        target_id=direction,
        target_label=f"{direction} mapping table",
        data={
            "old": _table_names(org, direction, current),
            "new": _table_names(org, direction, pairs),
        },
    )
    return mapping_job_create(org=org, trigger=SyncTrigger.TABLE_REPLACED, actor=actor)


@transaction.atomic
def mapping_mode_set(
    *,
    org: Organization,
    direction: str,
    use_table: bool,
    confirm: bool = False,
    actor: Actor | None,
) -> MappingSyncJob | None:
    """Flip "Use mapping table". Switching to name-based mode (the IdP becomes authoritative and
    removes what it does not grant) is refused without an explicit confirmation."""
    if direction not in Direction.values:
        raise ValidationFailed(f"Unknown direction {direction!r}: use roles or teams.")
    settings = mapping_settings_locked(org)
    if settings.use_table(direction) == use_table:
        return None
    if not use_table and not confirm:
        raise ValidationFailed(
            f"Switching {direction} to name-based mode removes every {direction[:-1]} the IdP "
            "does not grant, hand-made ones included. Preview it first, then repeat the "
            'request with "confirm": true.',
            field="confirm",
        )
    setattr(settings, f"{direction}_use_table", use_table)
    settings.updated_at = timezone.now()
    settings.save()
    audit_record(
        action=AuditAction.SCIM_USE_MAPPING_TABLE_CHANGED,
        org=org,
        actor=actor,
        target_type="mapping_settings",
        target_id=direction,
        target_label=f"{direction}: use mapping table",
        data={
            "old": {"use_mapping_table": not use_table},
            "new": {"use_mapping_table": use_table},
            "confirmed": bool(confirm),
        },
    )
    return mapping_job_create(org=org, trigger=SyncTrigger.MODE_CHANGED, actor=actor)
