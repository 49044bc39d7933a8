"""The mapping engine: IdP group memberships → custom roles and teams.

`plan()` only reads; `apply()` writes what a plan says. The dashboard's and the API's previews,
the sync that follows every SCIM change, the full sync after a settings change, "Run sync now"
and the nightly reconciliation all call `plan()`, so a preview predicts exactly what a sync
then does.

Targets are keyed by their `name_key` (case- and whitespace-insensitive name), so a plan can
name a role or team that name-based mode will create. Everything is read and written in bulk:
a plan costs a fixed number of queries whatever the number of members.

Which members: those the IdP speaks for (mapping.models.IdpUser: SCIM provisions them today).
People added by hand have no IdP groups, and the IdP does not speak for them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

from mapping.choices import Direction
from mapping.models import GroupMapping, IdpGroup, IdpGroupMember, IdpUser
from orgs.choices import AssignmentSource
from orgs.models import CustomRole, Organization, RoleAssignment, Team, TeamMembership
from orgs.models import name_key as key_of

NAME_MAX = 100  # as orgs.services: a created role or team takes the group's name
CHUNK = 1000


def group_target_name(display_name: str) -> str:
    """The role or team name a group resolves to in name-based mode (never cut short: a name
    that cannot be a role or team name is skipped and reported, see `target_name_problem`)."""
    return " ".join((display_name or "").split())


def target_name_problem(name: str) -> str | None:
    """Why a group's name cannot name a role or team; None when it can."""
    if not name:
        return "the group has no name"
    if len(name) > NAME_MAX:
        return f"the name has {len(name)} characters; role and team names have at most {NAME_MAX}"
    return None


def target_model(direction: str) -> type[Model]:
    return CustomRole if direction == Direction.ROLES else Team


def assignment_model(direction: str) -> type[Model]:
    return RoleAssignment if direction == Direction.ROLES else TeamMembership


def target_field(direction: str) -> str:
    return "role_id" if direction == Direction.ROLES else "team_id"


@dataclass
class MemberDelta:
    """One member whose holdings in a direction change."""

    membership_id: int
    label: str
    before: list[str]  # target names held (any source) in this organization
    after: list[str]
    lost_elsewhere: list[str] = field(default_factory=list)  # "org: team", name-based teams

    @property
    def gains(self) -> list[str]:
        return sorted(set(self.after) - set(self.before), key=str.casefold)

    @property
    def losses(self) -> list[str]:
        return sorted(set(self.before) - set(self.after), key=str.casefold)

    def as_dict(self) -> dict[str, Any]:
        return {
            "membership_id": self.membership_id,
            "member": self.label,
            "gains": self.gains,
            "losses": self.losses,
            "lost_in_other_organizations": self.lost_elsewhere,
        }


@dataclass
class ElsewhereLoss:
    """A team membership in another organization that name-based team sync removes."""

    row_id: int
    org_id: int
    membership_id: int
    label: str  # "org-slug: Team"
    team_name: str


@dataclass
class Plan:
    org_id: int
    direction: str
    use_table: bool
    create: list[str] = field(default_factory=list)  # names of targets to auto-create
    members: list[MemberDelta] = field(default_factory=list)
    add: list[tuple[int, str]] = field(default_factory=list)  # (membership_id, target key)
    delete_ids: list[int] = field(default_factory=list)  # assignment rows in this org
    elsewhere: list[ElsewhereLoss] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # groups it cannot apply
    scanned: int = 0

    @property
    def empty(self) -> bool:
        return not (self.create or self.add or self.delete_ids or self.elsewhere)

    def as_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "use_mapping_table": self.use_table,
            "members_scanned": self.scanned,
            "members_changing": len(self.members),
            "auto_create": self.create,
            "skipped_groups": self.skipped,
            "members": [m.as_dict() for m in self.members],
        }


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def table_rows(org: Organization, direction: str) -> list[tuple[int, int]]:
    """The stored mapping table as (group id, target id) pairs."""
    field_name = target_field(direction)
    return list(
        GroupMapping.objects.filter(org=org, direction=direction).values_list(
            "group_id", field_name
        )
    )


