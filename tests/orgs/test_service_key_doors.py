"""The doors to service keys (the agent runtime's keys): the dashboard page, the REST API and
`manage.py service_key_create`. Only the RBAC admin role reaches them, each write is audited,
the secret is shown once, and another organization's key is a 404."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from orgs.models import ServiceKey
from orgs.services.api_keys import api_key_create
from orgs.services.assignments import role_assign
from orgs.services.roles import custom_role_create
from orgs.services.service_keys import service_key_create
from tests.conftest import api, assert_audited

pytestmark = pytest.mark.django_db

EVERY_ADMIN_CAPABILITY = [
    "admin.members",
    "admin.roles",
    "admin.teams",
    "admin.sso",
    "admin.scim",
    "admin.audit_log",
    "admin.retention",
    "admin.credentials",
    "admin.tracing",
]


def _decide(client: Client, key: str) -> int:
    return client.post(
        "/api/v1/authorize",
        data=json.dumps({"member": "admin@acme.example", "action": "agent.create"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    ).status_code


def test_the_page_makes_a_key_once_and_the_runtime_can_use_it(admin_client, client, org):
    r = admin_client.post("/o/acme/service-keys/", {"label": "runtime prod"})
    body = r.content.decode()
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    secret = body.split('id="new-service-key">')[1].split("<")[0]
    assert secret.startswith("gsk_")
    key = ServiceKey.objects.get(org=org)
    assert key.label == "runtime prod" and secret not in key.key_hash
    assert_audited("service_key.created", org=org, target_id=str(key.pk))
    assert _decide(client, secret) == 200
    listing = admin_client.get("/o/acme/service-keys/").content.decode()
    assert "runtime prod" in listing and secret not in listing  # never shown twice

    r = admin_client.post(f"/o/acme/service-keys/{key.pk}/revoke/")
    assert r.status_code == 302
    assert_audited("service_key.revoked", org=org, target_id=str(key.pk))
    assert _decide(client, secret) == 401


def test_an_org_admin_custom_role_is_not_the_admin_role(org, make_member):
    """Every delegable admin capability still does not reach service keys: a key acts for the
    whole organization, so only the RBAC admin role may make one."""
    delegate = make_member(org, "delegate@acme.example")
    role = custom_role_create(
        org=org, name="Org Admin", permissions=EVERY_ADMIN_CAPABILITY, actor=None
    )
    role_assign(membership=delegate, role=role, actor=None)
    c = Client()
    c.force_login(delegate.user)
    before = ServiceKey.objects.count()
    assert c.get("/o/acme/service-keys/").status_code == 403
    assert c.post("/o/acme/service-keys/", {"label": "x"}).status_code == 403
    assert "service-keys" not in c.get("/o/acme/me/").content.decode()
    _, key = api_key_create(membership=delegate, actor=None)
    r = api(Client(), "POST", "/api/v1/service-keys/", key, data={"label": "x"})
    assert r.status_code == 403 and "admin" in r.content.decode()
    assert ServiceKey.objects.count() == before


def test_the_api_creates_lists_reads_and_revokes(client, org, api_key):
    r = api(client, "POST", "/api/v1/service-keys/", api_key, data={"label": "ci"})
    assert r.status_code == 201 and "no-store" in r["Cache-Control"]
    secret, made = r.json()["service_key"], r.json()["key"]
    assert secret.startswith("gsk_") and made["label"] == "ci" and made["active"] is True
    listed = api(client, "GET", "/api/v1/service-keys/", api_key).json()["results"]
    assert [k["id"] for k in listed] == [made["id"]] and "service_key" not in listed[0]
    assert api(client, "GET", f"/api/v1/service-keys/{made['id']}/", api_key).json()["prefix"]
    assert _decide(client, secret) == 200
    r = api(client, "DELETE", f"/api/v1/service-keys/{made['id']}/", api_key)
    assert r.status_code == 200 and r.json()["active"] is False
    assert _decide(client, secret) == 401
    event = assert_audited("service_key.revoked", org=org, target_id=str(made["id"]))
    assert event.actor_kind == "api_key"


@pytest.mark.parametrize(
    "body",
    [
        '{"label": ',
        '["x"]',
        '{"label": 5}',
        json.dumps({"label": "x" * 101}),
        '{"label":"a\\u0000"}',
    ],
)
def test_bad_bodies_are_400_and_make_nothing(client, api_key, body):
    before = ServiceKey.objects.count()
    r = api(client, "POST", "/api/v1/service-keys/", api_key, data=body)
    assert r.status_code == 400, r.content
    assert ServiceKey.objects.count() == before


def test_another_organizations_key_is_a_404_at_every_door(
    org, other_org, admin, make_member, client
):
    theirs, _ = service_key_create(org=other_org, label="theirs", actor=None)
    _, key = api_key_create(membership=admin, actor=None)
    for method in ("GET", "DELETE"):
        r = api(client, method, f"/api/v1/service-keys/{theirs.pk}/", key)
        assert r.status_code == 404
    c = Client()
    c.force_login(admin.user)
    c.post(f"/o/acme/service-keys/{theirs.pk}/revoke/")
    assert "theirs" not in c.get("/o/acme/service-keys/").content.decode()
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert not AuditEvent.objects.filter(action="service_key.revoked").exists()


def test_a_service_key_cannot_manage_service_keys(client, org):
    _, secret = service_key_create(org=org, actor=None)
    r = api(client, "POST", "/api/v1/service-keys/", secret, data={"label": "more"})
    assert r.status_code == 401
    assert ServiceKey.objects.count() == 1


def test_the_command_prints_the_key_once_and_audits_it(org):
    out = StringIO()
    call_command("service_key_create", "acme", "--label", "runtime", stdout=out)
    made = json.loads(out.getvalue())
    assert made["service_key"].startswith("gsk_") and made["label"] == "runtime"
    event = assert_audited("service_key.created", org=org, target_id=str(made["key_id"]))
    assert event.actor_kind == "system"
    assert _decide(Client(), made["service_key"]) == 200
