"""Every statement of the seed's "What Changed", "How the Two Modes Work", "Recommended Setup"
and "Common Gotchas" (../shared/seeds/003_e2009b694df5b9ae.txt), as Okta drives it: users
and groups pushed over SCIM, the mapping configured through the REST API."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from mapping.models import MappingSyncJob
from orgs.models import CustomRole, Membership, Team, TeamMembership
from orgs.services.assignments import role_assign, team_member_add
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from tests.mapping.mapping_world import World

IDP, HAND = "idp", "manual"


@pytest.fixture
def world(scim, api_key, django_capture_on_commit_callbacks) -> World:
    return World(scim, api_key, django_capture_on_commit_callbacks)


@pytest.fixture
def targets(org):
    roles = {n: custom_role_create(org=org, name=n, actor=None) for n in ["Builder", "Viewer"]}
    teams = {n: team_create(org=org, name=n, actor=None) for n in ["Data", "Growth"]}
    return roles, teams


# --- What Changed ---------------------------------------------------------------------------


def test_team_sync_is_a_first_class_direction(world, targets):
    _, teams = targets
    world.user("ada")
    world.group("okta-data", "ada")
    world.table("teams", [("okta-data", teams["Data"])])
    assert world.teams("ada") == {("Data", IDP)}
    event = world.events("scim.user_team_changed")[-1]
    assert event.data["old"] == [] and event.data["new"] == ["Data"]
    assert event.actor_kind == "system" and "Mapping table replaced" in event.actor_label


def test_each_direction_is_independent(world, targets):
    roles, teams = targets
    world.user("ada")
    world.group("eng", "ada")
    world.table("roles", [("eng", roles["Builder"])])
    assert world.roles("ada") == {("Builder", IDP)} and world.teams("ada") == set()
    world.table("roles", [])
    world.table("teams", [("eng", teams["Data"])])
    assert world.roles("ada") == {("Builder", IDP)}  # clearing roles removed nobody
    assert world.teams("ada") == {("Data", IDP)}


def test_multi_group_membership_is_an_additive_deduplicated_union(world, targets):
    roles, _ = targets
    world.user("ada")
    world.group("eng", "ada")
    world.group("design", "ada")
    world.group("all", "ada")
    world.table(
        "roles",
        [("eng", roles["Builder"]), ("design", roles["Viewer"]), ("all", roles["Builder"])],
    )
    assert world.roles("ada") == {("Builder", IDP), ("Viewer", IDP)}
    world.leave("eng", "ada")  # "all" still grants Builder: no priority, just the union
    assert world.roles("ada") == {("Builder", IDP), ("Viewer", IDP)}
    world.leave("all", "ada")
    assert world.roles("ada") == {("Viewer", IDP)}


def test_each_direction_has_its_own_toggle(world, targets):
    r = world.mode("roles", False)
    assert r.status_code == 200 and r.json()["changed"] is True
    body = world.call("GET", "").json()
    assert body["roles"]["use_mapping_table"] is False
    assert body["teams"]["use_mapping_table"] is True
    event = world.events("scim.use_mapping_table_changed")[-1]
    assert event.target_id == "roles"
    assert event.data["old"] == {"use_mapping_table": True}
    assert event.data["new"] == {"use_mapping_table": False}


# --- Mapping table mode -----------------------------------------------------------------------


def test_groups_not_in_the_table_are_skipped_and_users_keep_their_assignments(world, targets, org):
    roles, _ = targets
    world.user("ada")
    role_assign(membership=world.member("ada"), role=roles["Viewer"], actor=None)
    world.group("eng", "ada")
    world.group("unmapped", "ada")
    world.table("roles", [("eng", roles["Builder"])])
    assert world.roles("ada") == {("Builder", IDP), ("Viewer", HAND)}
    world.join("unmapped", "ada")  # membership changes in unmapped groups change nothing
    world.leave("unmapped", "ada")
    assert world.roles("ada") == {("Builder", IDP), ("Viewer", HAND)}


def test_an_empty_table_changes_nothing(world, targets):
    roles, teams = targets
    world.user("ada")
    role_assign(membership=world.member("ada"), role=roles["Viewer"], actor=None)
    team_member_add(team=teams["Data"], membership=world.member("ada"), actor=None)
    before = AuditEvent.objects.filter(action__startswith="scim.user_").count()
    world.group("Builder", "ada")  # even a group named like a role: the table decides
    world.group("Data", "ada")
    job = world.sync()
    assert world.roles("ada") == {("Viewer", HAND)}
    assert world.teams("ada") == {("Data", HAND)}
    assert AuditEvent.objects.filter(action__startswith="scim.user_").count() == before
    assert MappingSyncJob.objects.get(pk=job["id"]).members_changed == 0


def test_group_names_need_not_match_target_names(world, targets):
    roles, _ = targets
    world.user("ada")
    world.group("okta-app-governance-builders", "ada")
    world.table("roles", [("okta-app-governance-builders", roles["Builder"])])
    assert world.roles("ada") == {("Builder", IDP)}


def test_leaving_a_mapped_group_loses_the_target_unless_another_group_grants_it(world, targets):
    roles, _ = targets
    world.user("ada")
    world.user("bob")
    world.group("eng", "ada", "bob")
    world.group("platform", "bob")
    world.table("roles", [("eng", roles["Builder"]), ("platform", roles["Builder"])])
    world.leave("eng", "ada")
    world.leave("eng", "bob")
    assert world.roles("ada") == set()
    assert world.roles("bob") == {("Builder", IDP)}
    event = world.events("scim.user_role_changed")[-1]
    assert event.target_label == "ada@acme.example"
    assert event.data["old"] == ["Builder"] and event.data["new"] == []
    assert event.actor_kind == "scim_token"  # the per-change sync acts as the token


def test_hand_made_assignment_of_a_mapped_target_survives_table_mode(world, targets):
    roles, _ = targets
    world.user("ada")
    world.group("eng")
    role_assign(membership=world.member("ada"), role=roles["Builder"], actor=None)
    world.table("roles", [("eng", roles["Builder"])])
    world.join("eng", "ada")
    assert world.roles("ada") == {("Builder", IDP), ("Builder", HAND)}
    world.leave("eng", "ada")
    assert world.roles("ada") == {("Builder", HAND)}


def test_removing_a_row_stops_managing_the_target_and_removes_nobody(world, targets):
    roles, _ = targets
    world.user("ada")
    world.group("eng", "ada")
    world.group("design", "ada")
    world.table("roles", [("eng", roles["Builder"]), ("design", roles["Viewer"])])
    world.table("roles", [("design", roles["Viewer"])])
    assert world.roles("ada") == {("Builder", IDP), ("Viewer", IDP)}
    world.leave("eng", "ada")  # Builder is no longer managed: leaving eng changes nothing
    assert world.roles("ada") == {("Builder", IDP), ("Viewer", IDP)}
    event = world.events("scim.role_mapping_updated")[-1]
    assert event.data["old"] == [
        {"group": "design", "target": "Viewer"},
        {"group": "eng", "target": "Builder"},
    ]
    assert event.data["new"] == [{"group": "design", "target": "Viewer"}]


def test_the_table_never_touches_targets_it_does_not_name(world, targets):
    roles, _ = targets
    world.user("ada")
    role_assign(membership=world.member("ada"), role=roles["Viewer"], source="idp", actor=None)
    world.group("eng", "ada")
    world.table("roles", [("eng", roles["Builder"])])
    world.leave("eng", "ada")
    assert world.roles("ada") == {("Viewer", IDP)}


# --- Name-based mode --------------------------------------------------------------------------


def test_switching_to_name_based_without_confirmation_is_refused_and_changes_nothing(
    world, targets
):
    roles, _ = targets
    world.user("ada")
    role_assign(membership=world.member("ada"), role=roles["Viewer"], actor=None)
    r = world.mode("roles", False, confirm=False)
    assert r.status_code == 400 and "confirm" in r.json()["error"]["message"]
    assert world.call("GET", "").json()["roles"]["use_mapping_table"] is True
    assert world.roles("ada") == {("Viewer", HAND)}
    assert not world.events("scim.use_mapping_table_changed")
    assert not MappingSyncJob.objects.exists()


def test_name_based_hit_joins_the_existing_target_case_and_space_insensitively(world, targets):
    world.user("ada")
    world.group("  builder ", "ada")
    world.group("DATA", "ada")
    world.mode("roles", False)
    world.mode("teams", False)
    # " builder " hits the role Builder and "DATA" the team Data; each group is also a miss
    # in the other direction, which creates a target named after it.
    assert world.roles("ada") == {("Builder", IDP), ("DATA", IDP)}
    assert world.teams("ada") == {("Data", IDP), ("builder", IDP)}
    assert set(CustomRole.objects.values_list("name", flat=True)) == {"Builder", "Viewer", "DATA"}
    assert set(Team.objects.values_list("name", flat=True)) == {"Data", "Growth", "builder"}


def test_name_based_miss_auto_creates_a_role_without_permissions_and_a_team(world, targets, org):
    world.user("ada")
    world.group("Finance Analysts", "ada")
    world.mode("roles", False)
    world.mode("teams", False)
    role = CustomRole.objects.get(org=org, name="Finance Analysts")
    assert role.permissions == []
    assert Team.objects.filter(org=org, name="Finance Analysts").exists()
    assert world.roles("ada") == {("Finance Analysts", IDP)}
    assert world.teams("ada") == {("Finance Analysts", IDP)}
    created = world.events("scim.auto_created_entity")
    assert [(e.target_type, e.target_label) for e in created] == [
        ("customrole", "Finance Analysts"),
        ("team", "Finance Analysts"),
    ]
    assert MappingSyncJob.objects.order_by("id").last().auto_created == ["Finance Analysts"]


def test_name_based_wipes_a_direction_for_users_whose_groups_resolve_to_nothing(world, targets):
    roles, teams = targets
    world.user("ada")
    member = world.member("ada")
    role_assign(membership=member, role=roles["Viewer"], actor=None)
    team_member_add(team=teams["Growth"], membership=member, actor=None)
    world.mode("roles", False)
    assert world.roles("ada") == set()
    assert world.teams("ada") == {("Growth", HAND)}  # the teams direction is still a table
    event = world.events("scim.user_role_changed")[-1]
    assert event.data == {"old": ["Viewer"], "new": [], "mode": "name-based"}


def test_hand_made_assignments_outside_the_idp_set_are_removed_in_name_based_mode(world, targets):
    roles, _ = targets
    world.user("ada")
    role_assign(membership=world.member("ada"), role=roles["Viewer"], actor=None)
    role_assign(membership=world.member("ada"), role=roles["Builder"], actor=None)
    world.group("Builder", "ada")
    world.mode("roles", False)
    assert world.roles("ada") == {("Builder", IDP), ("Builder", HAND)}
    world.leave("Builder", "ada")
    assert world.roles("ada") == set()


def test_name_based_team_sync_removes_team_memberships_in_other_organizations(
    world, targets, other_org, make_member
):
    world.user("ada")
    world.group("Data", "ada")
    elsewhere = make_member(other_org, "ada@acme.example")
    other_team = team_create(org=other_org, name="Research", actor=None)
    team_member_add(team=other_team, membership=elsewhere, actor=None)
    world.mode("teams", False)
    assert world.teams("ada") == {("Data", IDP)}
    assert not TeamMembership.objects.filter(membership=elsewhere).exists()
    event = AuditEvent.objects.get(org_id=other_org.pk, action="scim.user_team_changed")
    assert event.data["removed"] == ["Research"] and "'acme'" in event.data["reason"]
    # SCIM only ever adds to teams of the token's own organization.
    assert not TeamMembership.objects.filter(team__org=other_org).exists()
    assert Team.objects.filter(org=other_org).count() == 1


def test_auto_created_entities_persist_after_flipping_the_toggle_back(world, targets, org):
    world.user("ada")
    world.group("Ops", "ada")
    world.mode("roles", False)
    world.mode("teams", False)
    world.mode("roles", True, confirm=False)  # back to the table: no confirmation needed
    world.mode("teams", True, confirm=False)
    assert CustomRole.objects.filter(org=org, name="Ops").exists()
    assert Team.objects.filter(org=org, name="Ops").exists()


# --- Recommended setup -------------------------------------------------------------------------


def test_provisioning_with_both_directions_empty_touches_no_role_or_team(world, targets):
    roles, _ = targets
    world.user("ada")
    role_assign(membership=world.member("ada"), role=roles["Viewer"], actor=None)
    world.group("Builder", "ada")
    world.group("Data", "ada")
    uid = world.users["ada"]
    deactivate = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    assert world.scim("PATCH", f"/Users/{uid}", deactivate).status_code == 200
    deactivate["Operations"][0]["value"]["active"] = True
    assert world.scim("PATCH", f"/Users/{uid}", deactivate).status_code == 200
    assert world.scim("DELETE", f"/Users/{uid}").status_code == 204
    assert world.roles("ada") == {("Viewer", HAND)} and world.teams("ada") == set()
    assert not AuditEvent.objects.filter(
        action__in=["scim.user_role_changed", "scim.user_team_changed"]
    ).exists()


def test_a_few_role_mappings_and_a_manual_sync_only_those_take_effect(world, targets, org):
    roles, _ = targets
    world.user("ada")
    world.user("bob")
    world.group("eng", "ada")
    world.group("Viewer", "bob")  # named like a role, but the table decides
    world.group("Data", "ada")
    world.table("roles", [("eng", roles["Builder"])])
    job = world.sync()
    assert job["trigger"] == "manual"
    assert world.call("GET", f"sync/{job['id']}/").json()["status"] == "done"
    assert world.roles("ada") == {("Builder", IDP)}
    assert world.roles("bob") == set() and world.teams("ada") == set()


# --- Common gotchas ------------------------------------------------------------------------------


def test_clearing_the_table_does_not_remove_memberships(world, targets):
    _, teams = targets
    world.user("ada")
    world.group("eng", "ada")
    world.table("teams", [("eng", teams["Data"])])
    world.table("teams", [])
    world.sync()
    assert world.teams("ada") == {("Data", IDP)}


def test_name_based_mode_is_irreversible_per_sync(world, targets):
    roles, _ = targets
    world.user("ada")
    role_assign(membership=world.member("ada"), role=roles["Viewer"], actor=None)
    world.mode("roles", False)
    world.mode("roles", True)
    assert world.roles("ada") == set()  # flipping back does not restore what the sync removed


def test_custom_roles_and_teams_never_change_the_rbac_role(world, targets, org, admin):
    world.user("ada")
    world.group("Admin", "ada")
    world.group("Owners", "ada")
    admin_email = admin.user.email
    world.scim(
        "POST",
        "/Users",
        {
            "userName": admin_email,
            "emails": [{"value": admin_email, "primary": True}],
            "active": True,
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        },
    )
    world.mode("roles", False)
    world.mode("teams", False)
    assert world.roles("ada") == {("Admin", IDP), ("Owners", IDP)}
    assert world.member("ada").role == "member"  # a custom role named Admin is not RBAC admin
    assert CustomRole.objects.get(org=org, name="Admin").permissions == []
    assert Membership.objects.get(pk=admin.pk).role == "admin"  # nor is anyone demoted


def test_the_nightly_reconciliation_heals_drift(world, targets, django_capture_on_commit_callbacks):
    from mapping.tasks import mapping_reconcile_nightly

    roles, _ = targets
    world.user("ada")
    world.group("eng", "ada")
    world.table("roles", [("eng", roles["Builder"])])
    world.member("ada").role_assignments.filter(source=IDP).delete()  # drift, e.g. a DB restore
    with django_capture_on_commit_callbacks(execute=True):
        assert mapping_reconcile_nightly() == 1  # one organization has provisioned people
    assert world.roles("ada") == {("Builder", IDP)}
    job = MappingSyncJob.objects.order_by("id").last()
    assert (job.trigger, job.status, job.members_changed) == ("nightly", "done", 1)
    assert job.requested_by == "nightly mapping reconciliation"