def plan(
    org: Organization,
    direction: str,
    *,
    use_table: bool,
    rows: list[tuple[int, int]],
    scope: list[int] | None = None,
) -> Plan:
    """What a sync of `direction` would change for the members in `scope` (membership ids; None
    for every member the IdP speaks for), with this mode and mapping table."""
    out = Plan(org_id=org.pk, direction=direction, use_table=use_table)
    if use_table and not rows:
        return out  # an empty table is a no-op, whoever is in scope
    field_name = target_field(direction)
    targets = {
        pk: (name, key)
        for pk, name, key in target_model(direction)
        .objects.filter(org=org)
        .values_list("id", "name", "name_key")
    }
    id_of = {key: pk for pk, (_, key) in targets.items()}
    name_of = {key: name for _, (name, key) in targets.items()}
    group_key: dict[int, str] = {}
    if not use_table:
        # Name-based: every pushed group resolves to a role or team of its name, members or
        # not; one whose name cannot be a role or team name is skipped and reported, so it
        # never fails the sync of everyone else.
        for gid, display in IdpGroup.objects.filter(org=org).values_list("id", "display_name"):
            name = group_target_name(display)
            problem = target_name_problem(name)
            if problem:
                out.skipped.append({"group": display, "reason": problem})
                continue
            group_key[gid] = key_of(name)
            name_of.setdefault(key_of(name), name)
        out.create = sorted(
            {name_of[k] for k in group_key.values() if k not in id_of}, key=str.casefold
        )

    users = IdpUser.objects.filter(org=org)
    links = IdpGroupMember.objects.filter(group__org=org)
    if scope is not None:
        users = users.filter(membership_id__in=scope)
        links = links.filter(membership_id__in=scope)
    members = {
        mid: (label, uid)
        for mid, label, uid in users.values_list(
            "membership_id", "user_name", "membership__user_id"
        )
    }
    out.scanned = len(members)
    if not members:
        return out
    groups_of: dict[int, set[int]] = defaultdict(set)
    for mid, gid in links.values_list("membership_id", "group_id"):
        groups_of[mid].add(gid)

    # What each member would be granted, as target keys.
    if use_table:
        table: dict[int, set[str]] = defaultdict(set)
        for gid, tid in rows:
            if tid in targets:
                table[gid].add(targets[tid][1])
        managed = set().union(*table.values()) if table else set()
        grants = {m: set().union(*(table.get(g, set()) for g in groups_of[m])) for m in members}
    else:
        grants = {m: {group_key[g] for g in groups_of[m] if g in group_key} for m in members}
        managed = set()

    # What they hold now, from every source, in this organization.
    held: dict[int, dict[str, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
    model = assignment_model(direction)
    for ids in _chunks(list(members)):
        for row_id, mid, tid, source in model.objects.filter(membership_id__in=ids).values_list(
            "id", "membership_id", field_name, "source"
        ):
            held[mid][targets[tid][1]].append((row_id, source))

    elsewhere = _elsewhere(org, members) if direction == Direction.TEAMS and not use_table else {}

    for mid, (label, _uid) in members.items():
        mine = held.get(mid, {})
        before = set(mine)
        want = grants[mid]
        after = set(before)
        for key, sources in mine.items():
            idp_row = next((r for r, s in sources if s == AssignmentSource.IDP), None)
            if use_table:
                if key in managed and key not in want and idp_row is not None:
                    out.delete_ids.append(idp_row)
                    if all(s == AssignmentSource.IDP for _, s in sources):
                        after.discard(key)
            elif key not in want:
                # Name-based: the IdP is authoritative; hand-made and group rows outside its
                # set go. The SCIM roles attribute is the IdP speaking too, so its rows stay.
                gone = [
                    r for r, s in sources if s in (AssignmentSource.IDP, AssignmentSource.MANUAL)
                ]
                out.delete_ids.extend(gone)
                if len(gone) == len(sources):
                    after.discard(key)
        for key in want:
            if not any(s == AssignmentSource.IDP for _, s in mine.get(key, [])):
                out.add.append((mid, key))
                after.add(key)
        # Across organizations, only a team whose name is outside this member's resolved name
        # set goes: a same-named team in the other organization is what the IdP grants.
        lost = [loss for loss in elsewhere.get(mid, []) if key_of(loss.team_name) not in want]
        out.elsewhere.extend(lost)
        if after != before or lost:
            out.members.append(
                MemberDelta(
                    membership_id=mid,
                    label=label,
                    before=sorted((name_of[k] for k in before), key=str.casefold),
                    after=sorted((name_of[k] for k in after), key=str.casefold),
                    lost_elsewhere=[loss.label for loss in lost],
                )
            )
    return out


def _elsewhere(
    org: Organization, members: dict[int, tuple[str, int]]
) -> dict[int, list[ElsewhereLoss]]:
    """Name-based team sync is authoritative across organizations: every team membership the
    same people hold in other organizations is outside the IdP's target set (SCIM only grants
    teams of the token's own organization), so it goes."""
    member_of_user = {uid: mid for mid, (_, uid) in members.items()}
    out: dict[int, list[ElsewhereLoss]] = defaultdict(list)
    for uids in _chunks(list(member_of_user)):
        rows = (
            TeamMembership.objects.filter(membership__user_id__in=uids)
            .exclude(membership__org=org)
            .values_list(
                "id",
                "membership__org_id",
                "membership_id",
                "membership__org__slug",
                "team__name",
                "membership__user_id",
            )
            .order_by("id")
        )
        for row_id, org_id, mid, slug, team, uid in rows:
            out[member_of_user[uid]].append(
                ElsewhereLoss(
                    row_id=row_id,
                    org_id=org_id,
                    membership_id=mid,
                    label=f"{slug}: {team}",
                    team_name=team,
                )
            )
    return out
