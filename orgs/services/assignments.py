"""Who holds which custom role and belongs to which team. One writer serves both kinds and both
scales: a person granted one role by hand (the dashboard, the API) and the mapping engine's
bulk changes for thousands of members (mapping.services.sync) write through `_write` below.

A member may hold one target from several sources at once (orgs.choices.AssignmentSource), one
row each; they hold it while any row exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.db import transaction

from audit.choices import AuditAction
from audit.services import audit_batch, audit_record
from core.actors import Actor
from core.exceptions import NotFound
from orgs.choices import AssignmentSource
from orgs.models import CustomRole, Membership, Organization, RoleAssignment, Team, TeamMembership
from orgs.services.guards import lock_membership, require_grantable

Kind = Literal["roles", "teams"]
CHUNK = 1000  # ids per IN (...) and rows per INSERT: well under every backend's parameter limit

_MODEL: dict[str, type[RoleAssignment] | type[TeamMembership]] = {
    "roles": RoleAssignment,
    "teams": TeamMembership,
}
_FIELD = {"roles": "role_id", "teams": "team_id"}


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def _write(
    kind: str, *, add: Iterable[tuple[int, int]], delete_ids: Sequence[int], source: str
) -> int:
    """Insert (membership id, target id) rows from `source` (present ones are kept) and delete
    rows by id. Returns how many rows were deleted."""
    model = _MODEL[kind]
    deleted = 0
    for ids in _chunks(list(delete_ids)):
        deleted += model.objects.filter(pk__in=ids).delete()[0]
    model.objects.bulk_create(
        [model(membership_id=mid, source=source, **{_FIELD[kind]: tid}) for mid, tid in add],
        batch_size=CHUNK,
        ignore_conflicts=True,
    )
    return deleted


def _row_ids(kind: str, membership: Membership, target_id: int, source: str) -> list[int]:
    return list(
        _MODEL[kind]
        .objects.filter(membership=membership, source=source, **{_FIELD[kind]: target_id})
        .values_list("pk", flat=True)
    )


def _set_one(
    kind: Kind,
    *,
    membership: Membership,
    target: CustomRole | Team,
    held: bool,
    source: str,
    actor: Actor | None,
) -> bool:
    """Grant (held=True) or take away one role or team from one member, from `source`.
    Returns False when nothing changed."""
    what = "custom role" if kind == "roles" else "team"
    if target.org_id != membership.org_id:
        raise NotFound(f"That {what} does not exist in this organization.")
    membership = lock_membership(membership)
    if kind == "roles":
        require_grantable(actor, membership.org, target.permissions)
    present = _row_ids(kind, membership, target.pk, source)
    if bool(present) == held:
        return False
    if held:
        _write(kind, add=[(membership.pk, target.pk)], delete_ids=[], source=source)
    else:
        _write(kind, add=[], delete_ids=present, source=source)
    change: dict[str, Any] = (
        {"role": target.name, "source": source}
        if kind == "roles"
        else {"member": membership.user.email, "source": source}
    )
    action = {
        ("roles", True): AuditAction.MEMBER_CUSTOM_ROLE_ASSIGNED,
        ("roles", False): AuditAction.MEMBER_CUSTOM_ROLE_UNASSIGNED,
        ("teams", True): AuditAction.TEAM_MEMBER_ADDED,
        ("teams", False): AuditAction.TEAM_MEMBER_REMOVED,
    }[(kind, held)]
    audit_record(
        action=action,
        org=membership.org,
        actor=actor,
        target=membership if kind == "roles" else target,
        data={"new" if held else "old": change},
    )
    return True


@transaction.atomic
def role_assign(
    *,
    membership: Membership,
    role: CustomRole,
    source: str = AssignmentSource.MANUAL,
    actor: Actor | None,
) -> bool:
    """Grant a custom role. Returns False when the member already held it from that source."""
    return _set_one(
        "roles", membership=membership, target=role, held=True, source=source, actor=actor
    )


@transaction.atomic
def role_unassign(
    *,
    membership: Membership,
    role: CustomRole,
    source: str = AssignmentSource.MANUAL,
    actor: Actor | None,
) -> bool:
    return _set_one(
        "roles", membership=membership, target=role, held=False, source=source, actor=actor
    )


@transaction.atomic
def team_member_add(
    *,
    team: Team,
    membership: Membership,
    source: str = AssignmentSource.MANUAL,
    actor: Actor | None,
) -> bool:
    return _set_one(
        "teams", membership=membership, target=team, held=True, source=source, actor=actor
    )


@transaction.atomic
def team_member_remove(
    *,
    team: Team,
    membership: Membership,
    source: str = AssignmentSource.MANUAL,
    actor: Actor | None,
) -> bool:
    return _set_one(
        "teams", membership=membership, target=team, held=False, source=source, actor=actor
    )


@dataclass(frozen=True)
class MemberChange:
    """What one member held before and holds after a bulk change, by name, for the audit log."""

    org: Organization
    membership_id: int
    label: str
    data: dict[str, Any]


@transaction.atomic
def assignments_bulk_change(
    *,
    kind: Kind,
    add: Iterable[tuple[int, int]],
    delete_ids: Sequence[int],
    source: str,
    changes: Iterable[MemberChange],
    action: AuditAction,
    actor: Actor | None,
) -> None:
    """Many members' roles or teams at once (the mapping engine's sync): insert (membership id,
    target id) rows, delete rows by id, and record one `action` event per member in `changes`
    (in the log of that member's organization), all in one transaction and one audit INSERT.
    The caller holds whatever lock keeps its plan current."""
    _write(kind, add=add, delete_ids=delete_ids, source=source)
    with audit_batch():
        for change in changes:
            audit_record(
                action=action,
                org=change.org,
                actor=actor,
                target_type="membership",
                target_id=str(change.membership_id),
                target_label=change.label,
                data=change.data,
            )
