"""The explainer: "can member X do action Y on Z?", answered with the rules that decide it.

It reads the same facts as the decision function, but keeps where each one comes from:
- the RBAC role;
- each custom role holding the capability, and how the member got it: by hand, from IdP group
  *G* through the mapping table or name-based mode, or from the SCIM `roles` attribute;
- the owner, team or share that gives access;
- the integration permissions.

For a denial it says what is missing and what would grant it. Its verdict is computed from
these parts, and a property test checks it against `workspace.decisions.decide` on random
worlds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mapping.engine import group_target_name
from mapping.models import GroupMapping, IdpGroupMember, MappingSettings
from orgs.choices import AssignmentSource, RbacRole
from orgs.models import Membership, Organization, RoleAssignment, TeamMembership, name_key
from workspace.choices import LEVEL_RANK, ResourceStatus, ShareLevel
from workspace.decisions import ACTIONS, INTEGRATION_SLUGS
from workspace.models import (
    Agent,
    AgentTeamShare,
    AgentUserShare,
    Workflow,
    WorkflowTeamShare,
    WorkflowUserShare,
)

LEVELS = {f"share_{level}": level for level in ShareLevel.values}


@dataclass
class Explanation:
    allowed: bool
    member: str
    action: str
    resource: str | None
    rbac_role: str
    capability: dict[str, Any] = field(default_factory=dict)
    access: dict[str, Any] = field(default_factory=dict)
    integrations: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _role_origins(membership: Membership) -> dict[str, list[dict[str, str]]]:
    """For each permission: the custom roles that hold it, with where each came from."""
    settings = MappingSettings.objects.filter(org_id=membership.org_id).first()
    groups = dict(
        IdpGroupMember.objects.filter(membership=membership).values_list(
            "group_id", "group__display_name"
        )
    )
    table = {}
    for role_id, group_id in GroupMapping.objects.filter(
        org_id=membership.org_id, direction="roles", group_id__in=groups
    ).values_list("role_id", "group_id"):
        table.setdefault(role_id, []).append(groups[group_id])
    out: dict[str, list[dict[str, str]]] = {}
    for assignment in RoleAssignment.objects.filter(membership=membership).select_related("role"):
        role = assignment.role
        if assignment.source == AssignmentSource.MANUAL:
            via = "assigned by hand"
        elif assignment.source == AssignmentSource.SCIM:
            via = "the SCIM roles attribute"
        elif settings is not None and not settings.use_table("roles"):
            named = [g for g in groups.values() if name_key(group_target_name(g)) == role.name_key]
            via = f"IdP group {', '.join(sorted(named)) or '?'} (name-based mode)"
        else:
            via = f"IdP group {', '.join(sorted(table.get(role.pk, []))) or '?'} (mapping table)"
        for permission in role.permissions or []:
            out.setdefault(permission, []).append({"role": role.name, "via": via})
    return out


def _object(org: Organization, resource: tuple[str, int] | None) -> Any:
    if resource is None:
        return None
    model = Agent if resource[0] == "agent" else Workflow
    return model.objects.filter(org=org, pk=resource[1]).select_related("team").first()


def _access_paths(membership: Membership, obj: Any) -> list[dict[str, str]]:
    kind = "agent" if isinstance(obj, Agent) else "workflow"
    user_share, team_share = (
        (AgentUserShare, AgentTeamShare)
        if kind == "agent"
        else (WorkflowUserShare, WorkflowTeamShare)
    )
    teams = dict(
        TeamMembership.objects.filter(membership=membership).values_list("team_id", "team__name")
    )
    paths = []
    if membership.role == RbacRole.ADMIN:
        paths.append({"level": ShareLevel.OWNER, "via": "RBAC role admin"})
    if obj.owner_id == membership.pk:
        paths.append({"level": ShareLevel.OWNER, "via": f"owner of the {kind}"})
    if obj.team_id in teams:
        paths.append({"level": ShareLevel.EDITOR, "via": f"member of its team {obj.team.name}"})
    mine = user_share.objects.filter(content_object=obj, user_id=membership.user_id)
    for codename in mine.values_list("permission__codename", flat=True):
        paths.append({"level": LEVELS[codename], "via": "shared with the member"})
    for codename, team_name in team_share.objects.filter(
        content_object=obj, group__team__in=list(teams)
    ).values_list("permission__codename", "group__team__name"):
        paths.append({"level": LEVELS[codename], "via": f"shared with team {team_name}"})
    return sorted(paths, key=lambda p: -LEVEL_RANK[p["level"]])


def explain(
    org: Organization,
    membership: Membership,
    action: str,
    resource: tuple[str, int] | None = None,
    integration: str | None = None,
) -> Explanation:
    spec = ACTIONS[action]
    out = Explanation(
        allowed=True,
        member=membership.user.email,
        action=action,
        resource=f"{resource[0]}:{resource[1]}" if resource else None,
        rbac_role=membership.role,
    )
    if not membership.is_active:
        out.allowed = False
        out.missing.append("the membership is deactivated: reactivating it")
        return out
    admin = membership.role == RbacRole.ADMIN
    origins = {} if admin else _role_origins(membership)

    def holds(code: str) -> tuple[bool, list[dict[str, str]]]:
        if admin:
            return True, [{"role": "RBAC role admin", "via": "the RBAC role"}]
        return bool(origins.get(code)), origins.get(code, [])

    if spec.capability:
        ok, by = holds(spec.capability)
        out.capability = {"needed": spec.capability, "held": ok, "granted_by": by}
        if not ok:
            out.allowed = False
            out.missing.append(f"the capability {spec.capability}: a custom role holding it")
    if action == "integration.use":
        known = integration in INTEGRATION_SLUGS
        ok, by = holds(f"integrations.use.{integration}") if known else (False, [])
        out.integrations.append({"integration": integration, "allowed": ok, "granted_by": by})
        if not ok:
            out.allowed = False
            out.missing.append(f"integrations.use.{integration}: a custom role holding it")
        return out
    if spec.kind is None:
        return out
    obj = _object(org, resource) if resource and resource[0] == spec.kind else None
    if obj is None:
        out.allowed = False
        out.missing.append(f"a {spec.kind} of this organization as the resource")
        return out
    needed = spec.level or ShareLevel.VIEWER
    paths = _access_paths(membership, obj)
    best = paths[0]["level"] if paths else None
    ok = best is not None and LEVEL_RANK[best] >= LEVEL_RANK[needed]
    out.access = {"needed": needed, "level": best, "paths": paths}
    if not ok:
        out.allowed = False
        team = f", joining its team {obj.team.name}" if obj.team_id else ""
        out.missing.append(f"access at {needed} or above: a share at {needed}{team}")
    if spec.runs:
        if obj.status != ResourceStatus.ACTIVE:
            out.allowed = False
            out.missing.append(f"the {spec.kind} to be active (it is {obj.status})")
        for slug in obj.integrations:
            ok, by = holds(f"integrations.use.{slug}")
            out.integrations.append({"integration": slug, "allowed": ok, "granted_by": by})
            if not ok:
                out.allowed = False
                out.missing.append(f"integrations.use.{slug}: a custom role holding it")
    if integration and integration not in obj.integrations:
        out.allowed = False
        out.missing.append(f"the {spec.kind} to use the integration {integration}")
    return out
