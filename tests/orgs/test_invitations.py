"""An organization acts only on itself: adding a person by hand is an invitation they accept
(at their next sign-in, or through its link), pending until then, listed, revocable and
audited; the answer never says whether the e-mail has an account elsewhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from identity.models import User
from orgs.choices import RbacRole
from orgs.models import Invitation, Membership
from orgs.services.api_keys import api_key_create
from orgs.services.invitations import invitation_create
from tests.conftest import PASSWORD, api

pytestmark = pytest.mark.django_db


@pytest.fixture
def globex_admin(other_org, make_member):
    return make_member(other_org, "boss@globex.example", RbacRole.ADMIN)


def test_inviting_another_orgs_admin_adds_nothing_and_cannot_reach_them(
    client, org, admin, api_key, globex_admin
):
    boss = Client()
    assert (
        boss.post("/login/", {"email": "boss@globex.example", "password": PASSWORD}).status_code
        == 302
    )
    r = api(client, "POST", "/api/v1/members/", api_key, {"email": "boss@globex.example"})
    assert r.status_code == 201 and r.json()["invitation"]["status"] == "pending"
    assert not Membership.objects.filter(org=org, user__email="boss@globex.example").exists()
    # Nothing in A to deactivate; B's session is untouched.
    members = api(client, "GET", "/api/v1/members/?q=boss", api_key).json()["results"]
    assert members == []
    assert boss.get("/o/globex/").status_code == 200


def test_the_answer_is_the_same_for_known_and_unknown_emails(client, api_key, globex_admin):
    known = api(client, "POST", "/api/v1/members/", api_key, {"email": "boss@globex.example"})
    unknown = api(client, "POST", "/api/v1/members/", api_key, {"email": "nobody@else.example"})
    assert known.status_code == unknown.status_code == 201
    varying = {"id", "email", "created_at", "expires_at"}
    same = [
        {k: v for k, v in r.json()["invitation"].items() if k not in varying}
        for r in (known, unknown)
    ]
    assert same[0] == same[1]
    assert set(known.json()) == set(unknown.json()) == {"invitation", "invitation_url"}


def test_an_existing_account_accepts_at_the_next_sign_in(org, admin, globex_admin):
    invitation_create(org=org, email="boss@globex.example", role="member", actor=admin.user)
    boss = Client()
    r = boss.post("/login/", {"email": "boss@globex.example", "password": PASSWORD}, follow=True)
    assert r.redirect_chain[-1][0] == "/invitations/"
    assert "Acme Corp" in r.content.decode()
    pending = Invitation.objects.get(email="boss@globex.example")
    r = boss.post(f"/invitations/{pending.pk}/accept/")
    assert r.status_code == 302 and r["Location"] == "/o/acme/me/"
    joined = Membership.objects.get(org=org, user__email="boss@globex.example")
    assert joined.role == "member" and joined.is_active and joined.source == "invite"
    pending.refresh_from_db()
    assert pending.status == "accepted" and pending.membership == joined
    accepted = AuditEvent.objects.get(action="member.invitation_accepted")
    assert accepted.org_id == org.pk and accepted.actor_label == "boss@globex.example"
    assert AuditEvent.objects.filter(action="member.invited", org_id=org.pk).count() == 1


def test_a_newcomer_joins_through_the_link_with_their_own_password(org, admin):
    made = invitation_create(
        org=org, email="new@acme.example", full_name="New Person", actor=admin.user
    )
    person = Client()
    page = person.get(made.path)
    assert page.status_code == 200 and "Create my account" in page.content.decode()
    r = person.post(
        made.path,
        {"full_name": "New Person", "password1": "a-long-pass-123", "password2": "a-long-pass-123"},
    )
    assert r.status_code == 302 and r["Location"] == "/o/acme/me/"
    assert person.get("/o/acme/me/").status_code == 200
    user = User.objects.get(email="new@acme.example")
    assert user.check_password("a-long-pass-123") and not user.password_change_required
    assert person.get(made.path).status_code == 404  # used up


def test_a_link_for_an_existing_account_asks_to_sign_in_and_refuses_another_account(
    org, admin, globex_admin, member
):
    made = invitation_create(org=org, email="boss@globex.example", actor=admin.user)
    r = Client().get(made.path)
    assert r.status_code == 302 and r["Location"].startswith("/login/?next=/invitations/")
    other = Client()
    other.force_login(member.user)
    page = other.get(made.path).content.decode()
    assert "sign in with that address" in page
    other.post(made.path)
    assert not Membership.objects.filter(org=org, user__email="boss@globex.example").exists()


def test_revoking_an_invitation(client, org, admin, api_key, admin_client):
    made = invitation_create(org=org, email="new@acme.example", actor=admin.user)
    r = admin_client.post(f"/o/acme/members/invitations/{made.invitation.pk}/revoke/", follow=True)
    assert "is revoked" in r.content.decode()
    assert Client().get(made.path).status_code == 404
    assert AuditEvent.objects.filter(action="member.invitation_revoked").count() == 1
    again = invitation_create(org=org, email="new@acme.example", actor=admin.user)  # room again
    r = api(client, "DELETE", f"/api/v1/invitations/{again.invitation.pk}/", api_key)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert api(client, "GET", "/api/v1/invitations/", api_key).json()["results"] == []


def test_one_pending_invitation_per_person_and_members_are_not_invited(client, org, admin, api_key):
    assert (
        api(
            client, "POST", "/api/v1/invitations/", api_key, {"email": "x@acme.example"}
        ).status_code
        == 201
    )
    again = api(client, "POST", "/api/v1/invitations/", api_key, {"email": "X@acme.example"})
    assert again.status_code == 409 and "pending invitation" in again.json()["error"]["message"]
    member = api(client, "POST", "/api/v1/invitations/", api_key, {"email": "admin@acme.example"})
    assert member.status_code == 409 and "already a member" in member.json()["error"]["message"]


def test_an_expired_invitation_cannot_be_used(org, admin):
    made = invitation_create(org=org, email="late@acme.example", actor=admin.user)
    Invitation.objects.filter(pk=made.invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    r = Client().get(made.path)
    assert r.status_code == 404 and "expired" in r.content.decode()


def test_another_orgs_invitations_are_invisible(client, org, admin, other_org, globex_admin):
    made = invitation_create(org=org, email="new@acme.example", actor=admin.user)
    _, globex_key = api_key_create(membership=globex_admin, actor=None)
    assert (
        api(client, "GET", f"/api/v1/invitations/{made.invitation.pk}/", globex_key).status_code
        == 404
    )
    assert (
        api(client, "DELETE", f"/api/v1/invitations/{made.invitation.pk}/", globex_key).status_code
        == 404
    )
    assert api(client, "GET", "/api/v1/invitations/", globex_key).json()["results"] == []
    made.invitation.refresh_from_db()
    assert made.invitation.status == "pending"


def test_only_an_admin_invites_an_admin(org, admin, make_member):
    from core.exceptions import PermissionDenied
    from orgs.services.assignments import role_assign
    from orgs.services.roles import custom_role_create

    manager = make_member(org, "manager@acme.example")
    role_assign(
        membership=manager,
        role=custom_role_create(org=org, name="HR", permissions=["admin.members"], actor=None),
        actor=None,
    )
    with pytest.raises(PermissionDenied):
        invitation_create(org=org, email="x@acme.example", role="admin", actor=manager.user)
    assert not Invitation.objects.exists()
