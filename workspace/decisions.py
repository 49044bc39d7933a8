"""The one decision function: may this member do this action on this agent or workflow (or in
the organization)? Every page, API call, schedule firing and the runtime's decision API ask it.

An action is allowed when all of these hold:
1. the **capability**: RBAC `admin`, or a custom role holding the action's permission;
2. **access** to the object, at the level the action needs (owner > editor > runner > viewer):
   `admin` and the object's owner are owners; members of the owning team are editors; a
   **share** (django-guardian object permission, to the member or to a team they are in) gives
   its level;
3. for running, every **integration** the agent or workflow uses is allowed by the member's
   roles (`integrations.use.<slug>`), and the object is active.

`decide_many()` answers a batch in two SQL statements whatever its size: one for the members
(RBAC role, custom roles' permissions, teams), one UNION for the objects and their shares
(written out in workspace.rows, where the measured reason is).
Nothing is cached, so a grant or a revoke counts at the very next decision."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from orgs.choices import RbacRole
from orgs.models import Membership, Organization
from orgs.rbac import CATALOG_CODES, INTEGRATIONS
from workspace import rows
from workspace.choices import LEVEL_PERMISSION, LEVEL_RANK, ResourceStatus, ShareLevel
from workspace.models import (
    Agent,
    AgentTeamShare,
    AgentUserShare,
    Workflow,
    WorkflowTeamShare,
    WorkflowUserShare,
)

INTEGRATION_SLUGS = frozenset(slug for slug, _ in INTEGRATIONS)


@dataclass(frozen=True)
class Action:
    kind: str | None  # "agent", "workflow", or None for an organization-wide action
    capability: str | None  # None: access alone decides (viewing, sharing)
    level: str | None  # the access level needed on the object
    runs: bool = False  # running: integrations and status are checked too


ACTIONS: dict[str, Action] = {
    "agent.create": Action(None, "agents.create", None),
    "agent.view": Action("agent", None, ShareLevel.VIEWER),
    "agent.run": Action("agent", "agents.run", ShareLevel.RUNNER, runs=True),
    "agent.edit": Action("agent", "agents.edit", ShareLevel.EDITOR),
    "agent.delete": Action("agent", "agents.delete", ShareLevel.OWNER),
    "agent.share": Action("agent", None, ShareLevel.OWNER),
    "workflow.create": Action(None, "workflows.build", None),
    "workflow.view": Action("workflow", None, ShareLevel.VIEWER),
    "workflow.execute": Action("workflow", "workflows.execute", ShareLevel.RUNNER, runs=True),
    "workflow.edit": Action("workflow", "workflows.build", ShareLevel.EDITOR),
    "workflow.delete": Action("workflow", "workflows.delete", ShareLevel.OWNER),
    "workflow.share": Action("workflow", None, ShareLevel.OWNER),
    "integration.use": Action(None, None, None),
    "integration.connect": Action(None, "integrations.connect", None),
    "schedule.manage": Action(None, "schedules.manage", None),
}
KINDS = {"agent": Agent, "workflow": Workflow}
_CODENAME_LEVEL = {codename: level for level, codename in LEVEL_PERMISSION.items()}


@dataclass(frozen=True)
class Question:
    member_id: int | str  # a membership id, or the member's e-mail
    action: str
    resource: tuple[str, int] | None = None  # ("agent", 12)
    integration: str | None = None


@dataclass
class Decision:
    allowed: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reasons": self.reasons}


@dataclass
class _Member:
    id: int
    user_id: int
    role: str
    active: bool
    permissions: set[str] = field(default_factory=set)
    teams: set[int] = field(default_factory=set)

    @property
    def is_admin(self) -> bool:
        return self.active and self.role == RbacRole.ADMIN

    def holds(self, code: str) -> bool:
        return self.active and (self.is_admin or code in self.permissions)


@dataclass
class _Object:
    kind: str
    id: int
    name: str = ""
    team_id: int | None = None
    owner_id: int | None = None
    status: str = ""
    integrations: list[str] = field(default_factory=list)
    user_levels: dict[int, str] = field(default_factory=dict)  # user id -> level
    team_levels: dict[int, str] = field(default_factory=dict)  # team id -> level


def _members(org: Organization, keys: set[int | str]) -> dict[int | str, _Member]:
    """Statement 1: the members (by id or e-mail), their RBAC role, their custom roles'
    permissions and teams. Keyed by id and by lower-cased e-mail."""
    out: dict[int | str, _Member] = {}
    ids = sorted(k for k in keys if isinstance(k, int))
    emails = sorted({k.strip().lower() for k in keys if isinstance(k, str)})
    for mid, email, uid, role, active, perms, team_id in rows.member_rows(org.pk, ids, emails):
        m = out.setdefault(mid, _Member(mid, uid, role, bool(active)))
        out[email.lower()] = m
        if perms:
            m.permissions.update(p for p in perms if p in CATALOG_CODES)
        if team_id:
            m.teams.add(team_id)
    return out


def _objects(org: Organization, wanted: dict[str, set[int]]) -> dict[tuple[str, int], _Object]:
    """Statement 2: the objects and their shares, as one UNION ALL (workspace.rows)."""
    objects: dict[tuple[str, int], _Object] = {}
    shares: list[tuple[str, int, str, int, str]] = []
    found = rows.object_rows(org.pk, {k: sorted(v) for k, v in wanted.items()})
    for kind, oid, row, a, b, text, name, uses in found:
        if row == "object":
            if kind == "workflow":
                uses = sorted(
                    {str(s.get("integration")) for s in uses or [] if isinstance(s, dict)}
                    - {"None", ""}
                )
            objects[(kind, oid)] = _Object(
                kind, oid, name, a, b, text, [str(u) for u in uses or []]
            )
        else:
            shares.append((kind, oid, row, a, text))
    for kind, oid, row, principal, codename in shares:
        obj = objects.get((kind, oid))
        level = _CODENAME_LEVEL.get(codename)
        if obj is None or level is None:
            continue
        levels = obj.user_levels if row == "user" else obj.team_levels
        if LEVEL_RANK[level] > LEVEL_RANK.get(levels.get(principal, ""), 0):
            levels[principal] = level
    return objects


def _access(member: _Member, obj: _Object) -> tuple[str | None, str]:
    """The member's access level on the object, and why."""
    best: tuple[str | None, str] = (None, "")

    def consider(level: str, why: str) -> None:
        nonlocal best
        if best[0] is None or LEVEL_RANK[level] > LEVEL_RANK[best[0]]:
            best = (level, why)

    if member.is_admin:
        consider(ShareLevel.OWNER, "the RBAC role admin reaches every object")
    if obj.owner_id == member.id:
        consider(ShareLevel.OWNER, f"owner of the {obj.kind}")
    if obj.team_id and obj.team_id in member.teams:
        consider(ShareLevel.EDITOR, f"member of its owning team (id {obj.team_id})")
    if member.user_id in obj.user_levels:
        level = obj.user_levels[member.user_id]
        consider(level, f"shared with the member as {level}")
    for team_id, level in obj.team_levels.items():
        if team_id in member.teams:
            consider(level, f"shared as {level} with team id {team_id}, which the member is in")
    return best


