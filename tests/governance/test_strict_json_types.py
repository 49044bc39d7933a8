"""A number, boolean, array or object where the REST API expects text is a 400 that says so,
at every door that takes text, and changes nothing (DRF alone turned `5` into "5")."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgs.services.teams import team_create
from tests.conftest import api

pytestmark = pytest.mark.django_db

DOORS = [
    ("POST", "/api/v1/invitations/", {"email": 5}, "email"),
    ("POST", "/api/v1/roles/", {"name": 12, "permissions": ["agents.run"]}, "name"),
    ("POST", "/api/v1/teams/", {"name": 1.5}, "name"),
    ("PATCH", "/api/v1/teams/{team}/", {"name": True}, "name"),
    ("POST", "/api/v1/api-keys/", {"label": 5}, "label"),
    ("POST", "/api/v1/service-keys/", {"label": ["x"]}, "label"),
    ("PUT", "/api/v1/sso/domains/", {"domains": [42]}, "domains"),
    (
        "PUT",
        "/api/v1/sso/oidc/",
        {"issuer": {"url": "https://idp"}, "client_id": "c", "client_secret": "s"},
        "issuer",
    ),
    ("PUT", "/api/v1/scim/mapping/roles/rows/", {"rows": [{"group_id": 7, "role_id": 1}]}, "rows"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), DOORS, ids=[d[1] for d in DOORS])
def test_text_fields_take_only_json_strings(client, org, api_key, method, path, body, field):
    team = team_create(org=org, name="Support", actor=None)
    before = AuditEvent.objects.count()
    r = api(client, method, path.format(team=team.pk), api_key, data=body)
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"] and "Expected a JSON string" in r.content.decode()
    assert AuditEvent.objects.count() == before
    team.refresh_from_db()
    assert team.name == "Support"


# Booleans take only true or false ("yes", "on", 1 were true to DRF); integers only JSON
# integers ("10" and 10.0 were 10). One door per family.
TYPED_DOORS = [
    ("PUT", "/api/v1/sso/jit/", {"enabled": "yes"}, "enabled", "Expected true or false"),
    ("PUT", "/api/v1/sso/require/", {"enabled": 1}, "enabled", "Expected true or false"),
    (
        "PUT",
        "/api/v1/scim/mapping/roles/mode/",
        {"use_mapping_table": "true", "confirm": True},
        "use_mapping_table",
        "Expected true or false",
    ),
    ("POST", "/api/v1/members/{member}/roles/", {"id": "1"}, "id", "Expected a whole number"),
    ("PUT", "/api/v1/retention/zdr/", {"enabled": "on"}, "enabled", "Expected true or false"),
    (
        "PUT",
        "/api/v1/retention/windows/",
        {"windows": {"payloads": 10.0}},
        "windows",
        "Expected a whole number",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "says"), TYPED_DOORS, ids=[d[1] for d in TYPED_DOORS]
)
def test_booleans_and_integers_take_only_their_json_type(
    client, org, admin, api_key, method, path, body, field, says
):
    before = AuditEvent.objects.count()
    r = api(client, method, path.format(member=admin.pk), api_key, data=body)
    assert r.status_code == 400, r.content
    assert field in r.json()["error"]["fields"] and says in r.content.decode()
    assert AuditEvent.objects.count() == before
