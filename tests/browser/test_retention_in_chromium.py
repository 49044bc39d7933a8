"""An admin at a real browser on the Data retention page: the dry run, a shorter window
previewed then saved, a legal hold placed."""

from __future__ import annotations

import re

import pytest

from retention.models import LegalHold
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD
from tests.retention.conftest import aged_run
from tests.workspace.conftest import world  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_previews_a_shorter_window_and_places_a_hold(live_server, page, screenshot, world):  # noqa: F811
    aged_run(world["consumer"], world["agent"], 20)
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.click("nav.side >> text=Data retention")
    page.wait_for_url(re.compile(r"/o/acme/settings/retention/$"))
    assert "Input and output content" in page.inner_text("#dry-run")
    page.fill("input[name=days_payloads]", "10")
    page.click("button:has-text('Save windows')")
    page.wait_for_selector("#preview")
    row = page.locator("#dry-run tr", has_text="Input and output content")
    assert "10 days" in row.inner_text() and "\t4\t" in row.inner_text()
    screenshot("retention-preview")
    page.click("button:has-text('Save the shorter windows')")
    page.wait_for_selector(".messages .success")
    page.select_option("#hold-scope", "member")
    page.fill("#hold-target", str(world["consumer"].pk))
    page.fill("#hold-reason", "Litigation: Doe v. Acme")
    page.fill("#hold-case", "CASE-17")
    page.click("button:has-text('Place hold')")
    page.wait_for_selector(".messages .success")
    assert "consumer@acme.example" in page.inner_text("#holds")
    assert "\t4\t" in page.locator("#dry-run tr", has_text="Input and output content").inner_text()
    screenshot("retention-page")
    assert LegalHold.objects.filter(case_reference="CASE-17").exists()
