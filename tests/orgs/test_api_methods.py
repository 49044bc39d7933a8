"""Every REST API route answers every method: its own, or 405 with the API's error body. Never
a 500 (a route that inherited another's handlers used to crash on GET)."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from orgs.services.assignments import team_member_add
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from tests.conftest import api

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def api_routes() -> list[str]:
    """The /api/v1/ URL patterns, with their converters left as placeholders."""
    out: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append(prefix + str(p.pattern))

    walk(get_resolver().url_patterns, "/")
    return [r for r in out if r.startswith("/api/v1/")]


@pytest.mark.parametrize("route", api_routes())
def test_every_method_on_every_api_route_is_answered_without_a_server_error(
    client, org, admin, member, api_key, route
):
    team = team_create(org=org, name="Data", actor=None)
    role = custom_role_create(org=org, name="Builder", actor=None)
    team_member_add(team=team, membership=member, actor=None)
    ids = {"pk": member.pk, "role_id": role.pk, "member_id": member.pk, "direction": "roles"}
    if route.startswith("/api/v1/teams/"):
        ids["pk"] = team.pk
    elif route.startswith("/api/v1/roles/"):
        ids["pk"] = role.pk
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), 1)), route)
    for method in METHODS:
        r = api(client, method, path, api_key, data={} if method != "GET" else None)
        assert r.status_code < 500, (method, path, r.status_code)
        if r.status_code == 405:
            assert r.json()["error"]["code"] in {"method_not_allowed", "invalid"}, r.json()


def test_a_route_answers_only_its_own_methods(client, org, admin, member, api_key):
    team = team_create(org=org, name="Data", actor=None)
    path = f"/api/v1/teams/{team.pk}/members/{member.pk}/"
    r = api(client, "GET", path, api_key)
    assert r.status_code == 405 and "GET" in r.json()["error"]["message"]
    assert api(client, "PATCH", path, api_key, data={"name": "x"}).status_code == 405
    team.refresh_from_db()
    assert team.name == "Data"
