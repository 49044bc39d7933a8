"""REST API: API-key auth, the same services as the dashboard, clear errors, cursor paging."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgs.models import ApiKey, CustomRole, Team
from orgs.services.api_keys import api_key_create, api_key_revoke
from orgs.services.assignments import role_assign, team_member_add
from orgs.services.members import membership_deactivate
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from tests.conftest import api


def test_no_key_and_bad_keys_are_401(client, api_key):
    assert client.get("/api/v1/members/").status_code == 401
    for header in [
        "Bearer nope",
        "Basic abc",
        "Bearer",
        f"Bearer {api_key}x",
        "Bearer gov_000000000000_" + "a" * 43,
    ]:
        r = client.get("/api/v1/members/", HTTP_AUTHORIZATION=header)
        assert r.status_code == 401, header
        assert r.json()["error"]["message"]
        assert r["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_and_deactivated_member_are_401(client, org, admin, member):
    key, secret = api_key_create(membership=admin, actor=None)
    assert api(client, "GET", "/api/v1/me/", secret).status_code == 200
    api_key_revoke(api_key=key, actor=None)
    assert api(client, "GET", "/api/v1/me/", secret).status_code == 401
    _, member_secret = api_key_create(membership=member, actor=None)
    membership_deactivate(membership=member, actor=admin.user)
    assert api(client, "GET", "/api/v1/me/", member_secret).status_code == 401


def test_key_use_updates_last_used(client, admin, api_key):
    api(client, "GET", "/api/v1/me/", api_key)
    assert ApiKey.objects.get(membership=admin).last_used_at is not None


def test_key_carries_its_members_permissions(client, org, member):
    _, secret = api_key_create(membership=member, actor=None)
    r = api(client, "GET", "/api/v1/members/", secret)
    assert r.status_code == 403 and "admin.members" in r.json()["error"]["message"]
    assert api(client, "GET", "/api/v1/me/", secret).json()["permissions"] == []
    role = custom_role_create(org=org, name="Auditor", permissions=["admin.audit_log"], actor=None)
    role_assign(membership=member, role=role, actor=None)
    assert api(client, "GET", "/api/v1/audit-events/", secret).status_code == 200
    assert api(client, "GET", "/api/v1/teams/", secret).status_code == 403


def test_member_listing_shows_roles_and_teams_with_sources(client, org, admin, member, api_key):
    role = custom_role_create(org=org, name="Builder", actor=None)
    team = team_create(org=org, name="Data", actor=None)
    role_assign(membership=member, role=role, actor=None)
    role_assign(membership=member, role=role, source="idp", actor=None)
    team_member_add(team=team, membership=member, source="idp", actor=None)
    r = api(client, "GET", f"/api/v1/members/{member.pk}/", api_key)
    body = r.json()
    assert body["email"] == "member@acme.example" and body["role"] == "member"
    assert body["status"] == "active" and body["source"] == "manual"
    assert sorted(body["custom_roles"], key=lambda a: a["source"]) == [
        {"id": role.pk, "name": "Builder", "source": "idp"},
        {"id": role.pk, "name": "Builder", "source": "manual"},
    ]
    assert body["teams"] == [{"id": team.pk, "name": "Data", "source": "idp"}]


def test_writes_go_through_the_services_and_are_audited_with_the_key(
    client, org, admin, api_key, make_member
):
    r = api(
        client,
        "POST",
        "/api/v1/members/",
        api_key,
        {"email": "new@acme.example", "full_name": "New"},
    )
    assert r.status_code == 201  # adding by hand invites
    assert r.json()["invitation"]["status"] == "pending"
    assert r.json()["invitation_url"].startswith("http://testserver/invitations/inv_")
    new_id = make_member(org, "joined@acme.example").pk
    r = api(
        client,
        "POST",
        "/api/v1/roles/",
        api_key,
        {"name": "Builder", "permissions": ["agents.run"]},
    )
    assert r.status_code == 201
    role_id = r.json()["id"]
    assert (
        api(
            client, "POST", f"/api/v1/members/{new_id}/roles/", api_key, {"id": role_id}
        ).status_code
        == 200
    )
    r = api(client, "POST", "/api/v1/teams/", api_key, {"name": "Data"})
    team_id = r.json()["id"]
    assert (
        api(client, "POST", f"/api/v1/teams/{team_id}/members/", api_key, {"id": new_id}).json()[
            "teams"
        ][0]["name"]
        == "Data"
    )
    assert (
        api(client, "PATCH", f"/api/v1/members/{new_id}/", api_key, {"role": "admin"}).json()[
            "role"
        ]
        == "admin"
    )
    assert (
        api(client, "POST", f"/api/v1/members/{new_id}/deactivate/", api_key).json()["status"]
        == "deactivated"
    )
    assert (
        api(client, "POST", f"/api/v1/members/{new_id}/reactivate/", api_key).json()["status"]
        == "active"
    )
    assert (
        api(
            client,
            "PATCH",
            f"/api/v1/roles/{role_id}/",
            api_key,
            {"permissions": ["agents.run", "agents.edit"]},
        ).status_code
        == 200
    )
    assert (
        api(client, "DELETE", f"/api/v1/members/{new_id}/roles/{role_id}/", api_key).json()[
            "custom_roles"
        ]
        == []
    )
    assert (
        api(client, "DELETE", f"/api/v1/teams/{team_id}/members/{new_id}/", api_key).json()["teams"]
        == []
    )
    assert (
        api(client, "PATCH", f"/api/v1/teams/{team_id}/", api_key, {"name": "Data Eng"}).json()[
            "name"
        ]
        == "Data Eng"
    )
    assert api(client, "DELETE", f"/api/v1/teams/{team_id}/", api_key).status_code == 204
    assert api(client, "DELETE", f"/api/v1/roles/{role_id}/", api_key).status_code == 204
    events = AuditEvent.objects.filter(actor_kind="api_key").values_list("action", flat=True)
    assert set(events) >= {
        "member.invited",
        "custom_role.created",
        "member.custom_role_assigned",
        "team.created",
        "team.member_added",
        "member.role_changed",
        "member.deactivated",
        "member.reactivated",
        "custom_role.updated",
        "member.custom_role_unassigned",
        "team.member_removed",
        "team.renamed",
        "team.deleted",
        "custom_role.deleted",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/v1/teams/", "{not json", 400, "parse_error"),
        ("POST", "/api/v1/teams/", '{"name": ' + "[" * 5000 + "]" * 5000 + "}", 400, "parse_error"),
        ("POST", "/api/v1/teams/", "[]", 400, "invalid"),
        ("POST", "/api/v1/teams/", {"name": ["x"]}, 400, "invalid"),
        ("POST", "/api/v1/teams/", {}, 400, "invalid"),
        ("POST", "/api/v1/roles/", {"name": "X", "permissions": "agents.run"}, 400, "invalid"),
        ("POST", "/api/v1/roles/", {"name": "X", "permissions": ["agents.fly"]}, 400, "invalid"),
        ("POST", "/api/v1/roles/", {"name": "   "}, 400, "invalid"),
        ("POST", "/api/v1/members/", {"email": "nope"}, 400, "invalid"),
        ("POST", "/api/v1/members/", {"email": "a@b.example", "role": "owner"}, 400, "invalid"),
        ("PATCH", "/api/v1/members/999999/", {"role": "admin"}, 404, "not_found"),
        ("GET", "/api/v1/members/abc/", None, 404, "not_found"),
        ("POST", "/api/v1/members/{admin}/roles/", {"id": "x"}, 400, "invalid"),
        ("POST", "/api/v1/members/{admin}/roles/", {"id": 99999}, 404, "not_found"),
        ("PATCH", "/api/v1/members/{admin}/", {"role": "member"}, 409, "last_admin"),
        ("GET", "/api/v1/audit-events/?window=forever", None, 400, "invalid"),
        ("GET", "/api/v1/audit-events/?since=yesterday", None, 400, "invalid"),
        ("GET", "/api/v1/audit-events/?cursor=garbage", None, 404, "not_found"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(
    client, admin, api_key, method, path, body, status, code
):
    before = (AuditEvent.objects.count(), Team.objects.count(), CustomRole.objects.count())
    r = api(client, method, path.format(admin=admin.pk), api_key, body)
    assert r.status_code == status, r.content
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    assert (AuditEvent.objects.count(), Team.objects.count(), CustomRole.objects.count()) == before


def test_duplicate_names_are_409(client, org, api_key):
    api(client, "POST", "/api/v1/teams/", api_key, {"name": "Data"})
    r = api(client, "POST", "/api/v1/teams/", api_key, {"name": " data "})
    assert r.status_code == 409 and "already exists" in r.json()["error"]["message"]


def test_oversized_body_is_413(client, api_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    r = api(client, "POST", "/api/v1/teams/", api_key, {"name": "x" * 5000})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert not Team.objects.exists()


def test_cursor_paging_walks_every_member_once(client, org, admin, api_key, make_member):
    for i in range(7):
        make_member(org, f"p{i}@acme.example", password=None)
    seen, url = [], "/api/v1/members/?limit=3"
    while url:
        body = api(client, "GET", url, api_key).json()
        seen += [m["email"] for m in body["results"]]
        url = body["next"]
    assert len(seen) == 8 and len(set(seen)) == 8


def test_audit_events_filter_and_page_newest_first(client, org, admin, api_key):
    for name in ["A", "B", "C"]:
        team_create(org=org, name=name, actor=admin.user)
    body = api(client, "GET", "/api/v1/audit-events/?action=team.created&limit=2", api_key).json()
    assert [e["target_label"] for e in body["results"]] == ["C", "B"]
    nxt = api(client, "GET", body["next"], api_key).json()
    assert [e["target_label"] for e in nxt["results"]] == ["A"]
    prefix = api(client, "GET", "/api/v1/audit-events/?action=team.", api_key).json()
    assert {e["action"] for e in prefix["results"]} == {"team.created"}
    # The actor is matched whole, in any case (an index answers it at any volume).
    url = "/api/v1/audit-events/?actor=ADMIN@ACME.EXAMPLE"
    by_actor = api(client, "GET", url, api_key).json()
    assert by_actor["results"] and all(
        e["actor_label"] == "admin@acme.example" for e in by_actor["results"]
    )
    assert api(client, "GET", "/api/v1/audit-events/?actor=ADMIN@", api_key).json()["results"] == []
    by_id = api(client, "GET", f"/api/v1/audit-events/?actor=user:{admin.user.pk}", api_key)
    assert {e["actor_label"] for e in by_id.json()["results"]} == {"admin@acme.example"}


def test_openapi_schema_is_served(client):
    r = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    import json

    schema = json.loads(r.content) if r["Content-Type"].startswith("application/json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(r.content)
    assert "/api/v1/members/" in schema["paths"]
    assert "/api/v1/audit-events/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_api_keys_of_ones_own_create_list_revoke(client, org, admin, member, api_key):
    r = api(client, "POST", "/api/v1/api-keys/", api_key, {"label": "ci"})
    assert r.status_code == 201
    new_secret, new_id = r.json()["api_key"], r.json()["key"]["id"]
    assert "key_hash" not in r.json()["key"]
    listed = api(client, "GET", "/api/v1/api-keys/", new_secret).json()["results"]
    assert {k["label"] for k in listed} == {"", "ci"} and all("api_key" not in k for k in listed)
    # Another member's key id is not ours to revoke.
    other, _ = api_key_create(membership=member, actor=None)
    assert api(client, "DELETE", f"/api/v1/api-keys/{other.pk}/", api_key).status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None
    r = api(client, "DELETE", f"/api/v1/api-keys/{new_id}/", api_key)
    assert r.status_code == 200 and r.json()["active"] is False
    assert api(client, "GET", "/api/v1/me/", new_secret).status_code == 401
