"""/scim/v2/ discovery, bearer-token auth, rate limit and error bodies (RFC 7644 §3.12, §4)."""

from __future__ import annotations

import pytest

from scim.services.tokens import scim_token_create, scim_token_revoke

SCIM_JSON = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def token(org):
    return scim_token_create(org=org, label="Okta", actor=None)


def get(client, path, secret, **extra):
    return client.get(f"/scim/v2/{path}", HTTP_AUTHORIZATION=f"Bearer {secret}", **extra)


def assert_error(response, status, scim_type=None):
    assert response.status_code == status
    assert response["Content-Type"] == SCIM_JSON
    body = response.json()
    assert body["schemas"] == [ERROR_URN] and body["status"] == str(status) and body["detail"]
    assert body.get("scimType") == scim_type
    return body


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "Bearer scim_000000000000_abc"]
)
def test_bad_or_missing_token_is_401_with_scim_body(client, token, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    r = client.get("/scim/v2/ServiceProviderConfig", **extra)
    assert_error(r, 401)
    assert r["WWW-Authenticate"] == 'Bearer realm="scim"'


def test_revoked_token_is_401_and_last_used_is_kept(client, token):
    row, secret = token
    assert get(client, "ServiceProviderConfig", secret).status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None
    scim_token_revoke(token=row, actor=None)
    assert_error(get(client, "ServiceProviderConfig", secret), 401)


def test_service_provider_config_is_truthful(client, token):
    r = get(client, "ServiceProviderConfig", token[1])
    assert r.status_code == 200 and r["Content-Type"] == SCIM_JSON
    body = r.json()
    assert body["patch"]["supported"] is True and body["bulk"]["supported"] is False
    assert body["filter"] == {"supported": True, "maxResults": 200}
    assert body["sort"]["supported"] is False and body["etag"]["supported"] is False
    assert body["changePassword"]["supported"] is False
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_have_relative_endpoints_and_totals(client, token):
    body = get(client, "ResourceTypes", token[1]).json()
    assert body["totalResults"] == 2 and body["startIndex"] == 1
    by_id = {t["id"]: t for t in body["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users" and by_id["Group"]["endpoint"] == "/Groups"
    assert by_id["User"]["schemaExtensions"] == [
        {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": False}
    ]
    assert get(client, "ResourceTypes/User", token[1]).json()["id"] == "User"
    assert_error(get(client, "ResourceTypes/Robot", token[1]), 404)


def test_schemas_list_the_resource_schemas(client, token):
    body = get(client, "Schemas", token[1]).json()
    ids = sorted(s["id"] for s in body["Resources"])
    assert body["totalResults"] == 3 and ids == [
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ]
    user = get(client, "Schemas/urn:ietf:params:scim:schemas:core:2.0:User", token[1]).json()
    names = {a["name"] for a in user["attributes"]}
    assert {"userName", "name", "emails", "active", "roles"} <= names
    assert_error(get(client, "Schemas/urn:nope", token[1]), 404)


def test_bulk_is_501(client, token):
    r = client.post(
        "/scim/v2/Bulk", data="{}", content_type=SCIM_JSON, HTTP_AUTHORIZATION=f"Bearer {token[1]}"
    )
    assert_error(r, 501)


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_me_is_501_in_scim_schema_for_every_method(client, token, method):
    """RFC 7644 §3.11: the token names an organization, not a person, so /Me does not exist."""
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token[1]}"}
    if method != "get":
        kwargs.update(data="{}", content_type=SCIM_JSON)
    body = assert_error(getattr(client, method)("/scim/v2/Me", **kwargs), 501)
    assert "/Me is not supported" in body["detail"]


def test_me_without_a_token_is_401(client):
    assert_error(client.get("/scim/v2/Me"), 401)


def test_wrong_method_is_405_in_scim_schema(client, token):
    r = client.delete("/scim/v2/ServiceProviderConfig", HTTP_AUTHORIZATION=f"Bearer {token[1]}")
    assert_error(r, 405)


def test_unknown_scim_path_is_404_in_scim_schema(client, token):
    assert_error(get(client, "Robots", token[1]), 404)


def test_oversized_body_is_413_in_scim_schema(client, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    r = client.post(
        "/scim/v2/Bulk",
        data="x" * 500,
        content_type=SCIM_JSON,
        HTTP_AUTHORIZATION=f"Bearer {token[1]}",
    )
    assert_error(r, 413)


def test_rate_limit_is_429_with_retry_after_per_token(client, org, other_org, token, settings):
    from django.core.cache import cache

    cache.clear()
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 3
    for _ in range(3):
        assert get(client, "ServiceProviderConfig", token[1]).status_code == 200
    r = get(client, "ServiceProviderConfig", token[1])
    assert_error(r, 429)
    assert 1 <= int(r["Retry-After"]) <= 60
    _, other_secret = scim_token_create(org=other_org, actor=None)
    assert get(client, "ServiceProviderConfig", other_secret).status_code == 200
    cache.clear()


def test_scim_needs_no_csrf_token(org, token):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    r = c.post(
        "/scim/v2/Bulk", data="{}", content_type=SCIM_JSON, HTTP_AUTHORIZATION=f"Bearer {token[1]}"
    )
    assert r.status_code == 501
