"""Least privilege on every dashboard page: members get 403, admins 200, delegation works."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgs.services.assignments import role_assign
from orgs.services.members import membership_deactivate
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create

ADMIN_PAGES = [
    "/o/acme/",
    "/o/acme/members/",
    "/o/acme/members/{member}/",
    "/o/acme/roles/",
    "/o/acme/roles/new/",
    "/o/acme/roles/{role}/",
    "/o/acme/teams/",
    "/o/acme/teams/{team}/",
    "/o/acme/audit/",
    "/o/acme/settings/scim/",
]
MEMBER_PAGES = ["/o/acme/me/", "/o/acme/api-keys/"]


@pytest.fixture
def ids(org, member):
    role = custom_role_create(org=org, name="Builder", actor=None)
    team = team_create(org=org, name="Data", actor=None)
    return {"member": member.pk, "role": role.pk, "team": team.pk}


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_member_gets_403_on_admin_pages(member_client, ids, page):
    r = member_client.get(page.format(**ids))
    assert r.status_code == 403
    assert b"not allowed" in r.content


# Every URL an admin form posts to (one URL per action).
FORM_PAGES = [
    "/o/acme/members/",
    "/o/acme/members/{member}/role/",
    "/o/acme/members/{member}/deactivate/",
    "/o/acme/members/{member}/reactivate/",
    "/o/acme/members/{member}/roles/assign/",
    "/o/acme/members/{member}/roles/unassign/",
    "/o/acme/members/{member}/teams/add/",
    "/o/acme/members/{member}/teams/remove/",
    "/o/acme/roles/new/",
    "/o/acme/roles/{role}/",
    "/o/acme/roles/{role}/delete/",
    "/o/acme/teams/",
    "/o/acme/teams/{team}/",
    "/o/acme/teams/{team}/delete/",
    "/o/acme/teams/{team}/members/add/",
    "/o/acme/teams/{team}/members/remove/",
    "/o/acme/settings/scim/",
    "/o/acme/settings/scim/mapping/save/",
    "/o/acme/settings/scim/mapping/sync/",
    "/o/acme/settings/sso/start/",
    "/o/acme/settings/sso/jit/",
    "/o/acme/settings/sso/require/",
]


@pytest.mark.parametrize("page", FORM_PAGES)
def test_member_cannot_post_to_admin_pages(member_client, ids, page, member):
    before = AuditEvent.objects.count()
    data = {"name": "x", "role": "admin", "role_id": ids["role"], "team_id": ids["team"]}
    r = member_client.post(page.format(**ids), {**data, "membership_id": ids["member"]})
    assert r.status_code == 403
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("page", ADMIN_PAGES + MEMBER_PAGES)
def test_admin_gets_200_on_every_page(admin_client, ids, page):
    assert admin_client.get(page.format(**ids)).status_code == 200


@pytest.mark.parametrize("page", MEMBER_PAGES)
def test_member_reaches_own_pages(member_client, ids, page):
    assert member_client.get(page).status_code == 200


@pytest.mark.parametrize("page", ADMIN_PAGES + MEMBER_PAGES)
def test_anonymous_is_sent_to_sign_in(client, ids, page):
    r = client.get(page.format(**ids))
    assert r.status_code == 302 and r["Location"].startswith("/login/?next=")


def test_delegated_capability_opens_exactly_its_page(org, member, member_client):
    role = custom_role_create(org=org, name="Team leads", permissions=["admin.teams"], actor=None)
    role_assign(membership=member, role=role, actor=None)
    assert member_client.get("/o/acme/teams/").status_code == 200
    assert member_client.get("/o/acme/").status_code == 200  # an admin capability: overview
    assert member_client.get("/o/acme/members/").status_code == 403
    assert member_client.get("/o/acme/audit/").status_code == 403


def test_navigation_shows_only_what_the_viewer_may_open(member_client):
    body = member_client.get("/o/acme/me/").content.decode()
    assert "/o/acme/members/" not in body and "/o/acme/audit/" not in body
    assert "/o/acme/api-keys/" in body


def test_deactivated_member_session_no_longer_opens_pages(org, admin, member):
    c = Client()
    c.force_login(member.user)
    membership_deactivate(membership=member, actor=admin.user)
    r = c.get("/o/acme/me/")
    assert r.status_code in (302, 404)
