"""Pages and responses that show a secret once send Cache-Control: no-store, so no browser
cache, proxy or back button keeps the key, token or one-time password."""

from __future__ import annotations

from tests.conftest import api


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_the_api_keys_page_showing_a_new_key_is_not_stored(member_client):
    r = member_client.post("/o/acme/api-keys/", {"label": "laptop"})
    assert 'id="new-api-key"' in r.content.decode() and no_store(r)
    assert no_store(member_client.get("/o/acme/api-keys/"))


def test_the_scim_page_showing_a_new_token_is_not_stored(admin_client):
    r = admin_client.post("/o/acme/settings/scim/", {"label": "Okta"})
    assert r.status_code == 200 and "scim_" in r.content.decode() and no_store(r)


def test_the_members_page_showing_an_invitation_link_is_not_stored(admin_client, client, api_key):
    r = admin_client.post("/o/acme/members/", {"email": "new@acme.example", "role": "member"})
    assert r.status_code == 200 and no_store(r)
    assert "/invitations/inv_" in r.content.decode()
    r = api(client, "POST", "/api/v1/invitations/", api_key, data={"email": "two@acme.example"})
    assert r.status_code == 201 and no_store(r)


def test_an_api_key_created_through_the_api_is_not_stored(client, api_key):
    r = api(client, "POST", "/api/v1/api-keys/", api_key, data={"label": "ci"})
    assert r.status_code == 201 and r.json()["api_key"].startswith("gov_") and no_store(r)