def _decide(q: Question, members: dict[int, _Member], objects: dict) -> Decision:
    action = ACTIONS.get(q.action)
    if action is None:
        return Decision(False, [f"unknown action {q.action!r}; known: {', '.join(ACTIONS)}"])
    key = q.member_id.strip().lower() if isinstance(q.member_id, str) else q.member_id
    member = members.get(key)
    if member is None:
        return Decision(False, ["no such member in this organization"])
    if not member.active:
        return Decision(False, ["the membership is deactivated"])
    reasons: list[str] = []
    allowed = True
    if action.capability:
        if member.holds(action.capability):
            how = "RBAC role admin" if member.is_admin else "a custom role"
            reasons.append(f"capability {action.capability}: granted by {how}")
        else:
            allowed = False
            reasons.append(
                f"capability {action.capability}: missing (a custom role holding it would grant it)"
            )
    if q.action == "integration.use":
        slug = q.integration or ""
        if slug not in INTEGRATION_SLUGS:
            return Decision(False, [f"unknown integration {slug!r}"])
        ok = member.holds(f"integrations.use.{slug}")
        reasons.append(f"integration {slug}: {'allowed' if ok else 'not allowed by any role'}")
        return Decision(ok, reasons)
    if action.kind is not None:
        if q.resource is None or q.resource[0] != action.kind:
            return Decision(False, [f"{q.action} needs a {action.kind} as its resource"])
        obj = objects.get(q.resource)
        if obj is None:
            return Decision(False, [f"no such {action.kind} in this organization"])
        level, why = _access(member, obj)
        needed = action.level or ShareLevel.VIEWER
        if level is not None and LEVEL_RANK[level] >= LEVEL_RANK[needed]:
            reasons.append(f"access {level} (needs {needed}): {why}")
        else:
            allowed = False
            have = f"access is only {level} ({why})" if level else "no access"
            reasons.append(
                f"{have}; {q.action} needs {needed}: being its owner, a member of its team, or "
                f"a share at {needed} or above would grant it"
            )
        if action.runs:
            if obj.status != ResourceStatus.ACTIVE:
                allowed = False
                reasons.append(f"the {obj.kind} is {obj.status}, not active")
            for slug in obj.integrations:
                if member.holds(f"integrations.use.{slug}"):
                    reasons.append(f"integration {slug}: allowed")
                else:
                    allowed = False
                    reasons.append(
                        f"integration {slug}: not allowed by any of the member's roles "
                        f"(integrations.use.{slug})"
                    )
        if q.integration and q.integration not in obj.integrations:
            allowed = False
            reasons.append(f"the {obj.kind} does not use the integration {q.integration!r}")
    return Decision(allowed, reasons)


