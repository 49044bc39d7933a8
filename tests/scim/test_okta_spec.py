"""A pytest port of Okta's SCIM 2.0 spec test (the Runscope/BlazeMeter suite Okta gives ISVs),
its checks in its order, with the requests it sends."""

from __future__ import annotations

import uuid

import pytest

from tests.scim.conftest import Scim, assert_scim_error

LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture
def rand():
    return uuid.uuid4().hex[:8]


def okta_body(user_name):
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "active": True,
        "password": "1mz050nq",
    }


def test_1_required_test_users_endpoint_returns_a_list_response(scim: Scim):
    r = scim("GET", "/Users?count=1&startIndex=1")
    body = r.json()
    assert r.status_code == 200 and LIST_URN in body["schemas"]
    for key in ["itemsPerPage", "startIndex", "totalResults"]:
        assert isinstance(body[key], int), key
    assert isinstance(body["Resources"], list)


def test_2_required_test_first_user_has_the_required_fields(scim: Scim, rand):
    scim("POST", "/Users", okta_body(f"first-{rand}@acme.example"))
    user = scim("GET", "/Users?count=1&startIndex=1").json()["Resources"][0]
    assert user["id"] and user["userName"] and "name" in user
    assert {"givenName", "familyName"} <= set(user["name"]) and user["emails"]
    assert scim("GET", f"/Users/{user['id']}").json()["id"] == user["id"]


def test_3_required_test_filter_miss_returns_zero(scim: Scim, rand):
    r = scim("GET", f'/Users?filter=userName eq "nobody-{rand}@example.com"&startIndex=1&count=100')
    assert r.status_code == 200 and r.json()["totalResults"] == 0
    assert r.json()["Resources"] == []


def test_4_required_test_unknown_id_is_404_with_detail_and_status(scim: Scim, rand):
    body = assert_scim_error(scim("GET", f"/Users/010101{rand}"), 404)
    assert body["status"] == "404" and body["detail"]


def test_5_create_user_201(scim: Scim, rand):
    r = scim("POST", "/Users", okta_body(f"create-{rand}@acme.example"))
    assert r.status_code == 201 and r.json()["active"] is True and r.json()["id"]


def test_6_duplicate_create_409(scim: Scim, rand):
    scim("POST", "/Users", okta_body(f"dup-{rand}@acme.example"))
    assert_scim_error(scim("POST", "/Users", okta_body(f"dup-{rand}@acme.example")), 409)


def test_7_filter_with_upper_cased_user_name_finds_the_user(scim: Scim, rand):
    scim("POST", "/Users", okta_body(f"case-{rand}@acme.example"))
    r = scim("GET", f'/Users?filter=userName eq "CASE-{rand.upper()}@ACME.EXAMPLE"')
    assert r.json()["totalResults"] == 1


def test_8_get_user_by_id(scim: Scim, rand):
    created = scim("POST", "/Users", okta_body(f"byid-{rand}@acme.example")).json()
    got = scim("GET", f"/Users/{created['id']}").json()
    assert got["userName"] == f"byid-{rand}@acme.example"


def test_9_deactivate_with_put(scim: Scim, rand):
    created = scim("POST", "/Users", okta_body(f"put-{rand}@acme.example")).json()
    r = scim(
        "PUT", f"/Users/{created['id']}", {**okta_body(f"put-{rand}@acme.example"), "active": False}
    )
    assert r.status_code == 200 and r.json()["active"] is False


def test_10_groups_endpoint_lists(scim: Scim):
    scim("POST", "/Groups", {"displayName": "Okta spec group"})
    body = scim("GET", "/Groups?count=1&startIndex=1").json()
    assert LIST_URN in body["schemas"] and body["totalResults"] >= 1
    assert body["Resources"][0]["displayName"] and body["Resources"][0]["id"]


def test_11_bad_token_is_401_with_an_error_body(scim: Scim):
    r = Scim(scim.client, "wrong-token")("GET", "/Users")
    assert_scim_error(r, 401)


def test_12_responses_are_scim_json(scim: Scim):
    for path in ["/Users", "/Groups", "/ServiceProviderConfig", "/ResourceTypes", "/Schemas"]:
        assert scim("GET", path)["Content-Type"] == "application/scim+json", path
