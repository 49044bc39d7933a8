"""The SCIM corners an RFC-minded client hits (RFC 7643/7644), over HTTP as Okta and Entra
call us: filter precedence, not(), string escapes, multi-valued e-mails with value paths in
filters and PATCH paths, strict PATCH paths and types, Unicode userNames, unique group names."""

from __future__ import annotations

from typing import Any

import pytest

from mapping.models import IdpUser, IdpUserEmail
from scim.urns import GROUP_URN
from tests.scim.conftest import PATCH_URN, assert_scim_error, okta_user

pytestmark = pytest.mark.django_db

SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def names(scim: Any, expression: str) -> list[str]:
    r = scim("GET", "/Users?" + "&".join([f"filter={_q(expression)}", "count=50"]))
    assert r.status_code == 200, r.content
    return sorted(u["userName"] for u in r.json()["Resources"])


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@pytest.fixture
def three(scim):
    for name in ("a@x.example", "b@x.example", "c@x.example"):
        assert scim("POST", "/Users", okta_user(name)).status_code == 201
    uid = scim("GET", "/Users?filter=" + _q('userName eq "c@x.example"')).json()["Resources"][0]
    scim(
        "PATCH",
        f"/Users/{uid['id']}",
        {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    return scim


# ---- 12: grammar ----------------------------------------------------------------------------


def test_and_binds_tighter_than_or(three):
    # a OR (inactive AND b): b is active, so only a. Left-to-right would give nothing.
    assert names(
        three, 'userName eq "a@x.example" or active eq false and userName eq "b@x.example"'
    ) == ["a@x.example"]
    assert names(
        three, '(userName eq "a@x.example" or userName eq "c@x.example") and active eq false'
    ) == ["c@x.example"]


def test_not_negates_a_parenthesised_filter(three):
    assert names(three, 'not (userName eq "a@x.example")') == ["b@x.example", "c@x.example"]
    assert names(three, 'active eq true and not (userName sw "b")') == ["a@x.example"]


def test_string_escapes_match_literally(scim):
    odd = 'quote"back\\slash@x.example'
    assert scim("POST", "/Users", okta_user(odd, emails=[])).status_code == 201
    assert names(scim, 'userName eq "quote\\"back\\\\slash@x.example"') == [odd]
    assert names(scim, 'userName co "\\\\"') == [odd]


def test_search_uses_the_same_grammar(three):
    body = {
        "schemas": [SEARCH_URN],
        "filter": 'userName eq "b@x.example" or userName eq "a@x.example" and active eq false',
    }
    r = three("POST", "/Users/.search", body)
    assert [u["userName"] for u in r.json()["Resources"]] == ["b@x.example"]


@pytest.mark.parametrize(
    "bad",
    ['userName eq "a', "userName eq", 'not userName eq "a"', "(userName pr", 'userName eq "a" and'],
)
def test_malformed_filters_are_invalid_filter(scim, bad):
    assert_scim_error(scim("GET", "/Users?filter=" + _q(bad)), 400, "invalidFilter")


# ---- 13: multi-valued e-mails ----------------------------------------------------------------


EMAILS = [
    {"value": "ada@work.example", "type": "work", "primary": True},
    {"value": "ada@home.example", "type": "home", "primary": False},
]


@pytest.fixture
def ada(scim):
    r = scim("POST", "/Users", okta_user("ada@work.example", emails=EMAILS))
    assert r.status_code == 201
    return r.json()


def test_every_address_is_stored_with_type_and_primary(scim, ada):
    assert scim("GET", f"/Users/{ada['id']}").json()["emails"] == EMAILS
    rows = set(IdpUserEmail.objects.values_list("value", "type", "primary"))
    assert rows == {("ada@work.example", "work", True), ("ada@home.example", "home", False)}


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ('emails.value eq "ada@home.example"', True),
        ('emails eq "ADA@HOME.EXAMPLE"', True),
        ('emails[type eq "work" and value co "@work"]', True),
        ('emails[type eq "home" and value co "@work"]', False),  # one item must match it all
        ('emails[type eq "home"].value eq "ada@home.example"', True),
        ('emails[primary eq true and value ew "home.example"]', False),
        ('emails[not (type eq "work")]', True),
    ],
)
def test_emails_filters_match_any_address(scim, ada, expression, found):
    assert names(scim, expression) == (["ada@work.example"] if found else [])


def test_patch_with_a_value_path_filter(scim, ada):
    ops = [
        {
            "op": "replace",
            "path": 'emails[type eq "home" and value co "@home"].value',
            "value": "ada@new.example",
        }
    ]
    r = scim("PATCH", f"/Users/{ada['id']}", {"schemas": [PATCH_URN], "Operations": ops})
    assert r.status_code == 200, r.content
    assert {e["value"] for e in r.json()["emails"]} == {"ada@work.example", "ada@new.example"}
    assert names(scim, 'emails.value eq "ada@new.example"') == ["ada@work.example"]
    ops = [{"op": "remove", "path": 'emails[type eq "home"]'}]
    r = scim("PATCH", f"/Users/{ada['id']}", {"schemas": [PATCH_URN], "Operations": ops})
    assert [e["value"] for e in r.json()["emails"]] == ["ada@work.example"]
    assert names(scim, 'emails.value eq "ada@new.example"') == []


