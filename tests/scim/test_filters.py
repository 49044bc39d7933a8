"""SCIM filters give the same answers on SQLite and PostgreSQL, and refuse what they cannot do."""

from __future__ import annotations

import pytest

from mapping.models import IdpGroup, IdpGroupMember, IdpUser
from mapping.services.users import idp_user_add
from orgs.services.members import membership_deactivate
from scim.exceptions import InvalidFilter
from scim.filters import filter_q

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def people(org, other_org, make_member):
    # Provisioning services arrive with the SCIM endpoints; until then rows are built here.
    def person(o, email, user_name, **fields):
        m = make_member(o, email, password=None)
        emails = [{"value": email, "type": "work", "primary": True}]
        return idp_user_add(
            membership=m, profile={"user_name": user_name, "emails": emails, **fields}
        )

    ada = person(
        org,
        "ada@acme.example",
        "Ada@Acme.example",
        external_id="E-1",
        given_name="Ada",
        family_name="Lovelace",
        department="R&D",
        employee_number="100",
    )
    bob = person(
        org,
        "bob@acme.example",
        "bob@acme.example",
        external_id="e-2",
        given_name="Bob",
        family_name="Smith_Jones",
        department="",
    )
    cy = person(org, "cy@acme.example", "cy%admin@acme.example", given_name="Cy")
    membership_deactivate(membership=cy.membership, actor=None)
    other = person(other_org, "ada@globex.example", "ada@acme.example")  # same name, other org
    return {"ada": ada, "bob": bob, "cy": cy, "other": other}


def names(org, expression, resource="User"):
    model = IdpUser if resource == "User" else IdpGroup
    qs = model.objects.filter(org=org).filter(filter_q(expression, resource=resource))
    attr = "user_name" if resource == "User" else "display_name"
    return sorted(qs.values_list(attr, flat=True).distinct())


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "ada@acme.example"', ["Ada@Acme.example"]),
        ('USERNAME EQ "ADA@ACME.EXAMPLE"', ["Ada@Acme.example"]),
        (
            'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@acme.example"',
            ["bob@acme.example"],
        ),
        ('userName ne "ada@acme.example"', ["bob@acme.example", "cy%admin@acme.example"]),
        ('userName co "%"', ["cy%admin@acme.example"]),
        ('userName sw "ADA"', ["Ada@Acme.example"]),
        (
            'userName ew ".example"',
            ["Ada@Acme.example", "bob@acme.example", "cy%admin@acme.example"],
        ),
        ('name.familyName co "_"', ["bob@acme.example"]),
        ('externalId eq "E-1"', ["Ada@Acme.example"]),
        ('externalId eq "e-1"', []),
        ("externalId pr", ["Ada@Acme.example", "bob@acme.example"]),
        ("not (externalId pr)", ["cy%admin@acme.example"]),
        ("active eq true", ["Ada@Acme.example", "bob@acme.example"]),
        ('active eq "False"', ["cy%admin@acme.example"]),
        ("active eq false", ["cy%admin@acme.example"]),
        (
            'name.givenName eq "ada" or name.givenName eq "cy"',
            ["Ada@Acme.example", "cy%admin@acme.example"],
        ),
        (
            '(name.givenName sw "a" or name.givenName sw "b") and active eq true',
            ["Ada@Acme.example", "bob@acme.example"],
        ),
        ('emails[type eq "work"].value eq "bob@acme.example"', ["bob@acme.example"]),
        ('emails[type eq "home"].value eq "bob@acme.example"', []),
        ('emails.value co "ada"', ["Ada@Acme.example"]),
        (f'{ENT}:department eq "r&d"', ["Ada@Acme.example"]),
        (f"{ENT}:department pr", ["Ada@Acme.example"]),
        (f'{ENT}:employeeNumber eq "100"', ["Ada@Acme.example"]),
        (
            'meta.created gt "2000-01-01T00:00:00Z"',
            ["Ada@Acme.example", "bob@acme.example", "cy%admin@acme.example"],
        ),
        ('meta.lastModified lt "2000-01-01T00:00:00Z"', []),
        ('id eq "not-a-uuid"', []),
        ('userName gt "b"', ["bob@acme.example", "cy%admin@acme.example"]),
    ],
)
def test_filter_results(org, people, expression, expected):
    assert names(org, expression) == expected


def test_id_filter_and_tenant_scope(org, people):
    ada = people["ada"]
    assert names(org, f'id eq "{ada.uid}"') == ["Ada@Acme.example"]
    other = people["other"]
    assert names(org, f'id eq "{other.uid}"') == []


@pytest.mark.parametrize(
    "expression",
    [
        'nickName eq "x"',
        'userName eq "x" and favouriteColour eq "blue"',
        'favouriteColour eq "blue" or userName eq "x"',
        "userName eq",
        'userName "x"',
        '(userName eq "x"',
        'userName xx "x"',
        "active gt true",
        'active eq "maybe"',
        'meta.created gt "yesterday"',
        'meta.lastModified gt "0001-01-01T00:00:00+14:00"',  # before year 1 in UTC
        'meta.created gt "2026-13-45T99:00:00Z"',
        'id co "abc"',
        "",
        'userName eq "' + "x" * 3000 + '"',
    ],
)
def test_bad_filters_are_invalid_filter_errors(org, expression):
    with pytest.raises(InvalidFilter) as info:
        filter_q(expression, resource="User")
    assert info.value.scim_type == "invalidFilter" and info.value.message


def test_group_filters(org, people):
    g1 = IdpGroup.objects.create(org=org, display_name="Engineering", external_id="G1")
    IdpGroup.objects.create(org=org, display_name="Sales")
    IdpGroupMember.objects.create(group=g1, membership=people["ada"].membership)
    assert names(org, 'displayName eq "engineering"', "Group") == ["Engineering"]
    assert names(org, 'externalId eq "G1"', "Group") == ["Engineering"]
    assert names(org, f'members[value eq "{people["ada"].uid}"]', "Group") == ["Engineering"]
    assert names(org, f'members.value eq "{people["bob"].uid}"', "Group") == []
    with pytest.raises(InvalidFilter):
        filter_q('userName eq "x"', resource="Group")
