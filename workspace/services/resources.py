"""Agents and workflows: create, edit (each edit a version, with its diff), delete, share.
Each asks the decision function first (workspace.services.guard) and audits itself in the same
transaction as its change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor, describe_actor
from core.exceptions import NotFound, ValidationFailed
from core.holds import refuse_if_held
from core.input import clean_block, clean_line
from orgs.models import Membership, Organization, Team
from orgs.rbac import INTEGRATIONS
from workspace.choices import LEVEL_PERMISSION, ResourceStatus, ShareLevel
from workspace.models import (
    Agent,
    AgentTeamShare,
    AgentUserShare,
    AgentVersion,
    Governed,
    Schedule,
    Workflow,
    WorkflowTeamShare,
    WorkflowUserShare,
    WorkflowVersion,
)
from workspace.services.guard import require

INTEGRATION_SLUGS = {slug for slug, _ in INTEGRATIONS}
EDITABLE = {
    "agent": ("name", "description", "instructions", "model", "integrations", "team", "status"),
    "workflow": ("name", "description", "steps", "team", "status"),
}
EVENTS = {
    "agent": (
        AuditAction.AGENT_CREATED,
        AuditAction.AGENT_UPDATED,
        AuditAction.AGENT_DELETED,
        AuditAction.AGENT_SHARED,
        AuditAction.AGENT_UNSHARED,
    ),
    "workflow": (
        AuditAction.WORKFLOW_CREATED,
        AuditAction.WORKFLOW_UPDATED,
        AuditAction.WORKFLOW_DELETED,
        AuditAction.WORKFLOW_SHARED,
        AuditAction.WORKFLOW_UNSHARED,
    ),
}


def kind_of(obj: Governed) -> str:
    return "agent" if isinstance(obj, Agent) else "workflow"


def _integrations(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed(
            "integrations must be a list of integration names.", field="integrations"
        )
    unknown = sorted(set(value) - INTEGRATION_SLUGS)
    if unknown:
        raise ValidationFailed(
            f"Unknown integration(s) {', '.join(unknown)}; "
            f"use {', '.join(sorted(INTEGRATION_SLUGS))}.",
            field="integrations",
        )
    return sorted(set(value))


def _steps(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or len(value) > 200:
        raise ValidationFailed("steps must be a list of at most 200 steps.", field="steps")
    out = []
    for i, step in enumerate(value, 1):
        if not isinstance(step, dict):
            raise ValidationFailed(f"Step {i} must be an object.", field="steps")
        integration = step.get("integration")
        action = step.get("action")
        if integration not in INTEGRATION_SLUGS:
            raise ValidationFailed(f"Step {i} names no known integration.", field="steps")
        if not isinstance(action, str) or not action.strip() or len(action) > 100:
            raise ValidationFailed(
                f"Step {i} needs an action (at most 100 characters).", field="steps"
            )
        name = clean_line(
            step.get("name", ""), field="steps", what=f"step {i} name", max_length=200
        )
        out.append({"name": name, "integration": integration, "action": action.strip()})
    return out


def _clean(kind: str, org: Organization, fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in EDITABLE[kind]:
            raise ValidationFailed(f"{kind.title()}s have no field {key!r}.", field=key)
        if key == "name":
            out[key] = clean_line(value, field="name", what="name", max_length=200)
            if not out[key]:
                raise ValidationFailed("The name cannot be empty.", field="name")
        elif key == "description":
            out[key] = clean_block(value, field=key, what="description", max_length=1000)
        elif key == "instructions":
            out[key] = clean_block(value, field=key, what="instructions", max_length=20000)
        elif key == "model":
            out[key] = clean_line(value, field=key, what="model", max_length=100)
        elif key == "integrations":
            out[key] = _integrations(value)
        elif key == "steps":
            out[key] = _steps(value)
        elif key == "status":
            if value not in ResourceStatus.values:
                raise ValidationFailed(
                    f"status must be one of {', '.join(ResourceStatus.values)}.", field="status"
                )
            out[key] = value
        elif key == "team":
            if value is None:
                out[key] = None
            else:
                team = Team.objects.filter(org=org, pk=getattr(value, "pk", value)).first()
                if team is None:
                    raise NotFound("No such team in this organization.", field="team")
                out[key] = team
    return out


def _snapshot(obj: Governed) -> dict[str, Any]:
    kind = kind_of(obj)
    data = {}
    for key in EDITABLE[kind]:
        value = getattr(obj, key)
        data[key] = value.name if isinstance(value, Team) else value
    return data


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {k: {"old": old.get(k), "new": new[k]} for k in new if old.get(k) != new[k]}


def _record_version(obj: Governed, actor: Actor | None, diff: dict[str, Any]) -> None:
    model = AgentVersion if isinstance(obj, Agent) else WorkflowVersion
    link = {"agent": obj} if isinstance(obj, Agent) else {"workflow": obj}
    model.objects.create(
        version=obj.version,
        changed_by=describe_actor(actor)[2][:300],
        snapshot=_snapshot(obj),
        diff=diff,
        **link,
    )


def resource_create(
    *, org: Organization, kind: str, fields: dict[str, Any], actor: Actor | None
) -> Governed:
    """A new agent or workflow, owned by the actor, in a team when `fields` names one (the
    actor must be in it unless they are an admin)."""
    owner = require(org=org, actor=actor, action=f"{kind}.create")
    with transaction.atomic():
        clean = _clean(kind, org, fields)
        if "name" not in clean:
            raise ValidationFailed("A name is needed.", field="name")
        team = clean.get("team")
        outsider = (
            team is not None
            and owner is not None
            and owner.role != "admin"
            and not owner.team_memberships.filter(team=team).exists()
        )
        if outsider:
            raise ValidationFailed(
                "You can only create in a team you belong to (or in your personal space).",
                field="team",
            )
        model = Agent if kind == "agent" else Workflow
        obj = model.objects.create(org=org, owner=owner, **clean)
        _record_version(obj, actor, _diff({}, _snapshot(obj)))
        audit_record(
            action=EVENTS[kind][0], org=org, actor=actor, target=obj, data={"new": _snapshot(obj)}
        )
        return obj


def resource_update(*, obj: Governed, fields: dict[str, Any], actor: Actor | None) -> Governed:
    kind = kind_of(obj)
    require(org=obj.org, actor=actor, action=f"{kind}.edit", resource=(kind, obj.pk))
    with transaction.atomic():
        obj = (
            type(obj)
            .objects.select_for_update(of=("self",))
            .select_related("org", "team")
            .get(pk=obj.pk)
        )
        clean = _clean(kind, obj.org, fields)
        before = _snapshot(obj)
        for key, value in clean.items():
            setattr(obj, key, value)
        diff = _diff(before, _snapshot(obj))
        if not diff:
            return obj
        obj.version += 1
        obj.updated_at = timezone.now()
        obj.save()
        _record_version(obj, actor, diff)
        audit_record(
            action=EVENTS[kind][1],
            org=obj.org,
            actor=actor,
            target=obj,
            data={
                "old": {k: v["old"] for k, v in diff.items()},
                "new": {k: v["new"] for k, v in diff.items()},
                "version": obj.version,
            },
        )
        return obj


def resource_delete(*, obj: Governed, actor: Actor | None) -> None:
    """Deletes the agent or workflow with its shares and schedules (each schedule's removal is
    an event of its own); its runs stay, under the name it had."""
    kind = kind_of(obj)
    require(org=obj.org, actor=actor, action=f"{kind}.delete", resource=(kind, obj.pk))
    with transaction.atomic():
        obj = type(obj).objects.select_for_update().get(pk=obj.pk)
        # Its runs would lose the agent or workflow a hold follows them by.
        refuse_if_held(obj.org, kind, obj.pk, f"The {kind} {obj.name}")
        schedules = list(Schedule.objects.filter(**{kind: obj}).select_related("run_as__user"))
        for schedule in schedules:
            audit_record(
                action=AuditAction.SCHEDULE_DELETED,
                org=obj.org,
                actor=actor,
                target=schedule,
                data={
                    "old": {
                        "cron": schedule.cron,
                        "time_zone": schedule.time_zone,
                        "run_as": schedule.run_as.user.email,
                    },
                    "reason": f"its {kind} {obj.name} was deleted",
                },
            )
        audit_record(
            action=EVENTS[kind][2],
            org=obj.org,
            actor=actor,
            target=obj,
            data={"old": _snapshot(obj), "schedules_removed": len(schedules)},
        )
        obj.delete()


def team_auth_group(team: Team) -> Group:
    """The auth group standing for the team in guardian's object permissions."""
    if team.auth_group_id:
        return team.auth_group
    group = Group.objects.create(name=f"team:{team.org_id}:{team.pk}")
    Team.objects.filter(pk=team.pk).update(auth_group=group)
    team.auth_group = group
    return group


