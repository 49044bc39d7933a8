"""/api/v1/retention/: the same services and selection as the page; strict types; another
organization's team, hold, agent and workflow ids are 404 and change nothing."""

from __future__ import annotations

import pytest

from retention.models import LegalHold, TeamRetention
from retention.services import hold_place
from tests.conftest import api, assert_audited, audit_count

pytestmark = pytest.mark.django_db


def test_read_change_windows_preview_and_hold_through_the_api(client, world, api_key, aged):
    aged(20)
    body = api(client, "GET", "/api/v1/retention/", api_key).json()
    assert {c["key"]: c["days"] for c in body["categories"]}["payloads"] == 30
    preview = api(
        client, "POST", "/api/v1/retention/preview/", api_key, {"windows": {"payloads": 10}}
    ).json()
    assert preview["categories"]["payloads"]["rows"] == 4
    assert audit_count(action="retention.policy_changed") == 0
    r = api(client, "PUT", "/api/v1/retention/windows/", api_key, {"windows": {"payloads": None}})
    assert r.status_code == 400 and "confirm" in r.content.decode()
    r = api(
        client,
        "PUT",
        "/api/v1/retention/windows/",
        api_key,
        {"windows": {"payloads": 10}},
    )
    assert r.status_code == 200
    assert_audited("retention.policy_changed", org=world["org"])
    r = api(
        client,
        "POST",
        "/api/v1/retention/holds/",
        api_key,
        {"scope": "member", "target_id": world["consumer"].pk, "reason": "Doe v. Acme"},
    )
    assert r.status_code == 201
    hold_id = r.json()["id"]
    dry = api(client, "GET", "/api/v1/retention/dry-run/", api_key).json()
    assert dry["categories"]["payloads"]["rows"] == 0
    assert dry["categories"]["payloads"]["spared_by_holds"] == 4
    released = api(
        client, "POST", "/api/v1/retention/preview/", api_key, {"release_hold": hold_id}
    ).json()
    assert released["categories"]["payloads"]["rows"] == 4
    r = api(client, "POST", f"/api/v1/retention/holds/{hold_id}/release/", api_key)
    assert r.json()["released_at"]
    r = api(
        client,
        "PUT",
        f"/api/v1/retention/teams/{world['support'].pk}/",
        api_key,
        {"category": "payloads", "days": 60},
    )
    assert r.status_code == 200 and TeamRetention.objects.get(team=world["support"]).days == 60
    r = api(
        client,
        "PUT",
        "/api/v1/retention/zdr/",
        api_key,
        {"enabled": True, "agent": world["agent"].pk},
    )
    assert r.json()["zero_data_retention_agents"] == [world["agent"].pk]
    assert api(client, "GET", "/api/v1/retention/runs/", api_key).json() == []


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/retention/windows/", {"windows": {"payloads": "ten"}}),
        ("/api/v1/retention/windows/", {"windows": {"payloads": -1}}),
        ("/api/v1/retention/windows/", {"windows": {"nope": 3}}),
        ("/api/v1/retention/windows/", {"windows": []}),
        ("/api/v1/retention/zdr/", {"enabled": "yes"}),
        ("/api/v1/retention/holds/", {"scope": "galaxy", "reason": "x"}),
        ("/api/v1/retention/holds/", {"scope": "org"}),
        ("/api/v1/retention/holds/", {"scope": "org", "reason": 5}),
        ("/api/v1/retention/preview/", {"windows": {"nope": 1}}),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(client, world, api_key, path, body):
    method = "POST" if path.endswith(("holds/", "preview/")) else "PUT"
    r = api(client, method, path, api_key, body)
    assert r.status_code == 400, r.content
    assert not LegalHold.objects.exists()
    assert audit_count(action__startswith="retention.") == 0


def test_another_organizations_ids_are_404(client, world, other_org, make_member):
    from orgs.services.api_keys import api_key_create

    boss = make_member(other_org, "boss@globex.example", "admin")
    _, key = api_key_create(membership=boss, actor=None)
    hold = hold_place(org=world["org"], actor=None, scope="org", reason="keep")
    assert (
        api(client, "POST", f"/api/v1/retention/holds/{hold.pk}/release/", key).status_code == 404
    )
    team = world["support"].pk
    r = api(
        client, "PUT", f"/api/v1/retention/teams/{team}/", key, {"category": "payloads", "days": 1}
    )
    assert r.status_code == 404
    r = api(
        client, "PUT", "/api/v1/retention/zdr/", key, {"enabled": True, "agent": world["agent"].pk}
    )
    assert r.status_code == 404
    r = api(client, "POST", "/api/v1/retention/preview/", key, {"release_hold": hold.pk})
    assert r.status_code == 404
    r = api(
        client,
        "POST",
        "/api/v1/retention/holds/",
        key,
        {"scope": "team", "target_id": team, "reason": "theirs"},
    )
    assert r.status_code == 400 and "No team with id" in r.content.decode()
    assert api(client, "GET", "/api/v1/retention/holds/", key).json() == []
    hold.refresh_from_db()
    assert hold.released_at is None and not TeamRetention.objects.exists()
    world["agent"].refresh_from_db()
    assert not world["agent"].zero_data_retention
