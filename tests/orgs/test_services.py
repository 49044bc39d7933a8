"""Each service changes state and records its audit event; each refusal changes nothing."""

from __future__ import annotations

import pytest

from audit.choices import AuditAction
from audit.models import AuditEvent
from core import tokens
from core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from identity.models import User, UserSession
from orgs.choices import AssignmentSource, RbacRole
from orgs.models import (
    CustomRole,
    Membership,
    Organization,
    RoleAssignment,
    Team,
    TeamMembership,
)
from orgs.services.api_keys import api_key_create, api_key_revoke
from orgs.services.assignments import (
    MemberChange,
    assignments_bulk_change,
    role_assign,
    role_unassign,
    team_member_add,
    team_member_remove,
)
from orgs.services.members import (
    membership_add,
    membership_change_role,
    membership_deactivate,
    membership_reactivate,
)
from orgs.services.orgs import org_create
from orgs.services.roles import custom_role_create, custom_role_delete, custom_role_update
from orgs.services.teams import team_create, team_delete, team_rename
from tests.conftest import assert_audited, audit_count


def test_org_create_records_event(db):
    org = org_create(slug="acme", name="Acme", actor=None)
    assert Organization.objects.get(slug="acme") == org
    event = assert_audited(AuditAction.ORG_CREATED)
    assert event.org_id == org.pk and event.actor_kind == "system"
    assert event.data == {"new": {"slug": "acme", "name": "Acme"}}


@pytest.mark.parametrize("slug", ["", "-x", "UPPER case", "a" * 51, "x_y"])
def test_org_create_refuses_bad_slug_and_writes_nothing(db, slug):
    with pytest.raises(ValidationFailed):
        org_create(slug=slug, name="Acme", actor=None)
    assert Organization.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_org_create_refuses_duplicate_slug(org):
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        org_create(slug="acme", name="Again", actor=None)
    assert Organization.objects.count() == 1 and AuditEvent.objects.count() == before


def test_membership_add_creates_user_with_one_time_password(org, admin):
    added = membership_add(
        org=org, email="  New.Person@Acme.Example ", full_name="New  Person", actor=admin.user
    )
    m = added.membership
    assert m.user.email == "new.person@acme.example" and m.user.full_name == "New Person"
    assert m.role == RbacRole.MEMBER and m.is_active and m.source == "manual"
    assert added.user_created and added.one_time_password
    assert m.user.check_password(added.one_time_password) and m.user.password_change_required
    event = assert_audited(AuditAction.MEMBER_ADDED)
    assert event.actor_label == admin.user.email and event.target_id == str(m.pk)
    assert event.data["new"]["email"] == "new.person@acme.example"
    assert audit_count(action=AuditAction.USER_CREATED, target_id=str(m.user.pk)) == 1


def test_membership_add_existing_user_joins_second_org_without_new_password(org, other_org, admin):
    added = membership_add(org=other_org, email="ADMIN@acme.example", actor=None)
    assert not added.user_created and added.one_time_password is None
    assert added.membership.user == admin.user
    assert User.objects.count() == 1


def test_membership_add_refuses_duplicate_member_and_bad_email(org, admin):
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        membership_add(org=org, email="Admin@Acme.example", actor=None)
    with pytest.raises(ValidationFailed):
        membership_add(org=org, email="not-an-email", actor=None)
    with pytest.raises(ValidationFailed):
        membership_add(org=org, email="x@acme.example", role="owner", actor=None)
    assert Membership.objects.filter(org=org).count() == 1
    assert AuditEvent.objects.count() == before


def test_user_email_is_unique_case_insensitively_in_the_database(db):
    from django.db import IntegrityError, transaction

    User.objects.create(email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="A@EXAMPLE.COM")


def test_change_role_records_old_and_new(admin, member):
    membership_change_role(membership=member, role=RbacRole.ADMIN, actor=admin.user)
    member.refresh_from_db()
    assert member.role == RbacRole.ADMIN
    event = assert_audited(AuditAction.MEMBER_ROLE_CHANGED)
    assert event.data == {"old": {"role": "member"}, "new": {"role": "admin"}}


def test_change_role_to_same_role_is_a_no_op(admin, member):
    before = AuditEvent.objects.count()
    membership_change_role(membership=member, role=RbacRole.MEMBER, actor=admin.user)
    assert AuditEvent.objects.count() == before


def test_deactivate_ends_sessions_here_and_api_keys_and_keeps_data(admin, member, client):
    client.force_login(member.user)
    key, _ = api_key_create(membership=member, actor=member.user)
    team = team_create(org=member.org, name="Support", actor=admin.user)
    team_member_add(team=team, membership=member, actor=admin.user)
    assert UserSession.objects.filter(user=member.user).count() == 1

    membership_deactivate(membership=member, actor=admin.user)

    member.refresh_from_db()
    key.refresh_from_db()
    assert not member.is_active and member.deactivated_at is not None
    assert member.sessions_not_before == member.deactivated_at
    assert key.revoked_at is not None
    assert TeamMembership.objects.filter(membership=member).exists()  # nothing deleted
    event = assert_audited(AuditAction.MEMBER_DEACTIVATED)
    assert event.data["old"] == {"status": "active"} and event.data["new"] == {
        "status": "deactivated"
    }
    assert event.data["sessions_ended_before"] == member.deactivated_at.isoformat()
    assert event.data["api_keys_revoked"] == 1
    # The revoked session no longer reaches the dashboard, and never will again.
    assert client.get("/o/acme/me/")["Location"] == "/login/?next=/o/acme/me/"
    membership_reactivate(membership=member, actor=admin.user)
    assert client.get("/o/acme/me/")["Location"].startswith("/login/?reauth=1&")


