"""An admin at a real browser maps an IdP group to a role, previews, saves, then previews and
confirms name-based mode by typing the direction's name."""

from __future__ import annotations

import pytest

from orgs.models import RoleAssignment
from orgs.services.assignments import role_assign
from orgs.services.roles import custom_role_create
from scim.adapters import GroupChange, UserFields
from scim.services.groups import scim_group_create
from scim.services.tokens import scim_token_create
from scim.services.users import scim_user_create
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_map_preview_save_and_switch_to_name_based(live_server, page, screenshot, org, admin):
    token, _ = scim_token_create(org=org, actor=None)
    ada = scim_user_create(
        org=org, fields=UserFields(user_name="ada@acme.example"), actor=token
    ).scim_user
    scim_group_create(
        org=org,
        change=GroupChange(display_name="okta-builders", members=[str(ada.uid)]),
        actor=token,
    )
    builder = custom_role_create(org=org, name="Builder", actor=None)
    viewer = custom_role_create(org=org, name="Viewer", actor=None)
    role_assign(membership=ada.membership, role=viewer, actor=None)

    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.goto(live_server.url + "/o/acme/settings/scim/mapping/")
    roles = page.locator("#direction-roles + .panel")
    roles.locator("select[name=roles-group]").first.select_option(label="okta-builders")
    roles.locator("select[name=roles-target]").first.select_option(label="Builder")
    roles.locator("button:has-text('Preview changes')").click()
    page.wait_for_selector("#preview")
    assert "ada@acme.example" in page.inner_text("#preview")
    assert "Builder" in page.locator("#preview tbody tr").first.inner_text()
    screenshot("mapping-preview-table")
    assert not RoleAssignment.objects.filter(role=builder).exists()  # a preview writes nothing

    page.locator("#direction-roles + .panel button:has-text('Save roles table')").click()
    page.wait_for_selector(".messages .success")
    assert "Done" in page.inner_text("#last-sync")
    assert RoleAssignment.objects.filter(role=builder, source="idp").count() == 1

    page.click("text=Preview name-based mode…")
    page.wait_for_selector("#preview")
    row = page.locator("#preview tbody tr").first.inner_text()
    assert "ada@acme.example" in row and "Viewer" in row  # she would lose the hand-made role
    screenshot("mapping-preview-name-based")
    page.fill("#confirm-text", "roles")
    page.click("button:has-text('Switch to name-based mode')")
    page.wait_for_selector(".messages .success")
    assert "Off: name-based" in page.inner_text("#direction-roles + .panel")
    screenshot("mapping-name-based")
    held = set(
        RoleAssignment.objects.filter(membership=ada.membership).values_list(
            "role__name", flat=True
        )
    )
    assert held == {"okta-builders"}  # name-based: the group's own name, auto-created
