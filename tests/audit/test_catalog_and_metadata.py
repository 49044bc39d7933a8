"""The event catalog SIEM parsers are written against; metadata is size-capped; and the guard
that scans every event the suite writes for secrets does catch one."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit.choices import AuditAction
from audit.models import AuditEvent
from audit.services import MAX_DATA_CHARS, audit_record
from tests.conftest import api, secrets_in

pytestmark = pytest.mark.django_db


def test_the_catalog_lists_every_action_with_version_description_and_outcome(client, api_key):
    r = api(client, "GET", "/api/v1/audit-events/catalog/", api_key)
    assert r.status_code == 200
    body = r.json()
    names = [a["action"] for a in body["actions"]]
    assert names == sorted(AuditAction.values)
    denied = next(a for a in body["actions"] if a["action"] == "access.denied")
    assert denied == {
        "action": "access.denied",
        "description": "Denied attempt",
        "version": 1,
        "category": "access",
        "outcome": "denied",
    }
    assert all(a["description"] and a["version"] >= 1 for a in body["actions"])
    assert body["leaf_format"] == "audit-leaf-v1" and "occurred_at" in body["fields"]


def test_the_catalog_needs_the_audit_log_permission(client, member):
    from orgs.services.api_keys import api_key_create

    _, key = api_key_create(membership=member, actor=None)
    assert api(client, "GET", "/api/v1/audit-events/catalog/", key).status_code == 403


def test_events_in_the_api_carry_their_leaf(client, api_key, org):
    event = api(client, "GET", "/api/v1/audit-events/", api_key).json()["results"][0]
    assert len(event["leaf"]) == 64


def test_oversized_metadata_is_summarized_and_the_change_still_commits(org):
    big = {"rows": ["x" * 100] * 500, "note": "n"}
    with transaction.atomic():
        event = audit_record(action="team.created", org=org, actor=None, data=big)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.data["truncated"] is True and stored.data["keys"] == ["note", "rows"]
    assert stored.data["characters"] > MAX_DATA_CHARS


def test_the_secret_guard_catches_secrets():
    assert secrets_in({"new": {"password": "hunter2hunter2"}})
    assert secrets_in({"x": "gov_0123456789ab_abcdefghijklmnopqrstuvwxyz"})
    assert secrets_in({"pem": "-----BEGIN PRIVATE KEY-----\nMII"})
    assert not secrets_in({"oidc_client_secret": "changed", "label": "Okta"})
    with pytest.raises(AssertionError, match="carries a secret"), transaction.atomic():
        audit_record(action="team.created", org=None, actor=None, data={"client_secret": "s3cr3t"})
