"""In Chromium: an admin claims a domain on the SSO page, sees the TXT record to publish, and
verifies it (a real DNS server on loopback answers)."""

from __future__ import annotations

import re

import pytest

from orgs.models import DomainClaim
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD
from tests.dns_server import LoopbackDns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_claim_and_verify_a_domain(live_server, page, screenshot, admin, settings):
    zone = LoopbackDns()
    settings.GOVERNANCE_DNS_RESOLVER = zone.address
    try:
        page.goto(live_server.url + "/login/")
        password_sign_in(page, "admin@acme.example", PASSWORD)
        page.wait_for_url(re.compile(r"/o/acme/$"))
        page.goto(live_server.url + "/o/acme/settings/sso/")
        page.fill("#domains", "acme.example")
        page.click("button:has-text('Save domains')")
        page.wait_for_selector("#domain-claims")
        row = page.locator("#domain-claims tbody tr").first
        assert "Pending verification" in row.inner_text()
        txt = row.locator("code").inner_text().strip()
        assert txt == DomainClaim.objects.get().txt_value
        row.locator("button:has-text('Verify now')").click()
        page.wait_for_selector(".messages .error")
        assert "Not verified" in page.inner_text(".messages")
        screenshot("sso-domain-pending")
        zone.txt["acme.example"] = [txt]
        page.locator("#domain-claims button:has-text('Verify now')").click()
        page.wait_for_selector(".messages .success")
        assert "acme.example is verified" in page.inner_text(".messages")
        assert "Verified" in page.locator("#domain-claims tbody tr").first.inner_text()
        assert "domain.verified" in page.inner_text("body")  # among the recent SSO events
        screenshot("sso-domain-verified")
    finally:
        zone.stop()
