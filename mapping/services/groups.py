"""IdP groups and the members the IdP speaks for, as a provisioning door (SCIM today) reports
them. Each change of a group syncs the members it touched, in the same transaction.

The audit event names are the SCIM door's (`scim.group_created`, ...): stable public names from
when SCIM was the only door that pushes groups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import Conflict
from mapping.models import GroupMapping, IdpGroup, IdpGroupMember, IdpUser
from mapping.services.sync import mapping_sync_members
from orgs.models import Organization

AUDIT_NAME_CAP = 1000  # member names listed per event; counts are always exact


# --- groups -----------------------------------------------------------------------------------


def _labels(org: Organization, membership_ids: Iterable[int]) -> list[str]:
    ids = list(membership_ids)
    if not ids:
        return []
    labels = IdpUser.objects.filter(org=org, membership_id__in=ids).values_list(
        "user_name", flat=True
    )
    return sorted(labels)[:AUDIT_NAME_CAP]


def _name_taken(display_name: str) -> Conflict:
    return Conflict(
        f"A group named {display_name!r} already exists in this organization (displayName is "
        "unique and compares case-insensitively: name-based mapping and Entra's matching "
        "depend on it).",
        field="displayName",
    )


@transaction.atomic
def idp_group_create(
    *,
    org: Organization,
    display_name: str,
    external_id: str,
    membership_ids: list[int],
    actor: Actor | None,
) -> IdpGroup:
    """A new IdP group with its members (members the IdP speaks for, in this organization)."""
    try:
        with transaction.atomic():
            group = IdpGroup.objects.create(
                org=org, display_name=display_name, external_id=external_id
            )
    except IntegrityError as exc:
        raise _name_taken(display_name) from exc
    IdpGroupMember.objects.bulk_create(
        IdpGroupMember(group=group, membership_id=mid) for mid in membership_ids
    )
    audit_record(
        action=AuditAction.SCIM_GROUP_CREATED,
        org=org,
        actor=actor,
        target=group,
        data={
            "new": {
                "display_name": group.display_name,
                "external_id": group.external_id,
                "member_count": len(membership_ids),
                "members": _labels(org, membership_ids),
            },
            "scim_id": str(group.uid),
        },
    )
    mapping_sync_members(org=org, membership_ids=membership_ids, actor=actor)
    return group


@transaction.atomic
def idp_group_update(
    *,
    group: IdpGroup,
    display_name: str | None = None,
    external_id: str | None = None,
    members: list[int] | None = None,
    add: Iterable[int] = (),
    remove: Iterable[int] = (),
    remove_all: bool = False,
    actor: Actor | None,
) -> IdpGroup:
    """PUT and PATCH of a group: its names, and its members as a whole (`members`) or as
    deltas (`add`, `remove`, `remove_all`), by membership id. The group row is locked and
    deltas are applied as such, so two concurrent PATCHes that add different members both
    land."""
    group = IdpGroup.objects.select_for_update(of=("self",)).select_related("org").get(pk=group.pk)
    org = group.org
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for attr, value in (("display_name", display_name), ("external_id", external_id)):
        if value is not None and getattr(group, attr) != value:
            old[attr], new[attr] = getattr(group, attr), value
            setattr(group, attr, value)
    links = IdpGroupMember.objects.filter(group=group)
    current = set(links.values_list("membership_id", flat=True))
    if members is not None:
        adding = [m for m in dict.fromkeys(members) if m not in current]
        removing = current - set(members)
    else:
        adding = [m for m in dict.fromkeys(add) if m not in current]
        removing = set(current) if remove_all else current & set(remove)
    if removing:
        links.filter(membership_id__in=removing).delete()
    if adding:
        IdpGroupMember.objects.bulk_create(
            (IdpGroupMember(group=group, membership_id=m) for m in adding), ignore_conflicts=True
        )
    if not (old or adding or removing):
        return group
    group.updated_at = timezone.now()
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError as exc:
        raise _name_taken(group.display_name) from exc
    data: dict[str, Any] = {"old": old, "new": new}
    if adding:
        data["members_added"] = _labels(org, adding)
        data["members_added_count"] = len(adding)
    if removing:
        data["members_removed"] = _labels(org, removing)
        data["members_removed_count"] = len(removing)
    audit_record(
        action=AuditAction.SCIM_GROUP_UPDATED, org=org, actor=actor, target=group, data=data
    )
    affected = set(adding) | removing
    if "display_name" in old:  # a rename can change what the group resolves to by name
        affected |= current
    mapping_sync_members(org=org, membership_ids=affected, actor=actor)
    return group


@transaction.atomic
def idp_group_delete(*, group: IdpGroup, actor: Actor | None) -> None:
    """Deleting a group is its members leaving it first: the sync runs with the group and its
    table rows still in place, so what this group alone granted is taken away (in both modes;
    grants another group also gives stay). Then the group and its table rows go, and the event
    lists the rows it took away."""
    group = IdpGroup.objects.select_for_update(of=("self",)).select_related("org").get(pk=group.pk)
    org = group.org
    former = list(group.members.values_list("membership_id", flat=True))
    rows = [
        {"direction": direction, "target": role or team}
        for direction, role, team in GroupMapping.objects.filter(group=group)
        .order_by("direction", "id")
        .values_list("direction", "role__name", "team__name")
    ]
    IdpGroupMember.objects.filter(group=group).delete()
    mapping_sync_members(org=org, membership_ids=former, actor=actor)
    audit_record(
        action=AuditAction.SCIM_GROUP_DELETED,
        org=org,
        actor=actor,
        target=group,
        data={
            "old": {
                "display_name": group.display_name,
                "member_count": len(former),
                "scim_id": str(group.uid),
            },
            "mapping_rows_removed": rows,
        },
    )
    group.delete()
