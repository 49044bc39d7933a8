"""The Role and team mapping page: flat query count, bad input answered in words, tenancy."""

from __future__ import annotations

import pytest

from mapping.models import GroupMapping, MappingSettings
from orgs.services.assignments import role_assign
from orgs.services.roles import custom_role_create
from scim.adapters import GroupChange, UserFields
from scim.services.groups import scim_group_create
from scim.services.tokens import scim_token_create
from scim.services.users import scim_user_create

PAGE = "/o/acme/settings/scim/mapping/"


def seed(org, n):
    token, _ = scim_token_create(org=org, actor=None)
    users = [
        scim_user_create(
            org=org, fields=UserFields(user_name=f"u{i}@acme.example"), actor=token
        ).scim_user
        for i in range(n)
    ]
    for g in range(n):
        change = GroupChange(display_name=f"g{g}", members=[str(u.uid) for u in users[:3]])
        group = scim_group_create(org=org, change=change, actor=token)
        role = custom_role_create(org=org, name=f"R{g}", actor=None)
        GroupMapping.objects.create(org=org, direction="roles", group=group, role=role)
        role_assign(membership=users[0].membership, role=role, actor=None)


@pytest.mark.parametrize("n", [2, 25])
def test_the_page_query_count_does_not_grow(admin_client, org, n, django_assert_max_num_queries):
    seed(org, n)
    with django_assert_max_num_queries(20):
        r = admin_client.get(PAGE)
    assert r.status_code == 200 and "g1" in r.content.decode()


def test_the_name_based_preview_renders_on_get(admin_client, org):
    seed(org, 2)
    html = admin_client.get(PAGE + "?flip=roles").content.decode()
    assert 'id="preview"' in html and "Type <code>roles</code>" in html


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("save/", {"direction": "roles", "roles-group": "nope", "roles-target": "1"}),
        ("save/", {"direction": "roles", "roles-group": "", "roles-target": "9"}),
        ("preview/", {"direction": "robots"}),
        ("name-based/", {"direction": "roles", "confirm_text": "teams"}),
        ("use-table/", {"direction": "x"}),
    ],
)
def test_bad_input_is_explained_and_changes_nothing(admin_client, org, action, data):
    r = admin_client.post(PAGE + action, data, follow=True)
    assert r.status_code == 200
    assert 'class="error"' in r.content.decode() or "messages" in r.content.decode()
    assert not GroupMapping.objects.exists()
    assert not MappingSettings.objects.filter(roles_use_table=False).exists()


def test_another_orgs_group_cannot_be_mapped_and_another_orgs_page_is_404(
    admin_client, org, other_org
):
    token, _ = scim_token_create(org=other_org, actor=None)
    theirs = scim_group_create(org=other_org, change=GroupChange(display_name="x"), actor=token)
    role = custom_role_create(org=org, name="Builder", actor=None)
    data = {
        "direction": "roles",
        "roles-group": str(theirs.uid),
        "roles-target": str(role.pk),
    }
    r = admin_client.post(PAGE + "save/", data, follow=True)
    assert "no IdP group" in r.content.decode() and not GroupMapping.objects.exists()
    assert admin_client.get(f"/o/{other_org.slug}/settings/scim/mapping/").status_code == 404


def test_members_without_the_scim_capability_get_403(member_client):
    assert member_client.get(PAGE).status_code == 403
