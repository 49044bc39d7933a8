"""Groups as Okta pushes them and as Entra provisions them."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from mapping.models import IdpGroup, IdpGroupMember
from tests.conftest import assert_audited
from tests.scim.conftest import PATCH_URN, assert_scim_error, okta_user

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def users(scim):
    return [
        scim("POST", "/Users", okta_user(f"u{i}@acme.example", externalId=f"e{i}")).json()
        for i in range(4)
    ]


def member_names(group_id):
    return sorted(
        IdpGroupMember.objects.filter(group__uid=group_id).values_list(
            "membership__idp__user_name", flat=True
        )
    )


def test_okta_group_push_sequence(scim, users):
    # Okta: create the group (with or without members)...
    r = scim(
        "POST",
        "/Groups",
        {
            "schemas": [GROUP_URN],
            "displayName": "Engineering",
            "members": [{"value": users[0]["id"], "display": "u0"}],
        },
    )
    assert r.status_code == 201
    group = r.json()
    assert group["displayName"] == "Engineering" and group["members"][0]["value"] == users[0]["id"]
    gid = group["id"]
    # ...then every membership change comes with a rename-by-replace of {id, displayName}.
    r = scim(
        "PATCH",
        f"/Groups/{gid}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "replace", "value": {"id": gid, "displayName": "Engineering Team"}},
                {"op": "remove", "path": f'members[value eq "{users[0]["id"]}"]'},
                {
                    "op": "add",
                    "path": "members",
                    "value": [
                        {"value": users[1]["id"], "display": "u1"},
                        {"value": users[2]["id"]},
                    ],
                },
            ],
        },
    )
    assert r.status_code == 204
    assert member_names(gid) == ["u1@acme.example", "u2@acme.example"]
    got = scim("GET", f"/Groups/{gid}").json()
    assert got["displayName"] == "Engineering Team" and len(got["members"]) == 2
    e = assert_audited("scim.group_updated")
    assert e.data["old"] == {"display_name": "Engineering"}
    assert e.data["members_added"] == ["u1@acme.example", "u2@acme.example"]
    assert e.data["members_removed"] == ["u0@acme.example"]
    assert e.actor_kind == "scim_token"


def test_okta_adding_an_existing_member_again_is_a_no_op(scim, users):
    gid = scim(
        "POST", "/Groups", {"displayName": "G", "members": [{"value": users[0]["id"]}]}
    ).json()["id"]
    before = AuditEvent.objects.count()
    r = scim(
        "PATCH",
        f"/Groups/{gid}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "replace", "value": {"id": gid, "displayName": "G"}},
                {"op": "add", "path": "members", "value": [{"value": users[0]["id"]}]},
            ],
        },
    )
    assert r.status_code == 204 and AuditEvent.objects.count() == before


def test_entra_group_operations(scim, users):
    gid = scim(
        "POST",
        "/Groups",
        {"schemas": [GROUP_URN], "displayName": "Sales", "externalId": "entra-g1", "members": []},
    ).json()["id"]
    r = scim(
        "PATCH",
        f"/Groups/{gid}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": u["id"]} for u in users[:3]]}
            ],
        },
    )
    assert r.status_code == 204 and len(member_names(gid)) == 3
    r = scim(
        "PATCH",
        f"/Groups/{gid}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {
                    "op": "Remove",
                    "path": "members",
                    "value": [{"value": users[0]["id"]}, {"value": users[1]["id"]}],
                }
            ],
        },
    )
    assert member_names(gid) == ["u2@acme.example"]
    scim(
        "PATCH",
        f"/Groups/{gid}",
        {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}],
        },
    )
    assert IdpGroup.objects.get(uid=gid).display_name == "Sales EMEA"
    hit = scim("GET", '/Groups?filter=externalId eq "entra-g1"').json()
    assert hit["totalResults"] == 1
    by_name = scim("GET", '/Groups?filter=displayName eq "sales emea"&excludedAttributes=members')
    body = by_name.json()
    assert body["totalResults"] == 1 and "members" not in body["Resources"][0]


def test_put_replaces_members_and_delete_is_404_after(scim, users):
    gid = scim(
        "POST",
        "/Groups",
        {"displayName": "Ops", "members": [{"value": users[0]["id"]}, {"value": users[1]["id"]}]},
    ).json()["id"]
    r = scim(
        "PUT",
        f"/Groups/{gid}",
        {"schemas": [GROUP_URN], "displayName": "Ops", "members": [{"value": users[3]["id"]}]},
    )
    assert r.status_code == 200 and [m["value"] for m in r.json()["members"]] == [users[3]["id"]]
    assert scim("DELETE", f"/Groups/{gid}").status_code == 204
    assert_scim_error(scim("GET", f"/Groups/{gid}"), 404)
    assert scim("GET", f"/Users/{users[3]['id']}").status_code == 200  # users stay


def test_unknown_member_is_400_and_nothing_changes(scim, users):
    before = AuditEvent.objects.count()
    r = scim("POST", "/Groups", {"displayName": "X", "members": [{"value": "nope"}]})
    assert_scim_error(r, 400, "invalidValue")
    assert not IdpGroup.objects.exists() and AuditEvent.objects.count() == before
    gid = scim("POST", "/Groups", {"displayName": "Y"}).json()["id"]
    r = scim(
        "PATCH",
        f"/Groups/{gid}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "replace", "path": "displayName", "value": "Z"},
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": users[0]["id"]}, {"value": "ghost"}],
                },
            ],
        },
    )
    assert_scim_error(r, 400, "invalidValue")
    assert IdpGroup.objects.get(uid=gid).display_name == "Y" and not member_names(gid)


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": [{"op": "replace", "path": "colour", "value": "red"}]},
        {"Operations": [{"op": "add", "path": 'members[value eq "x"]', "value": []}]},
        {"Operations": [{"op": "delete", "path": "members"}]},
        {"Operations": {}},
    ],
)
def test_bad_group_patches_are_400(scim, body):
    gid = scim("POST", "/Groups", {"displayName": "Y"}).json()["id"]
    r = scim("PATCH", f"/Groups/{gid}", {"schemas": [PATCH_URN], **body})
    assert r.status_code == 400 and r.json()["scimType"]


def test_groups_of_another_org_are_invisible(scim, other_scim, users):
    gid = scim("POST", "/Groups", {"displayName": "Secret"}).json()["id"]
    assert other_scim("GET", "/Groups").json()["totalResults"] == 0
    assert_scim_error(other_scim("GET", f"/Groups/{gid}"), 404)
    assert_scim_error(
        other_scim(
            "PATCH",
            f"/Groups/{gid}",
            {
                "schemas": [PATCH_URN],
                "Operations": [{"op": "replace", "path": "displayName", "value": "x"}],
            },
        ),
        404,
    )
    assert_scim_error(other_scim("PUT", f"/Groups/{gid}", {"displayName": "x"}), 404)
    assert_scim_error(other_scim("DELETE", f"/Groups/{gid}"), 404)
    # Org B cannot put org A's users into its own group either.
    r = other_scim(
        "POST", "/Groups", {"displayName": "Mine", "members": [{"value": users[0]["id"]}]}
    )
    assert_scim_error(r, 400, "invalidValue")


def test_members_filter_lists_each_group_once(scim, users):
    gid = scim(
        "POST", "/Groups", {"displayName": "Both", "members": [{"value": u["id"]} for u in users]}
    ).json()["id"]
    body = scim("GET", f'/Groups?filter=members[value eq "{users[1]["id"]}"]').json()
    assert body["totalResults"] == 1 and body["Resources"][0]["id"] == gid


@pytest.mark.parametrize("n", [3, 40])
def test_group_list_query_count_is_flat(scim, n, django_assert_max_num_queries):
    members = [
        scim("POST", "/Users", okta_user(f"m{i}@acme.example")).json()["id"] for i in range(n)
    ]
    for g in range(n):
        scim(
            "POST",
            "/Groups",
            {"displayName": f"G{g}", "members": [{"value": m} for m in members[:5]]},
        )
    with django_assert_max_num_queries(4):
        assert scim("GET", "/Groups?count=50").status_code == 200


def test_root_search_spans_users_and_groups_and_pages_across_them(scim, users):
    scim("POST", "/Groups", {"displayName": "Searchable", "externalId": "e1"})
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'externalId sw "e"',
        "startIndex": 4,
        "count": 2,
    }
    r = scim("POST", "/.search", body)
    found = r.json()
    # users e0..e3 and the group e1 match; page 2 of 2 holds the last user and the group
    assert r.status_code == 200 and found["totalResults"] == 5 and found["startIndex"] == 4
    assert [x.get("userName", x.get("displayName")) for x in found["Resources"]] == [
        "u3@acme.example",
        "Searchable",
    ]
    only_users = scim("POST", "/.search", {**body, "filter": 'userName sw "u"', "startIndex": 1})
    assert only_users.json()["totalResults"] == 4
    unknown = {**body, "filter": 'nickName eq "x"'}
    assert_scim_error(scim("POST", "/.search", unknown), 400, "invalidFilter")


@pytest.mark.parametrize("path", ["/.search", "/Users/.search", "/Groups/.search"])
@pytest.mark.parametrize(
    "body",
    [
        {"filter": 'userName sw "u"'},
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "filter": "x"},
        {"schemas": "urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
    ],
)
def test_a_search_body_without_the_search_request_schema_is_400(scim, users, path, body):
    """RFC 7644 §3.4.3: a SearchRequest names its schema."""
    error = assert_scim_error(scim("POST", path, body), 400, "invalidSyntax")
    assert "urn:ietf:params:scim:api:messages:2.0:SearchRequest" in error["detail"]


def test_group_members_may_be_excluded_by_their_qualified_name(scim, users):
    scim("POST", "/Groups", {"displayName": "Eng", "members": [{"value": users[0]["id"]}]})
    core = "urn:ietf:params:scim:schemas:core:2.0:Group"
    group = scim("GET", f"/Groups?excludedAttributes={core}:members").json()["Resources"][0]
    assert "members" not in group and group["displayName"] == "Eng"
    only = scim("GET", f"/Groups?attributes={core}:displayName").json()["Resources"][0]
    assert set(only) == {"id", "schemas", "displayName"}
