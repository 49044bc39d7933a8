"""Microsoft Entra ID's request shapes, the `roles` attribute, tenancy and query counts."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from mapping.models import IdpUser
from orgs.models import Membership, RoleAssignment
from orgs.services.assignments import role_assign
from orgs.services.roles import custom_role_create
from tests.conftest import verified_domains
from tests.scim.conftest import ENT_URN, PATCH_URN, USER_URN, assert_scim_error, okta_user


def entra_user(user_name="grace@acme.example"):
    """What Entra POSTs (including its string booleans)."""
    return {
        "schemas": [USER_URN, ENT_URN],
        "externalId": "8ed7d4c1-entra",
        "userName": user_name,
        "active": "True",
        "displayName": "Grace Hopper",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
        ENT_URN: {"department": "Navy", "employeeNumber": "1906"},
    }


@pytest.fixture
def grace(scim):
    r = scim("POST", "/Users", entra_user())
    assert r.status_code == 201, r.content
    return r.json()


def test_entra_create_with_string_boolean_and_extension(grace):
    assert grace["active"] is True and grace[ENT_URN]["department"] == "Navy"
    assert grace["externalId"] == "8ed7d4c1-entra"


def test_entra_capitalised_replace_with_string_false_deactivates(scim, grace, org):
    r = scim(
        "PATCH",
        f"/Users/{grace['id']}",
        {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        },
    )
    assert r.status_code == 200 and r.json()["active"] is False
    assert not Membership.objects.get(org=org, user__email="grace@acme.example").is_active


def test_entra_no_path_multi_attribute_replace_with_dotted_and_urn_keys(scim, grace):
    r = scim(
        "PATCH",
        f"/Users/{grace['id']}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {
                    "op": "Replace",
                    "value": {
                        "name.givenName": "Amazing Grace",
                        "displayName": "Amazing Grace Hopper",
                        f"{ENT_URN}:department": "Computing",
                        f"{ENT_URN}:manager": {"value": "mgr-1"},
                    },
                }
            ],
        },
    )
    body = r.json()
    assert r.status_code == 200
    assert body["name"]["givenName"] == "Amazing Grace" and body["name"]["familyName"] == "Hopper"
    assert body[ENT_URN]["department"] == "Computing"
    assert body[ENT_URN]["manager"] == {"value": "mgr-1"}


def test_entra_emails_filter_path_replace(scim, grace):
    r = scim(
        "PATCH",
        f"/Users/{grace['id']}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "grace.hopper@acme.example",
                },
                {"op": "Add", "path": "externalId", "value": "new-ext"},
            ],
        },
    )
    body = r.json()
    assert [e["value"] for e in body["emails"]] == ["grace.hopper@acme.example"]
    assert body["externalId"] == "new-ext"


def test_entra_filters_on_external_id_and_random_probe(scim, grace):
    hit = scim("GET", '/Users?filter=externalId eq "8ed7d4c1-entra"').json()
    assert hit["totalResults"] == 1
    # Entra's "Test connection" probes a random attribute value that no user has.
    probe = scim("GET", '/Users?filter=userName eq "9c0b3f5e-0000-4cd1-a1b2-3c4d5e6f7a8b"')
    assert probe.status_code == 200 and probe.json()["totalResults"] == 0


def test_patch_is_all_or_nothing(scim, grace):
    before = AuditEvent.objects.count()
    r = scim(
        "PATCH",
        f"/Users/{grace['id']}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Changed"},
                {"op": "Explode", "path": "active", "value": False},
            ],
        },
    )
    assert_scim_error(r, 400, "invalidSyntax")
    r = scim(
        "PATCH",
        f"/Users/{grace['id']}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "active", "value": "nah"},
            ],
        },
    )
    assert_scim_error(r, 400, "invalidValue")
    assert scim("GET", f"/Users/{grace['id']}").json()["displayName"] == "Grace Hopper"
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": "nope"},
        {"Operations": [{"op": "remove"}]},
        {},
        {"Operations": [{"op": "replace", "value": "not-an-object"}]},
        {"Operations": [{"op": "add", "path": "displayName"}]},
    ],
)
def test_bad_patch_bodies_are_400(scim, grace, body):
    r = scim("PATCH", f"/Users/{grace['id']}", {"schemas": [PATCH_URN], **body})
    assert r.status_code == 400 and r.json()["scimType"] in {
        "invalidSyntax",
        "noTarget",
        "invalidValue",
        "invalidPath",
    }


# --- roles ---------------------------------------------------------------------------------


@pytest.fixture
def roles(org):
    return {
        name: custom_role_create(org=org, name=name, actor=None)
        for name in ["Builder", "Support Builder"]
    }


@pytest.mark.parametrize(
    "value",
    [["Builder"], [{"value": "Builder"}], [" builder "], [{"value": "BUILDER", "primary": True}]],
)
def test_roles_attribute_accepts_both_shapes(scim, roles, value):
    r = scim("POST", "/Users", okta_user(roles=value))
    assert r.status_code == 201, r.content
    assert r.json()["roles"] == [{"value": "Builder", "display": "Builder"}]
    a = RoleAssignment.objects.get()
    assert a.role == roles["Builder"] and a.source == "scim"


def test_unknown_role_is_400_invalid_value_naming_it_and_nothing_is_created(scim, roles):
    r = scim("POST", "/Users", okta_user(roles=["Builder", "Wizard"]))
    body = assert_scim_error(r, 400, "invalidValue")
    assert "Wizard" in body["detail"] and "Builder" not in body["detail"]
    assert (
        not IdpUser.objects.exists()
        and not Membership.objects.filter(user__email="ada@acme.example").exists()
    )


def test_roles_patch_replaces_only_attribute_roles_and_keeps_hand_made_ones(scim, org, roles):
    created = scim("POST", "/Users", okta_user(roles=["Builder"])).json()
    m = Membership.objects.get(org=org, user__email="ada@acme.example")
    role_assign(membership=m, role=roles["Support Builder"], actor=None)  # by hand
    r = scim(
        "PATCH",
        f"/Users/{created['id']}",
        {
            "schemas": [PATCH_URN],
            "Operations": [
                {"op": "replace", "path": "roles", "value": [{"value": "Support Builder"}]}
            ],
        },
    )
    assert r.status_code == 200
    got = set(RoleAssignment.objects.filter(membership=m).values_list("role__name", "source"))
    assert got == {("Support Builder", "scim"), ("Support Builder", "manual")}
    r = scim(
        "PATCH",
        f"/Users/{created['id']}",
        {"schemas": [PATCH_URN], "Operations": [{"op": "remove", "path": "roles"}]},
    )
    got = set(RoleAssignment.objects.filter(membership=m).values_list("role__name", "source"))
    assert got == {("Support Builder", "manual")}
    m.refresh_from_db()
    assert m.role == "member"


# --- tenancy and cost ---------------------------------------------------------------------


def test_another_orgs_token_never_reads_or_changes_users(scim, other_scim, other_org, grace):
    uid = grace["id"]
    assert other_scim("GET", "/Users").json()["totalResults"] == 0
    assert (
        other_scim("GET", '/Users?filter=userName eq "grace@acme.example"').json()["totalResults"]
        == 0
    )
    assert_scim_error(other_scim("GET", f"/Users/{uid}"), 404)
    assert_scim_error(other_scim("PUT", f"/Users/{uid}", entra_user()), 404)
    assert_scim_error(
        other_scim(
            "PATCH",
            f"/Users/{uid}",
            {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": False}}]},
        ),
        404,
    )
    assert_scim_error(other_scim("DELETE", f"/Users/{uid}"), 404)
    assert scim("GET", f"/Users/{uid}").json()["active"] is True
    # The same person is linked into the other org only once it holds the domain verified:
    # its IdP vouches for the address then.
    refused = assert_scim_error(other_scim("POST", "/Users", entra_user()), 409, "uniqueness")
    assert "has not verified the domain 'acme.example'" in refused["detail"]
    verified_domains(other_org, ["acme.example"])
    assert other_scim("POST", "/Users", entra_user()).status_code == 201


@pytest.mark.parametrize("n", [5, 60])
def test_list_query_count_does_not_grow(scim, roles, n, django_assert_max_num_queries):
    for i in range(n):
        scim("POST", "/Users", okta_user(f"p{i}@acme.example", roles=["Builder"]))
    with django_assert_max_num_queries(5):
        r = scim("GET", "/Users?startIndex=1&count=50")
    assert r.status_code == 200 and r.json()["totalResults"] == n
