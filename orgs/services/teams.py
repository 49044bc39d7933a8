"""Teams (a.k.a. projects): groups of members that own agents and workflows."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import Conflict
from core.holds import refuse_if_held
from orgs.models import Organization, Team, name_key
from orgs.services.names import clean_name, ensure_name_free


@transaction.atomic
def team_create(*, org: Organization, name: str, actor: Actor | None) -> Team:
    name = clean_name(name, "team")
    ensure_name_free(Team, org, name, None)
    team = Team(org=org, name=name, name_key=name_key(name))
    try:
        team.save()
    except IntegrityError as exc:
        raise Conflict(f"A team named {name!r} already exists.", field="name") from exc
    audit_record(
        action=AuditAction.TEAM_CREATED,
        org=org,
        actor=actor,
        target=team,
        data={"new": {"name": name}},
    )
    return team


@transaction.atomic
def team_rename(*, team: Team, name: str, actor: Actor | None) -> Team:
    team = Team.objects.select_for_update(of=("self",)).select_related("org").get(pk=team.pk)
    name = clean_name(name, "team")
    if name == team.name:
        return team
    ensure_name_free(Team, team.org, name, team.pk)
    old = team.name
    team.name, team.name_key = name, name_key(name)
    try:
        team.save(update_fields=["name", "name_key"])
    except IntegrityError as exc:
        raise Conflict(f"A team named {name!r} already exists.", field="name") from exc
    audit_record(
        action=AuditAction.TEAM_RENAMED,
        org=team.org,
        actor=actor,
        target=team,
        data={"old": {"name": old}, "new": {"name": name}},
    )
    return team


@transaction.atomic
def team_delete(*, team: Team, actor: Actor | None) -> None:
    team = Team.objects.select_for_update(of=("self",)).select_related("org").get(pk=team.pk)
    # Its runs would lose the team a hold follows them by.
    refuse_if_held(team.org, "team", team.pk, f"The team {team.name}")
    members = sorted(
        team.team_memberships.values_list("membership__user__email", flat=True).distinct()
    )
    audit_record(
        action=AuditAction.TEAM_DELETED,
        org=team.org,
        actor=actor,
        target=team,
        data={"old": {"name": team.name, "members": members}},
    )
    team.delete()
