"""Okta's SCIM 2.0 request sequences against /Users, and its spec test's checks."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from identity.models import User
from mapping.models import IdpUser
from orgs.models import ApiKey, Membership
from orgs.services.api_keys import api_key_create
from orgs.services.assignments import team_member_add
from orgs.services.teams import team_create
from tests.scim.conftest import PATCH_URN, assert_scim_error, okta_user

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def test_okta_user_exists_check_then_create(scim, org):
    r = scim("GET", "/Users?filter=userName%20eq%20%22ada%40acme.example%22&startIndex=1&count=100")
    body = r.json()
    assert r.status_code == 200 and r["Content-Type"] == "application/scim+json"
    assert body["totalResults"] == 0 and body["Resources"] == []
    assert isinstance(body["itemsPerPage"], int) and body["startIndex"] == 1

    r = scim("POST", "/Users", okta_user())
    assert r.status_code == 201
    user = r.json()
    assert user["id"] and user["userName"] == "ada@acme.example" and user["active"] is True
    assert user["name"]["givenName"] == "Ada" and user["emails"][0]["value"] == "ada@acme.example"
    assert user["meta"]["resourceType"] == "User" and r["Location"].endswith(user["id"])
    assert "password" not in user
    m = Membership.objects.get(org=org, user__email="ada@acme.example")
    assert m.role == "member" and m.source == "scim" and m.is_active
    assert not m.user.has_usable_password()  # Okta's password is accepted and ignored
    e = AuditEvent.objects.get(action="scim.user_created")
    assert e.actor_kind == "scim_token" and e.actor_label == "SCIM token Okta"
    assert e.data["new"]["user_name"] == "ada@acme.example"

    found = scim("GET", '/Users?filter=userName eq "ADA@ACME.EXAMPLE"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]


def test_duplicate_user_name_is_409_uniqueness(scim):
    scim("POST", "/Users", okta_user())
    r = scim("POST", "/Users", okta_user("ADA@acme.example", externalId="other"))
    assert_scim_error(r, 409, "uniqueness")
    assert IdpUser.objects.count() == 1


def test_taken_user_name_with_a_new_email_changes_nothing(scim):
    """The unique index on userName refuses the insert after the user and membership rows were
    written in the same transaction: all of it rolls back, audit rows included."""
    scim("POST", "/Users", okta_user())
    users, members, events = (
        User.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    )
    body = okta_user(
        "ADA@ACME.EXAMPLE", emails=[{"value": "someone.else@acme.example", "primary": True}]
    )
    r = scim("POST", "/Users", body)
    assert "userName" in assert_scim_error(r, 409, "uniqueness")["detail"]
    assert not User.objects.filter(email="someone.else@acme.example").exists()
    assert (User.objects.count(), Membership.objects.count()) == (users, members)
    assert AuditEvent.objects.count() == events


def test_unknown_id_is_404_with_detail(scim):
    body = assert_scim_error(scim("GET", "/Users/010101010"), 404)
    assert "not found" in body["detail"]
    assert_scim_error(scim("GET", "/Users/7b3c1e9e-2d27-4f7c-9d4e-111111111111"), 404)


def test_okta_get_then_put_updates_profile(scim):
    created = scim("POST", "/Users", okta_user()).json()
    current = scim("GET", f"/Users/{created['id']}").json()
    current["name"]["familyName"] = "King"
    current["displayName"] = "Ada King"
    r = scim("PUT", f"/Users/{created['id']}", current)
    assert r.status_code == 200
    assert r.json()["name"]["familyName"] == "King" and r.json()["displayName"] == "Ada King"
    e = AuditEvent.objects.get(action="scim.user_updated")
    assert e.data["old"]["family_name"] == "Lovelace" and e.data["new"]["family_name"] == "King"


def test_okta_no_path_deactivate_revokes_access_and_keeps_data(scim, org, admin, client):
    created = scim("POST", "/Users", okta_user()).json()
    m = Membership.objects.get(org=org, user__email="ada@acme.example")
    client.force_login(m.user)
    api_key_create(membership=m, actor=None)
    team = team_create(org=org, name="Data", actor=None)
    team_member_add(team=team, membership=m, actor=None)

    r = scim(
        "PATCH",
        f"/Users/{created['id']}",
        {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )
    assert r.status_code == 200 and r.json()["active"] is False
    m.refresh_from_db()
    assert not m.is_active and m.sessions_not_before is not None
    assert client.get("/o/acme/me/").status_code == 302
    assert not ApiKey.objects.filter(membership=m, revoked_at__isnull=True).exists()
    assert team.team_memberships.filter(membership=m).exists()
    deact = AuditEvent.objects.get(action="member.deactivated")
    assert deact.actor_kind == "scim_token"

    r = scim(
        "PATCH",
        f"/Users/{created['id']}",
        {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": True}}]},
    )
    m.refresh_from_db()
    assert r.json()["active"] is True and m.is_active
    # Reactivation does not bring the revoked session back.
    assert client.get("/o/acme/me/")["Location"].startswith("/login/?reauth=1&")


def test_delete_deactivates_then_404_and_re_post_works(scim, org):
    created = scim("POST", "/Users", okta_user()).json()
    assert scim("DELETE", f"/Users/{created['id']}").status_code == 204
    assert_scim_error(scim("GET", f"/Users/{created['id']}"), 404)
    m = Membership.objects.get(org=org, user__email="ada@acme.example")
    assert not m.is_active
    r = scim("POST", "/Users", okta_user())
    assert r.status_code == 201 and r.json()["id"] != created["id"]
    m.refresh_from_db()
    assert m.is_active


def test_scim_never_grants_admin_and_keeps_an_existing_admin_role(scim, org, admin):
    r = scim("POST", "/Users", okta_user("admin@acme.example", roles=[]))
    assert r.status_code == 201
    admin.refresh_from_db()
    assert admin.role == "admin"  # adopted, not demoted
    r = scim("POST", "/Users", okta_user("new@acme.example", userType="admin"))
    assert Membership.objects.get(user__email="new@acme.example").role == "member"


def test_list_paging_per_rfc(scim):
    for i in range(5):
        scim("POST", "/Users", okta_user(f"u{i}@acme.example", externalId=f"x{i}"))
    page = scim("GET", "/Users?startIndex=2&count=2").json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [u["userName"] for u in page["Resources"]] == ["u1@acme.example", "u2@acme.example"]
    zero = scim("GET", "/Users?startIndex=0&count=-3").json()
    assert zero["startIndex"] == 1 and zero["itemsPerPage"] == 0 and zero["totalResults"] == 5
    capped = scim("GET", "/Users?count=100000").json()
    assert capped["itemsPerPage"] == 5
    for huge in ["9223372036854775807", "99999999999999999999999", "-99999999999999999999"]:
        far = scim("GET", f"/Users?startIndex={huge}&count=5")  # OFFSET stays a bigint
        assert far.status_code == 200 and far.json()["totalResults"] == 5
    naive = scim("GET", '/Users?filter=meta.created gt "2000-01-01T00:00:00"').json()
    assert naive["totalResults"] == 5  # a date-time without an offset is UTC
    assert_scim_error(scim("GET", "/Users?count=lots"), 400, "invalidValue")


@pytest.mark.parametrize(
    ("query", "total", "names"),
    [
        ("startIndex=1&count=10", 5, ["u0", "u1", "u2", "u3", "u4"]),  # one short page
        ("startIndex=4&count=10", 5, ["u3", "u4"]),  # the short last page
        ("startIndex=5&count=1", 5, ["u4"]),  # a full last page
        ("startIndex=6&count=10", 5, []),  # past the end
        ("startIndex=1&count=0", 5, []),  # only the total
        ('filter=userName eq "U2@ACME.EXAMPLE"', 1, ["u2"]),
        ('filter=userName eq "nobody@acme.example"', 0, []),
        ('filter=userName eq "nobody@acme.example"&startIndex=3', 0, []),
    ],
)
def test_total_results_is_right_on_every_page_shape(scim, query, total, names):
    for i in range(5):
        scim("POST", "/Users", okta_user(f"u{i}@acme.example", externalId=f"x{i}"))
    page = scim("GET", "/Users?" + query.replace(" ", "%20")).json()
    assert page["totalResults"] == total
    assert [u["userName"].split("@")[0] for u in page["Resources"]] == names


def test_okta_existence_check_costs_four_queries(scim, django_assert_max_num_queries):
    """Token, the page's ids, its rows, its IdP roles; no COUNT. (Ids and rows are two
    statements on purpose: scim/api/base.py page_ids, stale planner statistics.)"""
    for i in range(3):
        scim("POST", "/Users", okta_user(f"u{i}@acme.example", externalId=f"x{i}"))
    scim("GET", "/Users?count=1")  # the token's "last used" write happens once a minute
    with django_assert_max_num_queries(4):
        r = scim("GET", '/Users?filter=userName%20eq%20"u1@acme.example"&startIndex=1&count=100')
    assert r.json()["totalResults"] == 1


def test_attributes_and_excluded_attributes(scim):
    scim("POST", "/Users", okta_user())
    only = scim("GET", "/Users?attributes=userName,name.givenName").json()["Resources"][0]
    assert set(only) == {"id", "schemas", "userName", "name"} and only["name"] == {
        "givenName": "Ada"
    }
    without = scim("GET", "/Users?excludedAttributes=emails,meta").json()["Resources"][0]
    assert "emails" not in without and "meta" not in without and "userName" in without


CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_attributes_may_be_fully_qualified(scim):
    """RFC 7644 §3.10: an attribute may be named with its schema URN, core or extension."""
    body = okta_user()
    body["schemas"] = [CORE, ENTERPRISE]
    body[ENTERPRISE] = {"department": "Research", "employeeNumber": "42"}
    scim("POST", "/Users", body)
    only = scim(
        "GET", f"/Users?attributes={CORE}:userName,{CORE}:name.givenName,{ENTERPRISE}:department"
    ).json()["Resources"][0]
    assert set(only) == {"id", "schemas", "userName", "name", ENTERPRISE}
    assert only["name"] == {"givenName": "Ada"} and only[ENTERPRISE] == {"department": "Research"}
    without = scim(
        "GET", f"/Users?excludedAttributes={CORE}:emails,{ENTERPRISE}:employeeNumber"
    ).json()["Resources"][0]
    assert "emails" not in without and "userName" in without
    assert without[ENTERPRISE] == {"department": "Research"}
    searched = scim(
        "POST",
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "attributes": [f"{CORE}:userName"],
        },
    ).json()["Resources"][0]
    assert set(searched) == {"id", "schemas", "userName"}


def test_post_search(scim):
    scim("POST", "/Users", okta_user())
    r = scim(
        "POST",
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'externalId eq "00u1abcd"',
            "startIndex": 1,
            "count": 10,
        },
    )
    assert r.status_code == 200 and r.json()["totalResults"] == 1


def test_bad_filter_is_400_invalid_filter_never_empty(scim):
    scim("POST", "/Users", okta_user())
    assert_scim_error(scim("GET", '/Users?filter=nickName eq "x"'), 400, "invalidFilter")
    assert_scim_error(scim("GET", "/Users?filter=userName eq"), 400, "invalidFilter")


def test_malformed_and_wrong_bodies_are_400_and_change_nothing(scim):
    before = AuditEvent.objects.count()
    assert_scim_error(scim("POST", "/Users", "{nope"), 400, "invalidSyntax")
    assert_scim_error(scim("POST", "/Users", "[]"), 400, "invalidSyntax")
    assert_scim_error(scim("POST", "/Users", "[" * 5000 + "]" * 5000), 400, "invalidSyntax")
    assert_scim_error(scim("POST", "/Users", {"schemas": []}), 400, "invalidValue")
    assert_scim_error(scim("POST", "/Users", okta_user(userName=12.5)), 400)
    assert_scim_error(scim("POST", "/Users", okta_user(active="perhaps")), 400, "invalidValue")
    assert_scim_error(scim("POST", "/Users", okta_user(name="Ada")), 400, "invalidValue")
    assert_scim_error(scim("POST", "/Users", okta_user(emails=[{"type": "work"}])), 400)
    assert IdpUser.objects.count() == 0 and AuditEvent.objects.count() == before


def test_a_nul_or_a_lone_surrogate_anywhere_is_400_never_a_database_error(scim):
    """PostgreSQL text cannot hold U+0000, and "\\ud800" (valid JSON) is no UTF-8 at all:
    refused with a SCIM error before any write."""
    scim("POST", "/Users", okta_user())
    user_id = IdpUser.objects.get().uid
    group = scim("POST", "/Groups", {"displayName": "Eng"}).json()["id"]
    before = AuditEvent.objects.count()
    nul = "a\x00b"
    for method, path, body in [
        ("POST", "/Users", okta_user(userName=f"{nul}@example.com")),
        ("POST", "/Users", okta_user(emails=[{"value": f"{nul}@example.com", "primary": True}])),
        ("POST", "/Users", okta_user(name={"givenName": nul, "familyName": "L"})),
        ("POST", "/Users", {**okta_user(), nul: "x"}),
        ("PUT", f"/Users/{user_id}", okta_user(displayName=nul)),
        (
            "PATCH",
            f"/Users/{user_id}",
            {
                "schemas": [PATCH_URN],
                "Operations": [{"op": "replace", "path": "title", "value": nul}],
            },
        ),
        (
            "PATCH",
            f"/Groups/{group}",
            {
                "schemas": [PATCH_URN],
                "Operations": [{"op": "Replace", "path": "displayName", "value": nul}],
            },
        ),
        ("POST", "/Users/.search", {"schemas": [SEARCH], "filter": f'userName eq "{nul}"'}),
        ("GET", "/Users?filter=userName%20eq%20%22a%00b%22", None),
        ("GET", "/Groups?attributes=display%00Name", None),
        ("POST", "/Users", okta_user(userName="\ud800@example.com")),
        ("POST", "/Groups", {"displayName": "Eng \udfff"}),
        ("POST", "/Users/.search", {"schemas": [SEARCH], "filter": 'userName eq "\ud83d"'}),
    ]:
        assert_scim_error(scim(method, path, body), 400, "invalidValue")
    assert AuditEvent.objects.count() == before
    assert IdpUser.objects.count() == 1