def decide_many(org: Organization, questions: list[Question]) -> list[Decision]:
    """Answer every question, in order, in two SQL statements."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for q in questions:
        if q.resource is not None and q.resource[0] in KINDS:
            wanted[q.resource[0]].add(q.resource[1])
    members = _members(org, {q.member_id for q in questions})
    objects = _objects(org, wanted)
    return [_decide(q, members, objects) for q in questions]


def decide(org: Organization, question: Question) -> Decision:
    return decide_many(org, [question])[0]


def grants(member_id: int, user_id: int, role: str, active: bool, permissions: set[str]) -> _Member:
    """A member as the decision function sees them, from grants read elsewhere (the MCP
    gateway reads them with the caller's token) or proposed (the gateway's policy preview)."""
    return _Member(member_id, user_id, role, active, {p for p in permissions if p in CATALOG_CODES})


def decide_with(member: _Member, question: Question) -> Decision:
    """The decision function on a member given as grants(): an organization-wide action (an
    integration's use), so no object is read."""
    return _decide(question, {member.id: member}, {})


def visible_q(membership: Membership, kind: str) -> Q:
    """The objects of a kind the member may at least view, as a filter (lists and pickers)."""
    if membership.is_active and membership.role == RbacRole.ADMIN:
        return Q()
    share, team_share = (
        (AgentUserShare, AgentTeamShare)
        if kind == "agent"
        else (WorkflowUserShare, WorkflowTeamShare)
    )
    teams = membership.team_memberships.values("team_id")
    return (
        Q(owner=membership)
        | Q(team_id__in=teams)
        | Q(pk__in=share.objects.filter(user_id=membership.user_id).values("content_object_id"))
        | Q(pk__in=team_share.objects.filter(group__team__in=teams).values("content_object_id"))
    )
