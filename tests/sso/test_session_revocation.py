"""Revocation is forever: a session signed in before a member was deactivated never reaches the
organization again, even after reactivation, however the session was born (password, one-time
password change, SAML, OIDC, break-glass). Deactivation in one organization leaves the person's
sessions in every other organization as they were."""

from __future__ import annotations

import pytest
from django.test import Client

from orgs.choices import RbacRole
from orgs.services.members import (
    membership_add,
    membership_deactivate,
    membership_reactivate,
)
from sso.services.config import sso_require_set
from tests.conftest import PASSWORD
from tests.sso.conftest import ADA
from tests.sso.test_oidc_sso import oidc_org, provider, sign_in  # noqa: F401  (fixtures)
from tests.sso.test_require_sso import passed_test, password_sign_in

pytestmark = pytest.mark.django_db


def deactivate_then_reactivate(membership) -> None:
    membership_deactivate(membership=membership, actor=None)
    membership_reactivate(membership=membership, actor=None)


def assert_revoked(client: Client, slug: str = "acme") -> None:
    response = client.get(f"/o/{slug}/me/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?reauth=1&next=")
    # Signing in again starts a new session, which reaches the org.
    assert client.get(response["Location"]).status_code == 200


def test_a_password_session_stays_revoked_after_reactivation(admin, member):
    client, response = password_sign_in("member@acme.example")
    assert response.status_code == 302
    assert client.get("/o/acme/me/").status_code == 200
    deactivate_then_reactivate(member)
    assert_revoked(client)
    again = client.post("/login/?reauth=1", {"email": "member@acme.example", "password": PASSWORD})
    assert again.status_code == 302
    assert client.get("/o/acme/me/").status_code == 200


def test_the_session_that_replaced_a_one_time_password_stays_revoked(org, admin):
    added = membership_add(org=org, email="new@acme.example", actor=None)
    client, response = password_sign_in("new@acme.example", added.one_time_password)
    assert response.status_code == 302 and "/account/password/" in response["Location"]
    before = client.session.session_key
    response = client.post(
        "/account/password/",
        {"password1": "a-new-long-pass-123", "password2": "a-new-long-pass-123"},
    )
    assert response.status_code == 302
    assert client.session.session_key != before  # the key was cycled
    assert client.get("/o/acme/me/").status_code == 200
    deactivate_then_reactivate(added.membership)
    assert_revoked(client)


def test_a_saml_session_stays_revoked_after_reactivation(saml_world):
    ada = membership_add(org=saml_world.org, email="ada@acme.example", actor=None).membership
    request = saml_world.start(next_path="/o/acme/me/")
    saml_world.post(saml_world.respond(ADA, request), request["relay_state"])
    assert saml_world.client.get("/o/acme/me/").status_code == 200
    deactivate_then_reactivate(ada)
    assert saml_world.client.get("/o/acme/me/").status_code == 302


def test_an_oidc_session_stays_revoked_after_reactivation(oidc_org, client):  # noqa: F811
    sign_in(client, "okta-sub-ada")
    assert client.get("/o/acme/me/").status_code == 200
    ada = oidc_org.memberships.get(user__email="ada@acme.example")
    deactivate_then_reactivate(ada)
    assert client.get("/o/acme/me/").status_code == 302


def test_a_break_glass_session_stays_revoked_after_reactivation(saml_world, make_member):
    passed_test(saml_world)
    make_member(saml_world.org, "second@acme.example", RbacRole.ADMIN)
    sso_require_set(org=saml_world.org, required=True, actor=saml_world.admin.user)
    client, response = password_sign_in("admin@acme.example")
    assert response.status_code == 302
    assert client.get("/o/acme/").status_code == 200
    deactivate_then_reactivate(saml_world.admin)
    assert client.get("/o/acme/").status_code == 302


def test_deactivation_in_one_org_leaves_the_other_org_alone(org, admin, other_org, make_member):
    make_member(other_org, "boss@globex.example", RbacRole.ADMIN)
    in_globex = make_member(other_org, "shared@globex.example", RbacRole.ADMIN)
    in_acme = membership_add(org=org, email="shared@globex.example", actor=None).membership
    client, _ = password_sign_in("shared@globex.example")
    assert client.get("/o/acme/me/").status_code == 200
    membership_deactivate(membership=in_acme, actor=admin.user)
    assert client.get("/o/acme/me/").status_code == 404  # A's pages: gone
    assert client.get("/o/globex/").status_code == 200  # B's: untouched
    in_globex.refresh_from_db()
    assert in_globex.is_active and in_globex.sessions_not_before is None