# ---- 16: strict PATCH ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "replace", "path": "favouriteColour", "value": "blue"}, "invalidPath"),
        ({"op": "replace", "path": "name.nickname", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "emails[type eq", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "urn:example:unknown:1.0:User:x", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "userName.first", "value": "x"}, "invalidPath"),
        (
            {"op": "replace", "path": "id", "value": "00000000-0000-0000-0000-000000000000"},
            "mutability",
        ),
        (
            {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"},
            "mutability",
        ),
        ({"op": "replace", "value": {"meta": {"created": "2020-01-01T00:00:00Z"}}}, "mutability"),
        ({"op": "replace", "path": "userName", "value": 42}, "invalidValue"),
        ({"op": "replace", "path": "displayName", "value": 3.5}, "invalidValue"),
        ({"op": "replace", "path": "active", "value": {"value": True}}, "invalidValue"),
        ({"op": "replace", "value": {"userName": ["a"]}}, "invalidValue"),
    ],
)
def test_patch_refuses_unknown_paths_read_only_attributes_and_wrong_types(
    scim, ada, operation, scim_type
):
    before = scim("GET", f"/Users/{ada['id']}").json()
    r = scim("PATCH", f"/Users/{ada['id']}", {"schemas": [PATCH_URN], "Operations": [operation]})
    assert_scim_error(r, 400, scim_type)
    assert scim("GET", f"/Users/{ada['id']}").json() == before


def test_wrong_types_on_create_are_refused_not_coerced(scim):
    assert_scim_error(scim("POST", "/Users", okta_user(userName=12345)), 400, "invalidValue")
    assert_scim_error(
        scim("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": 7}), 400, "invalidValue"
    )
    assert not IdpUser.objects.exists()


def test_entra_default_attributes_are_known_stored_and_returned(scim, ada):
    ops = [
        {"op": "Add", "path": "title", "value": "Engineer"},
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0100"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Seattle"},
        {"op": "Replace", "path": "name.formatted", "value": "Ada Lovelace"},
        {
            "op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
            "value": "CC-1",
        },
    ]
    r = scim("PATCH", f"/Users/{ada['id']}", {"schemas": [PATCH_URN], "Operations": ops})
    assert r.status_code == 200, r.content
    body = scim("GET", f"/Users/{ada['id']}").json()
    assert body["title"] == "Engineer" and body["name"]["formatted"] == "Ada Lovelace"
    assert body["phoneNumbers"] == [{"value": "+1 555 0100", "type": "work"}]
    assert body["addresses"] == [{"locality": "Seattle", "type": "work"}]
    assert (
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["costCenter"] == "CC-1"
    )


# ---- 17: Unicode userNames -------------------------------------------------------------------


def test_a_unicode_user_name_is_stored_exactly_and_compared_case_insensitively(scim):
    name = "zoë.müller@exämple.de"
    r = scim("POST", "/Users", okta_user(name, emails=[]))
    assert r.status_code == 201 and r.json()["userName"] == name
    assert names(scim, 'userName eq "ZOË.MÜLLER@EXÄMPLE.DE"') == [name]
    assert names(scim, 'userName sw "Zoë.M"') == [name]
    assert_scim_error(
        scim("POST", "/Users", okta_user("ZOË.MÜLLER@exämple.de", emails=[])), 409, "uniqueness"
    )


# ---- 18: group names -------------------------------------------------------------------------


def test_group_display_names_are_unique_case_insensitively(scim):
    assert (
        scim("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": "Engineering"}).status_code
        == 201
    )
    assert_scim_error(
        scim("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": "ENGINEERING"}),
        409,
        "uniqueness",
    )
    other = scim("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": "Sales"}).json()
    rename = {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "path": "displayName", "value": "engineering"}],
    }
    assert_scim_error(scim("PATCH", f"/Groups/{other['id']}", rename), 409, "uniqueness")
    put = {"schemas": [GROUP_URN], "displayName": "Engineering "}
    assert_scim_error(scim("PUT", f"/Groups/{other['id']}", put), 409, "uniqueness")


def test_another_org_may_use_the_same_group_name(scim, other_scim):
    body = {"schemas": [GROUP_URN], "displayName": "Engineering"}
    assert scim("POST", "/Groups", body).status_code == 201
    assert other_scim("POST", "/Groups", body).status_code == 201


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        (
            {"op": "replace", "path": "id", "value": "00000000-0000-0000-0000-000000000000"},
            "mutability",
        ),
        ({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}, "mutability"),
        ({"op": "replace", "value": {"id": "00000000-0000-0000-0000-000000000000"}}, "mutability"),
        ({"op": "replace", "path": "owner", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "displayName", "value": 5}, "invalidValue"),
        ({"op": "remove", "path": "displayName"}, "invalidValue"),
    ],
)
def test_group_patch_refuses_read_only_unknown_and_mistyped(scim, operation, scim_type):
    group = scim("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": "Ops"}).json()
    r = scim("PATCH", f"/Groups/{group['id']}", {"schemas": [PATCH_URN], "Operations": [operation]})
    assert_scim_error(r, 400, scim_type)
    assert scim("GET", f"/Groups/{group['id']}").json()["displayName"] == "Ops"


def test_okta_repeating_the_group_id_in_a_no_path_replace_is_fine(scim):
    group = scim("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": "Ops"}).json()
    op = {"op": "replace", "value": {"id": group["id"], "displayName": "Operations"}}
    r = scim("PATCH", f"/Groups/{group['id']}", {"schemas": [PATCH_URN], "Operations": [op]})
    assert r.status_code == 204
    assert scim("GET", f"/Groups/{group['id']}").json()["displayName"] == "Operations"
