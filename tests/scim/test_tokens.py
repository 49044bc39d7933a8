from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from core import tokens
from scim.models import ScimToken
from scim.selectors import scim_token_by_prefix
from scim.services.tokens import scim_token_create, scim_token_revoke


def test_token_is_stored_only_as_an_hmac_and_audited(org, admin):
    token, secret = scim_token_create(org=org, label="Okta  prod", actor=admin.user)
    assert secret.startswith(f"scim_{token.prefix}_") and len(secret) > 40
    assert token.key_hash == tokens.token_hash(secret) and secret not in token.key_hash
    assert token.label == "Okta prod"
    e = AuditEvent.objects.get(action="scim.token_created")
    assert e.org_id == org.pk and e.data["new"] == {"label": "Okta prod", "prefix": token.prefix}


def test_lookup_finds_the_token_and_refuses_near_misses(org):
    token, secret = scim_token_create(org=org, actor=None)
    fetch = scim_token_by_prefix
    found = tokens.lookup(fetch, "scim_", secret)
    assert found == token and found.org == org and found.org.name == org.name
    assert found.created_at == token.created_at and found.revoked_at is None
    for wrong in [
        secret + "x",
        secret[:-1],
        "scim_" + "0" * 12 + "_abc",
        "",
        "gov_x_y",
        secret.replace("scim_", "gov_"),
    ]:
        assert tokens.lookup(fetch, "scim_", wrong) is None, wrong


def test_revoke_is_audited_once(org, admin):
    token, _ = scim_token_create(org=org, actor=None)
    scim_token_revoke(token=token, actor=admin.user)
    scim_token_revoke(token=token, actor=admin.user)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="scim.token_revoked").count() == 1


def test_scim_token_create_command_prints_json(org):
    out = StringIO()
    call_command("scim_token_create", "acme", "--label", "Entra", stdout=out)
    body = json.loads(out.getvalue())
    token = ScimToken.objects.get(pk=body["token_id"])
    assert body["org"] == "acme" and body["label"] == "Entra"
    assert tokens.lookup(scim_token_by_prefix, "scim_", body["token"]) == token
    e = AuditEvent.objects.get(action="scim.token_created")
    assert e.actor_label == "manage.py scim_token_create"


def test_scim_token_create_for_unknown_org_fails_cleanly(db):
    err = StringIO()
    with pytest.raises(SystemExit):
        call_command("scim_token_create", "nope", stdout=StringIO(), stderr=err)
    assert "No organization" in json.loads(err.getvalue())["error"]
    assert not ScimToken.objects.exists()
