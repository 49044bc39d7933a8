"""A person at a real browser: sign in, deactivate a member, find it in the audit log."""

from __future__ import annotations

import re

import pytest

from orgs.models import Membership
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_deactivate_member_and_see_it_in_the_audit_log(
    live_server, page, screenshot, admin, member
):
    page.goto(live_server.url + "/o/acme/members/")
    assert "/login/" in page.url
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/members/$"))
    screenshot("members")

    page.click("text=member@acme.example")
    page.wait_for_url(re.compile(rf"/o/acme/members/{member.pk}/$"))
    page.once("dialog", lambda dialog: dialog.accept())  # "Deactivate …?" is confirmed
    page.click("button:has-text('Deactivate member')")
    page.wait_for_selector(".messages .success")
    assert "is deactivated" in page.inner_text(".messages")
    screenshot("member-deactivated")

    page.click("nav.side >> text=Audit log")
    page.wait_for_url(re.compile(r"/o/acme/audit/$"))
    first_row = page.locator("table tbody tr").first
    assert "member.deactivated" in first_row.inner_text()
    assert "admin@acme.example" in first_row.inner_text()
    assert "status: active → deactivated" in first_row.inner_text()
    page.select_option("#action", "member.deactivated")
    page.click("button:has-text('Filter')")
    page.wait_for_url(re.compile(r"action=member\.deactivated"))
    assert page.locator("table tbody tr").count() == 1
    screenshot("audit-log")

    assert not Membership.objects.get(pk=member.pk).is_active


def test_wrong_password_shows_a_plain_error(live_server, page, admin):
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", "not the password")
    assert "do not match an active account" in page.inner_text("[role=alert]")


def test_admin_creates_a_scim_token_on_the_sso_scim_page(live_server, page, screenshot, admin):
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.click("nav.side >> text=SCIM & mapping")
    page.fill("#id_label", "Okta production")
    page.click("button:has-text('Create SCIM token')")
    token = page.inner_text("#new-scim-token").strip()
    assert token.startswith("scim_")
    assert page.inner_text("#scim-base-url").strip() == live_server.url + "/scim/v2/"
    screenshot("scim-settings")
    # A fresh visit never shows it again (the secret is rendered once, never stored).
    page.goto(live_server.url + "/o/acme/settings/scim/")
    assert page.locator("#new-scim-token").count() == 0
    assert "Okta production" in page.inner_text("table")
