"""Org A's admin, through any page, never sees or changes anything of org B."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgs.choices import RbacRole
from orgs.models import CustomRole, Membership, Team
from orgs.services.assignments import team_member_add
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from tests.conftest import api


@pytest.fixture
def b_objects(other_org, make_member):
    b_admin = make_member(other_org, "boss@globex.example", RbacRole.ADMIN)
    b_member = make_member(other_org, "worker@globex.example")
    role = custom_role_create(org=other_org, name="Globex role", actor=None)
    team = team_create(org=other_org, name="Globex team", actor=None)
    team_member_add(team=team, membership=b_member, actor=None)
    return {"admin": b_admin, "member": b_member, "role": role, "team": team}


def snapshot():
    return (
        list(Membership.objects.order_by("pk").values_list("pk", "role", "is_active")),
        list(CustomRole.objects.order_by("pk").values_list("pk", "name", "permissions")),
        list(Team.objects.order_by("pk").values_list("pk", "name")),
        AuditEvent.objects.count(),
    )


def test_b_ids_in_a_urls_are_404(admin_client, b_objects):
    m, r, t = b_objects["member"].pk, b_objects["role"].pk, b_objects["team"].pk
    for url in [f"/o/acme/members/{m}/", f"/o/acme/roles/{r}/", f"/o/acme/teams/{t}/"]:
        assert admin_client.get(url).status_code == 404, url


@pytest.mark.parametrize("action", ["deactivate/", "role/", "roles/assign/", "teams/add/"])
def test_b_member_cannot_be_changed_through_a_urls(admin_client, b_objects, action, org):
    before = snapshot()
    r = admin_client.post(
        f"/o/acme/members/{b_objects['member'].pk}/{action}",
        {"role": "admin", "role_id": b_objects["role"].pk, "team_id": b_objects["team"].pk},
    )
    assert r.status_code == 404
    assert snapshot() == before


def test_b_role_and_team_cannot_be_changed_through_a_urls(admin_client, b_objects):
    before = snapshot()
    assert (
        admin_client.post(f"/o/acme/roles/{b_objects['role'].pk}/", {"name": "pwned"}).status_code
        == 404
    )
    assert admin_client.post(f"/o/acme/roles/{b_objects['role'].pk}/delete/", {}).status_code == 404
    for action in ["", "delete/", "members/remove/"]:
        r = admin_client.post(
            f"/o/acme/teams/{b_objects['team'].pk}/{action}",
            {"name": "pwned", "membership_id": b_objects["member"].pk},
        )
        assert r.status_code == 404
    assert snapshot() == before


def test_b_ids_inside_a_forms_change_nothing(admin_client, b_objects, member, org):
    """A's own member page, but B's role / team id in the form body."""
    before = snapshot()
    admin_client.post(
        f"/o/acme/members/{member.pk}/roles/assign/", {"role_id": b_objects["role"].pk}
    )
    admin_client.post(f"/o/acme/members/{member.pk}/teams/add/", {"team_id": b_objects["team"].pk})
    a_team = team_create(org=org, name="A team", actor=None)
    before = snapshot()
    r = admin_client.post(
        f"/o/acme/teams/{a_team.pk}/members/add/",
        {"membership_id": b_objects["member"].pk},
        follow=True,
    )
    assert b"does not exist in this organization" in r.content
    assert snapshot() == before


def test_b_slug_is_404_for_a_admin(admin_client, b_objects):
    for url in ["/o/globex/", "/o/globex/members/", "/o/globex/audit/", "/o/globex/me/"]:
        assert admin_client.get(url).status_code == 404


def test_a_pages_never_list_b_data(admin_client, b_objects):
    pages = ["/o/acme/", "/o/acme/members/", "/o/acme/roles/", "/o/acme/teams/", "/o/acme/audit/"]
    for url in pages:
        body = admin_client.get(url).content.decode()
        for needle in ["globex", "Globex role", "Globex team", "worker@globex.example"]:
            assert needle not in body, (url, needle)


def test_b_ids_through_a_api_key_are_404(client, api_key, b_objects):
    m, r, t = b_objects["member"].pk, b_objects["role"].pk, b_objects["team"].pk
    before = snapshot()
    calls = [
        ("GET", f"/api/v1/members/{m}/", None),
        ("PATCH", f"/api/v1/members/{m}/", {"role": "admin"}),
        ("POST", f"/api/v1/members/{m}/deactivate/", None),
        ("POST", f"/api/v1/members/{m}/roles/", {"id": r}),
        ("DELETE", f"/api/v1/members/{m}/roles/{r}/", None),
        ("GET", f"/api/v1/roles/{r}/", None),
        ("PATCH", f"/api/v1/roles/{r}/", {"name": "pwned"}),
        ("DELETE", f"/api/v1/roles/{r}/", None),
        ("GET", f"/api/v1/teams/{t}/", None),
        ("PATCH", f"/api/v1/teams/{t}/", {"name": "pwned"}),
        ("DELETE", f"/api/v1/teams/{t}/", None),
        ("POST", f"/api/v1/teams/{t}/members/", {"id": m}),
        ("DELETE", f"/api/v1/teams/{t}/members/{m}/", None),
    ]
    for method, path, body in calls:
        resp = api(client, method, path, api_key, body)
        assert resp.status_code == 404, (method, path, resp.content)
        assert resp.json()["error"]["code"] == "not_found"
    assert snapshot()[:3] == before[:3]


def test_a_api_lists_never_include_b(client, api_key, b_objects):
    for path in ["/api/v1/members/", "/api/v1/roles/", "/api/v1/teams/", "/api/v1/audit-events/"]:
        body = api(client, "GET", path, api_key).content.decode()
        assert "globex" not in body.lower(), path


def test_huge_and_odd_ids_are_404_not_500(admin_client, client, api_key):
    huge = "9" * 30
    for url in [f"/o/acme/members/{huge}/", f"/o/acme/roles/{huge}/", f"/o/acme/teams/{huge}/"]:
        assert admin_client.get(url).status_code == 404
    assert api(client, "GET", f"/api/v1/members/{huge}/", api_key).status_code == 404
    assert api(client, "POST", "/api/v1/teams/", api_key, {"name": "T"}).status_code == 201
    r = api(client, "POST", "/api/v1/members/1/roles/", api_key, {"id": int(huge)})
    assert r.status_code in (400, 404)
