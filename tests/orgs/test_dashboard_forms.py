"""Dashboard forms: valid input changes state; bad input shows a clear error, never a 500."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgs.models import CustomRole, Membership, RoleAssignment, Team
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create


def test_inviting_shows_the_link_once_and_lists_the_invitation(admin_client, org):
    r = admin_client.post("/o/acme/members/", {"email": "new@acme.example", "role": "member"})
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="invitation-link"' in html and "/invitations/inv_" in html
    again = admin_client.get("/o/acme/members/").content.decode()
    assert 'id="invitation-link"' not in again and "new@acme.example" in again  # pending
    assert not Membership.objects.filter(org=org, user__email="new@acme.example").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "nope", "role": "member"}, "valid email"),
        ({"email": "admin@acme.example", "role": "member"}, "already a member"),
        ({"email": "x@acme.example", "role": "owner"}, "not one of the available choices"),
    ],
)
def test_add_member_errors(admin_client, data, message):
    before = AuditEvent.objects.count()
    r = admin_client.post("/o/acme/members/", data)
    assert r.status_code == 400 and message in r.content.decode()
    assert AuditEvent.objects.count() == before


def test_member_search_and_pagination(admin_client, org, make_member):
    for i in range(30):
        make_member(org, f"user{i:02d}@acme.example", password=None)
    page1 = admin_client.get("/o/acme/members/").content.decode()
    assert "Page 1 of 2" in page1
    found = admin_client.get("/o/acme/members/?q=user07").content.decode()
    assert "user07@acme.example" in found and "user08@acme.example" not in found
    assert admin_client.get("/o/acme/members/?page=999").status_code == 200
    assert admin_client.get("/o/acme/members/?page=abc").status_code == 200


def test_role_create_edit_delete_via_the_page(admin_client, org):
    r = admin_client.post(
        "/o/acme/roles/new/",
        {
            "name": "Consumer",
            "description": "Runs",
            "permissions": ["agents.run", "workflows.execute"],
        },
    )
    assert r.status_code == 302
    role = CustomRole.objects.get(org=org, name="Consumer")
    assert role.permissions == ["agents.run", "workflows.execute"]
    admin_client.post(
        f"/o/acme/roles/{role.pk}/", {"name": "Consumer", "permissions": ["agents.run"]}
    )
    role.refresh_from_db()
    assert role.permissions == ["agents.run"]
    admin_client.post(f"/o/acme/roles/{role.pk}/delete/", {})
    assert not CustomRole.objects.filter(pk=role.pk).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "permissions": []},
        {"name": "X", "permissions": ["agents.fly"]},
        {"name": "y" * 101},
    ],
)
def test_role_form_errors_are_400_and_change_nothing(admin_client, data):
    r = admin_client.post("/o/acme/roles/new/", data)
    assert r.status_code == 400 and b"errorlist" in r.content
    assert not CustomRole.objects.exists()


def test_role_name_conflict_is_shown_on_the_form(admin_client, org):
    custom_role_create(org=org, name="Builder", actor=None)
    r = admin_client.post("/o/acme/roles/new/", {"name": "  BUILDER "})
    assert r.status_code == 400 and b"already exists" in r.content


def test_team_pages(admin_client, org, member):
    r = admin_client.post("/o/acme/teams/", {"name": "Support"})
    team = Team.objects.get(org=org)
    assert r["Location"] == f"/o/acme/teams/{team.pk}/"
    admin_client.post(f"/o/acme/teams/{team.pk}/members/add/", {"membership_id": member.pk})
    assert team.team_memberships.filter(membership=member).exists()
    r = admin_client.post(f"/o/acme/teams/{team.pk}/", {"name": ""})
    assert r.status_code == 400
    admin_client.post(f"/o/acme/teams/{team.pk}/", {"name": "Help"})
    team.refresh_from_db()
    assert team.name == "Help"
    admin_client.post(f"/o/acme/teams/{team.pk}/members/remove/", {"membership_id": member.pk})
    assert not team.team_memberships.exists()
    admin_client.post(f"/o/acme/teams/{team.pk}/delete/", {})
    assert not Team.objects.exists()


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("roles/assign/", {"role_id": "abc"}),
        ("roles/assign/", {"role_id": "999999"}),
        ("teams/add/", {}),
        ("role/", {"role": "superuser"}),
    ],
)
def test_member_actions_with_bad_input_never_500(admin_client, member, action, data):
    before = AuditEvent.objects.count()
    r = admin_client.post(f"/o/acme/members/{member.pk}/{action}", data, follow=True)
    assert r.status_code == 200 and b'class="error"' in r.content
    assert AuditEvent.objects.count() == before


def test_one_url_per_member_action_and_nothing_else_changes_a_member(admin_client, member):
    """The member page itself takes no POST (405), and an action that does not exist has no
    URL (404): neither changes anything."""
    before = AuditEvent.objects.count()
    assert admin_client.post(f"/o/acme/members/{member.pk}/", {"role": "admin"}).status_code == 405
    assert admin_client.post(f"/o/acme/members/{member.pk}/explode/", {}).status_code == 404
    assert admin_client.get(f"/o/acme/members/{member.pk}/deactivate/").status_code == 405
    member.refresh_from_db()
    assert member.is_active and member.role == "member"
    assert AuditEvent.objects.count() == before


def test_member_page_assigns_and_removes_roles(admin_client, org, member):
    role = custom_role_create(org=org, name="Builder", actor=None)
    admin_client.post(f"/o/acme/members/{member.pk}/roles/assign/", {"role_id": role.pk})
    assert RoleAssignment.objects.filter(membership=member, role=role).exists()
    admin_client.post(f"/o/acme/members/{member.pk}/roles/unassign/", {"role_id": role.pk})
    assert not RoleAssignment.objects.exists()


def test_audit_log_filters_and_errors(admin_client, org, admin):
    team_create(org=org, name="Alpha", actor=admin.user)
    custom_role_create(org=org, name="Beta", actor=admin.user)
    html = admin_client.get("/o/acme/audit/?action=team.created").content.decode()
    assert "Alpha" in html and "Beta" not in html
    html = admin_client.get("/o/acme/audit/?target=Beta&window=24h").content.decode()
    assert "Beta" in html and "Alpha" not in html
    r = admin_client.get("/o/acme/audit/?action=nope&since=garbage&before=xyz")
    assert r.status_code == 400 and b"Unknown action" in r.content
    future = admin_client.get("/o/acme/audit/?since=2999-01-01T00:00").content.decode()
    assert "No events match." in future


def test_audit_log_keyset_pages(admin_client, org, admin):
    for i in range(60):  # not "T09": every timestamp between 09:00 and 09:59 UTC holds it
        team_create(org=org, name=f"Team-{i:02d}", actor=admin.user)
    first = admin_client.get("/o/acme/audit/?action=team.created")
    assert "Team-59" in first.content.decode() and "Team-09" not in first.content.decode()
    import re

    nxt = re.search(r'href="\?([^"]*before=\d+)"', first.content.decode()).group(1)
    second = admin_client.get("/o/acme/audit/?" + nxt.replace("&amp;", "&")).content.decode()
    assert "Team-09" in second and "Team-59" not in second


def test_api_keys_page_creates_shows_once_and_revokes(member_client, member):
    r = member_client.post("/o/acme/api-keys/", {"label": "laptop"})
    html = r.content.decode()
    assert 'id="new-api-key"' in html
    key = member.api_keys.get()
    assert key.label == "laptop"
    assert 'id="new-api-key"' not in member_client.get("/o/acme/api-keys/").content.decode()
    member_client.post(f"/o/acme/api-keys/{key.pk}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert member_client.post("/o/acme/api-keys/x/revoke/").status_code == 404
    assert member_client.post("/o/acme/api-keys/999999/revoke/").status_code == 404