def test_reactivate_records_event(admin, member):
    membership_deactivate(membership=member, actor=admin.user)
    membership_reactivate(membership=member, actor=admin.user)
    member.refresh_from_db()
    assert member.is_active and member.deactivated_at is None
    assert assert_audited(AuditAction.MEMBER_REACTIVATED).data["new"] == {"status": "active"}


def test_custom_role_create_update_delete(org, admin, member):
    role = custom_role_create(
        org=org,
        name="  Support   Builder ",
        permissions=["agents.run", "agents.create", "agents.run"],
        actor=admin.user,
    )
    assert role.name == "Support Builder" and role.name_key == "support builder"
    assert role.permissions == ["agents.create", "agents.run"]
    assert assert_audited(AuditAction.CUSTOM_ROLE_CREATED).data["new"]["permissions"] == [
        "agents.create",
        "agents.run",
    ]

    role_assign(membership=member, role=role, actor=admin.user)
    custom_role_update(role=role, permissions=["agents.run"], actor=admin.user)
    event = assert_audited(AuditAction.CUSTOM_ROLE_UPDATED)
    assert event.data == {
        "old": {"permissions": ["agents.create", "agents.run"]},
        "new": {"permissions": ["agents.run"]},
    }

    custom_role_delete(role=role, actor=admin.user)
    assert not CustomRole.objects.filter(pk=role.pk).exists()
    event = assert_audited(AuditAction.CUSTOM_ROLE_DELETED)
    assert event.data["old"]["holders"] == ["member@acme.example"]
    assert event.target_label == "Support Builder"


def test_custom_role_names_compare_case_and_whitespace_insensitively(org, admin):
    custom_role_create(org=org, name="Builder", actor=admin.user)
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        custom_role_create(org=org, name=" builder ", actor=admin.user)
    with pytest.raises(Conflict):
        custom_role_create(org=org, name="BUILDER", actor=admin.user)
    assert CustomRole.objects.filter(org=org).count() == 1
    assert AuditEvent.objects.count() == before


def test_same_role_name_is_fine_in_another_org(org, other_org, admin):
    custom_role_create(org=org, name="Builder", actor=None)
    custom_role_create(org=other_org, name="Builder", actor=None)
    assert CustomRole.objects.filter(name_key="builder").count() == 2


def test_custom_role_refuses_unknown_permission(org, admin):
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed, match=r"agents\.fly"):
        custom_role_create(org=org, name="X", permissions=["agents.fly"], actor=admin.user)
    with pytest.raises(ValidationFailed):
        custom_role_create(org=org, name="   ", actor=admin.user)
    assert CustomRole.objects.count() == 0 and AuditEvent.objects.count() == before


def test_role_assign_and_unassign_keep_sources_apart(org, admin, member):
    role = custom_role_create(org=org, name="Builder", actor=None)
    assert role_assign(membership=member, role=role, actor=admin.user)
    assert not role_assign(membership=member, role=role, actor=admin.user)
    assert role_assign(membership=member, role=role, source=AssignmentSource.IDP, actor=None)
    assert RoleAssignment.objects.filter(membership=member, role=role).count() == 2
    assert role_unassign(membership=member, role=role, actor=admin.user)
    remaining = RoleAssignment.objects.get(membership=member, role=role)
    assert remaining.source == AssignmentSource.IDP
    assert audit_count(action=AuditAction.MEMBER_CUSTOM_ROLE_ASSIGNED) == 2
    assert audit_count(action=AuditAction.MEMBER_CUSTOM_ROLE_UNASSIGNED) == 1


def test_role_from_another_org_cannot_be_assigned(org, other_org, admin, member):
    foreign = custom_role_create(org=other_org, name="Builder", actor=None)
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        role_assign(membership=member, role=foreign, actor=admin.user)
    assert not RoleAssignment.objects.exists() and AuditEvent.objects.count() == before


def test_team_lifecycle(org, admin, member):
    team = team_create(org=org, name="Support", actor=admin.user)
    team_rename(team=team, name="Customer Support", actor=admin.user)
    assert assert_audited(AuditAction.TEAM_RENAMED).data == {
        "old": {"name": "Support"},
        "new": {"name": "Customer Support"},
    }
    assert team_member_add(team=team, membership=member, actor=admin.user)
    assert assert_audited(AuditAction.TEAM_MEMBER_ADDED).data["new"] == {
        "member": "member@acme.example",
        "source": "manual",
    }
    assert team_member_remove(team=team, membership=member, actor=admin.user)
    assert not team_member_remove(team=team, membership=member, actor=admin.user)
    team_delete(team=team, actor=admin.user)
    assert not Team.objects.exists()
    assert assert_audited(AuditAction.TEAM_DELETED).data["old"]["name"] == "Customer Support"


