"""Mapping reads, scoped to one organization: settings, tables, preview, drift and jobs."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from core.input import as_id
from mapping import engine
from mapping.choices import Direction
from mapping.models import GroupMapping, IdpGroup, MappingSettings, MappingSyncJob
from orgs.choices import AssignmentSource
from orgs.models import Organization, name_key


def mapping_settings(*, org: Organization) -> MappingSettings:
    """The organization's mapping settings (the defaults when never saved: both tables on)."""
    return MappingSettings.objects.filter(org=org).first() or MappingSettings(org=org)


def mapping_table(*, org: Organization, direction: str) -> list[GroupMapping]:
    target = "role" if direction == Direction.ROLES else "team"
    return list(
        GroupMapping.objects.filter(org=org, direction=direction)
        .select_related("group", target)
        .order_by("group__display_name", f"{target}__name", "id")
    )


def mapping_preview(
    *,
    org: Organization,
    direction: str,
    use_table: bool | None = None,
    rows: list[tuple[int, int]] | None = None,
) -> engine.Plan:
    """What a full sync of `direction` would change with this mode and table (the stored ones
    where not given): the very planner the sync runs."""
    settings = mapping_settings(org=org)
    return engine.plan(
        org,
        direction,
        use_table=settings.use_table(direction) if use_table is None else use_table,
        rows=engine.table_rows(org, direction) if rows is None else rows,
    )


def mapping_drift(*, org: Organization) -> dict[str, Any]:
    """Per direction: IdP groups that map to nothing, targets no group grants, and members
    whose access in the managed part of the direction was granted by hand."""
    settings = mapping_settings(org=org)
    groups = list(
        IdpGroup.objects.filter(org=org)
        .annotate(member_count=Count("members"))
        .order_by("display_name")
        .values_list("id", "display_name", "member_count")
    )
    out: dict[str, Any] = {}
    for direction in Direction.values:
        targets = list(
            engine.target_model(direction)
            .objects.filter(org=org)
            .order_by("name_key")
            .values_list("id", "name", "name_key")
        )
        use_table = settings.use_table(direction)
        skipped: list[dict[str, str]] = []
        if use_table:
            pairs = engine.table_rows(org, direction)
            mapped_groups = {g for g, _ in pairs}
            granted = {t for _, t in pairs}
            managed: set[int] | None = granted
        else:
            keys = {k: pk for pk, _, k in targets}
            mapped_groups = {
                g for g, name, _ in groups if name_key(engine.group_target_name(name)) in keys
            }
            group_keys = {name_key(engine.group_target_name(n)) for _, n, _ in groups}
            granted = {pk for pk, _, k in targets if k in group_keys}
            managed = None  # every target of the direction
            skipped = [
                {"group": name, "reason": problem}
                for _, name, _ in groups
                if (problem := engine.target_name_problem(engine.group_target_name(name)))
            ]
        hand = engine.assignment_model(direction).objects.filter(
            membership__org=org,
            membership__idp__isnull=False,
            source=AssignmentSource.MANUAL,
        )
        if managed is not None:
            hand = hand.filter(**{f"{engine.target_field(direction)}__in": managed})
        target_name = "role__name" if direction == Direction.ROLES else "team__name"
        out[direction] = {
            "use_mapping_table": use_table,
            "unmapped_groups": [
                {"group": name, "members": n} for g, name, n in groups if g not in mapped_groups
            ],
            "ungranted_targets": [name for pk, name, _ in targets if pk not in granted],
            "skipped_groups": skipped,
            "hand_made": [
                {"member": member, "target": target}
                for member, target in hand.order_by(
                    "membership__idp__user_name", target_name
                ).values_list("membership__idp__user_name", target_name)[:500]
            ],
        }
    return out


def mapping_last_job(*, org: Organization) -> MappingSyncJob | None:
    return MappingSyncJob.objects.filter(org=org).order_by("-id").first()


def mapping_job_get(*, org: Organization, pk: object) -> MappingSyncJob | None:
    pk = as_id(pk)
    return MappingSyncJob.objects.filter(org=org, pk=pk).first() if pk else None


def idp_groups(*, org: Organization) -> list[IdpGroup]:
    return list(IdpGroup.objects.filter(org=org).order_by("display_name"))


def mapping_targets(*, org: Organization, direction: str) -> list[Any]:
    """The custom roles or the teams of the organization, by name."""
    return list(engine.target_model(direction).objects.filter(org=org))
