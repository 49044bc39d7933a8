"""Deleting an IdP group is its members leaving it (what it alone granted goes, in both modes;
the event lists the table rows it took away), and name-based team sync across organizations
keeps a same-named team in the other organization."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from mapping.models import GroupMapping
from mapping.services.sync import mapping_sync_job_run, mapping_sync_start
from mapping.services.table import MappingRow, mapping_mode_set, mapping_table_replace
from orgs.models import RoleAssignment, TeamMembership
from orgs.services.assignments import team_member_add
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from scim.adapters import GroupChange, UserFields
from scim.services.groups import scim_group_create, scim_group_delete
from scim.services.tokens import scim_token_create
from scim.services.users import scim_user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org, admin):
    token, _ = scim_token_create(org=org, actor=None)

    def user(name):
        fields = UserFields(
            user_name=name, emails=[{"value": name, "type": "work", "primary": True}]
        )
        return scim_user_create(org=org, fields=fields, actor=token).scim_user

    def group(name, *people):
        change = GroupChange(display_name=name, members=[str(p.uid) for p in people])
        return scim_group_create(org=org, change=change, actor=token)

    return {"token": token, "user": user, "group": group}


def roles_of(idp_user):
    return set(
        RoleAssignment.objects.filter(membership_id=idp_user.membership_id).values_list(
            "role__name", flat=True
        )
    )


def test_deleting_a_group_in_table_mode_takes_away_what_it_alone_granted(org, world):
    ada, bob = world["user"]("ada@acme.example"), world["user"]("bob@acme.example")
    builder = custom_role_create(org=org, name="Builder", actor=None)
    g = world["group"]("Builders", ada, bob)
    h = world["group"]("Leads", bob)
    mapping_table_replace(
        org=org,
        direction="roles",
        rows=[
            MappingRow(group=str(g.uid), target=builder.pk),
            MappingRow(group=str(h.uid), target=builder.pk),
        ],
        actor=None,
    )
    mapping_sync_job_run(job_id=mapping_sync_start(org=org, actor=None).pk)
    assert roles_of(ada) == roles_of(bob) == {"Builder"}

    scim_group_delete(group=g, actor=world["token"])
    assert roles_of(ada) == set()  # only Builders gave it
    assert roles_of(bob) == {"Builder"}  # Leads still does
    assert not GroupMapping.objects.filter(group_id=g.pk).exists()
    event = AuditEvent.objects.get(action="scim.group_deleted")
    assert event.data["mapping_rows_removed"] == [{"direction": "roles", "target": "Builder"}]


def test_deleting_a_group_in_name_based_mode_takes_away_its_team(org, world):
    ada = world["user"]("ada@acme.example")
    mapping_mode_set(org=org, direction="teams", use_table=False, confirm=True, actor=None)
    g = world["group"]("Data", ada)
    assert TeamMembership.objects.filter(
        membership_id=ada.membership_id, team__name="Data"
    ).exists()
    scim_group_delete(group=g, actor=world["token"])
    assert not TeamMembership.objects.filter(membership_id=ada.membership_id).exists()


def test_name_based_teams_keep_a_same_named_team_in_another_org(org, other_org, world, make_member):
    ada = world["user"]("ada@acme.example")
    elsewhere = make_member(other_org, "ada@acme.example")
    data, ops = (
        team_create(org=other_org, name="DATA", actor=None),
        team_create(org=other_org, name="Ops", actor=None),
    )
    team_member_add(team=data, membership=elsewhere, actor=None)
    team_member_add(team=ops, membership=elsewhere, actor=None)
    mapping_mode_set(org=org, direction="teams", use_table=False, confirm=True, actor=None)
    world["group"]("Data", ada)
    kept = set(
        TeamMembership.objects.filter(membership=elsewhere).values_list("team__name", flat=True)
    )
    assert kept == {"DATA"}  # its name is in the resolved set; Ops is not