def test_team_name_conflict_changes_nothing(org, admin):
    team_create(org=org, name="Data", actor=None)
    other = team_create(org=org, name="Sales", actor=None)
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        team_rename(team=other, name=" DATA", actor=admin.user)
    with pytest.raises(Conflict):
        team_create(org=org, name="data", actor=admin.user)
    other.refresh_from_db()
    assert other.name == "Sales" and AuditEvent.objects.count() == before


def test_member_of_another_org_cannot_join_team(org, other_org, admin, make_member):
    team = team_create(org=org, name="Data", actor=None)
    outsider = make_member(other_org, "x@globex.example")
    with pytest.raises(NotFound):
        team_member_add(team=team, membership=outsider, actor=None)
    assert not TeamMembership.objects.exists()


def test_api_key_create_stores_only_a_hash_and_revoke(admin):
    key, secret = api_key_create(membership=admin, label="ci", actor=admin.user)
    assert secret.startswith(f"gov_{key.prefix}_")
    assert secret not in key.key_hash and key.key_hash == tokens.token_hash(secret)
    assert assert_audited(AuditAction.API_KEY_CREATED).data["new"]["label"] == "ci"
    api_key_revoke(api_key=key, actor=admin.user)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert audit_count(action=AuditAction.API_KEY_REVOKED) == 1


def test_delegated_member_manager_cannot_grant_admin(org, admin, member, make_member):
    manager_role = custom_role_create(
        org=org, name="People ops", permissions=["admin.members", "admin.roles"], actor=None
    )
    role_assign(membership=member, role=manager_role, actor=None)
    other = make_member(org, "other@acme.example")
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        membership_change_role(membership=member, role=RbacRole.ADMIN, actor=member.user)
    with pytest.raises(PermissionDenied):
        membership_deactivate(membership=admin, actor=member.user)
    # Nor hand out permissions they do not hold themselves.
    with pytest.raises(PermissionDenied, match=r"admin\.sso"):
        custom_role_create(org=org, name="Sneaky", permissions=["admin.sso"], actor=member.user)
    assert AuditEvent.objects.count() == before
    # What they hold, they may delegate.
    custom_role_create(org=org, name="Helpers", permissions=["admin.members"], actor=member.user)
    membership_deactivate(membership=other, actor=member.user)
    other.refresh_from_db()
    assert not other.is_active


def test_audit_rolls_back_with_the_change(org, admin, monkeypatch):
    """If the audit row cannot be written, the change does not happen."""
    import orgs.services.teams as svc

    def broken(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(svc, "audit_record", broken)
    with pytest.raises(RuntimeError):
        team_create(org=org, name="Ghost", actor=admin.user)
    assert not Team.objects.filter(name="Ghost").exists()


def test_a_bulk_assignment_change_writes_rows_and_one_event_per_member(org, member, admin):
    builder = custom_role_create(org=org, name="Builder", actor=None)
    role_assign(membership=admin, role=builder, source=AssignmentSource.IDP, actor=None)
    held = RoleAssignment.objects.get(membership=admin, role=builder)
    before = audit_count(action="scim.user_role_changed")
    assignments_bulk_change(
        kind="roles",
        add=[(member.pk, builder.pk), (member.pk, builder.pk)],  # a repeat is kept once
        delete_ids=[held.pk],
        source=AssignmentSource.IDP,
        changes=[
            MemberChange(org=org, membership_id=member.pk, label="m", data={"new": ["Builder"]}),
            MemberChange(org=org, membership_id=admin.pk, label="a", data={"old": ["Builder"]}),
        ],
        action=AuditAction.SCIM_USER_ROLE_CHANGED,
        actor=None,
    )
    assert list(RoleAssignment.objects.values_list("membership_id", "source")) == [
        (member.pk, AssignmentSource.IDP)
    ]
    assert audit_count(action="scim.user_role_changed") == before + 2
    event = assert_audited("scim.user_role_changed", org=org, target_id=str(admin.pk))
    assert event.data == {"old": ["Builder"]} and event.target_label == "a"


def test_a_bulk_assignment_change_that_cannot_be_audited_changes_nothing(org, member, monkeypatch):
    import orgs.services.assignments as svc

    builder = custom_role_create(org=org, name="Builder", actor=None)

    def broken(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(svc, "audit_record", broken)
    with pytest.raises(RuntimeError):
        assignments_bulk_change(
            kind="roles",
            add=[(member.pk, builder.pk)],
            delete_ids=[],
            source=AssignmentSource.IDP,
            changes=[MemberChange(org=org, membership_id=member.pk, label="m", data={})],
            action=AuditAction.SCIM_USER_ROLE_CHANGED,
            actor=None,
        )
    assert not RoleAssignment.objects.exists()