def share_set(
    *,
    obj: Governed,
    level: str | None,
    actor: Actor | None,
    member: Membership | None = None,
    team: Team | None = None,
) -> None:
    """Share the object with one member or one team at `level` (None removes the share). One
    level per principal: a new level replaces the old."""
    kind = kind_of(obj)
    if (member is None) == (team is None):
        raise ValidationFailed("Share with exactly one member or one team.")
    if level is not None and level not in ShareLevel.values:
        raise ValidationFailed(
            f"level must be one of {', '.join(ShareLevel.values)}.", field="level"
        )
    principal_org = (member or team).org_id
    if principal_org != obj.org_id:
        raise NotFound("No such member or team in this organization.")
    require(org=obj.org, actor=actor, action=f"{kind}.share", resource=(kind, obj.pk))
    with transaction.atomic():
        target: Any = member.user if member is not None else team_auth_group(team)
        held = _held(target, obj)
        before = None
        for lvl, codename in LEVEL_PERMISSION.items():
            if codename in held:
                before = lvl
                remove_perm(codename, target, obj)
        if level is not None:
            assign_perm(LEVEL_PERMISSION[level], target, obj)
        who = member.user.email if member is not None else f"team {team.name}"
        audit_record(
            action=EVENTS[kind][3] if level else EVENTS[kind][4],
            org=obj.org,
            actor=actor,
            target=obj,
            data={"with": who, "old": {"level": before}, "new": {"level": level}},
        )


def _held(target: Any, obj: Governed) -> set[str]:
    """The share codenames the user or team group holds on the object (read from guardian's
    tables directly: its checker expects Django's superuser flag, which our users do not
    have)."""
    models = {
        Agent: (AgentUserShare, AgentTeamShare),
        Workflow: (WorkflowUserShare, WorkflowTeamShare),
    }[type(obj)]
    if isinstance(target, Group):
        rows = models[1].objects.filter(group=target, content_object=obj)
    else:
        rows = models[0].objects.filter(user=target, content_object=obj)
    return set(rows.values_list("permission__codename", flat=True))
