"""Gateway tokens: minted by a member through the API (the secret once), bound to this
gateway's audience, refused when meant for another gateway, expired, revoked or when the member
is deactivated; API keys are not gateway tokens."""

from __future__ import annotations

import pytest
import requests
from django.utils import timezone

from gateway.models import McpToken
from gateway.tokens import mcp_token_create
from orgs.services.api_keys import api_key_create
from orgs.services.members import membership_deactivate
from tests.conftest import api, assert_audited
from tests.gateway.conftest import auth, mcp_call

pytestmark = pytest.mark.django_db(transaction=True)


def _refused(gateway, key):
    response = requests.post(
        f"{gateway.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**auth(key), "Accept": "application/json, text/event-stream"},
        timeout=10,
    )
    assert response.status_code == 401, response.text
    return response.json()["error_description"]


def test_a_member_mints_a_token_through_the_api_and_uses_it(client, gateway, setup, org):
    _, api_key = api_key_create(membership=setup["member"], actor=None)
    response = api(client, "POST", "/api/v1/mcp-tokens/", api_key, {"label": "Claude", "days": 7})
    assert response.status_code == 201 and response["Cache-Control"].startswith("no-store")
    secret = response.json()["mcp_token"]
    assert response.json()["token"]["audience"] == f"{gateway.url}/mcp"
    assert not McpToken.objects.filter(key_hash=secret).exists()  # only its HMAC is kept
    assert_audited("mcp_token.created", org=org)
    assert mcp_call(gateway.url, auth(secret), "list_tools").tools
    listed = api(client, "GET", "/api/v1/mcp-tokens/", api_key).json()["results"]
    assert "Claude" in [t["label"] for t in listed] and secret not in str(listed)
    token_id = next(t["id"] for t in listed if t["label"] == "Claude")
    assert api(client, "DELETE", f"/api/v1/mcp-tokens/{token_id}/", api_key).status_code == 200
    assert "revoked" in _refused(gateway, secret)


def test_a_token_for_another_gateway_is_refused(gateway, setup, settings):
    settings.MCP_GATEWAY_URL = "https://gateway.elsewhere.example"
    _, elsewhere = mcp_token_create(membership=setup["member"], actor=None)
    settings.MCP_GATEWAY_URL = gateway.url
    assert "not for this gateway" in _refused(gateway, elsewhere)


def test_an_expired_token_and_an_api_key_are_refused(gateway, setup):
    _, secret = mcp_token_create(membership=setup["member"], actor=None)
    McpToken.objects.update(expires_at=timezone.now())
    assert "expired" in _refused(gateway, secret)
    _, api_key = api_key_create(membership=setup["member"], actor=None)
    assert "not bound to this gateway" in _refused(gateway, api_key)


def test_deactivation_revokes_the_members_tokens(gateway, setup, org):
    membership_deactivate(membership=setup["member"], actor=None)
    assert McpToken.objects.filter(membership=setup["member"], revoked_at__isnull=True).count() == 0
    receipt = assert_audited("mcp_token.revoked", org=org)
    assert receipt.data == {"reason": "member deactivated", "tokens": 1}
    assert "revoked" in _refused(gateway, setup["key"])
