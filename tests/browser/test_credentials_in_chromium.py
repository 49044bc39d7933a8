"""Okta OAuth credentials at a real browser against the Okta-like server (oidc-provider): an
admin adds the credential and a Snowflake service and tests it; an analyst authenticates
Snowflake from their credentials page through Okta's own login and consent pages, comes back
connected, and disconnects."""

from __future__ import annotations

import re

import pytest

from credentials.models import ServiceConnection
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD
from tests.credentials.okta_server import SECRET, SERVER_ID, OktaServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_sets_up_okta_and_a_member_authenticates_snowflake(
    live_server, page, screenshot, admin, make_member, settings, browser
):
    from orgs.services.assignments import role_assign
    from orgs.services.roles import custom_role_create

    settings.SSO_ALLOW_HTTP_ISSUERS = True
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    okta = OktaServer(redirect_uri=live_server.url + "/credentials/oauth/callback/")
    try:
        page.goto(live_server.url + "/login/")
        password_sign_in(page, "admin@acme.example", PASSWORD)
        page.wait_for_url(re.compile(r"/o/acme/$"))
        page.click('nav.side >> text="Credentials"')
        page.wait_for_url(re.compile(r"/o/acme/settings/credentials/$"))
        assert "/credentials/oauth/callback/" in page.inner_text("#redirect-uri")
        page.fill("#c-name", "Okta production")
        page.fill("#c-domain", okta.domain)
        page.fill("#c-server", SERVER_ID)
        page.fill("#c-client", "gov-okta")
        page.fill("#c-secret", SECRET)
        page.click("button:has-text('Save and read the discovery document')")
        page.wait_for_url(re.compile(r"/o/acme/settings/credentials/\d+/$"))
        page.fill("#s-name", "Snowflake")
        page.select_option("#s-integration", "snowflake")
        page.fill("#s-audience", "https://abc12345.snowflakecomputing.com")
        page.fill("#s-scopes", "session:role:ANALYST")
        page.click("button:has-text('Add service')")
        page.wait_for_selector("#services >> text=Snowflake")
        page.click("#test-credential")
        page.wait_for_selector(".messages .success")
        assert "Okta issued an access token" in page.inner_text(".messages")
        assert SECRET not in page.content()
        screenshot("credentials-admin")

        role = custom_role_create(
            org=admin.org,
            name="Analyst",
            permissions=["agents.run", "integrations.use.snowflake"],
            actor=None,
        )
        analyst = make_member(admin.org, "analyst@acme.example")
        role_assign(membership=analyst, role=role, actor=None)
        context = browser.new_context()
        member_page = context.new_page()
        member_page.goto(live_server.url + "/login/")
        password_sign_in(member_page, "analyst@acme.example", PASSWORD)
        member_page.wait_for_url(re.compile(r"/o/acme/"))
        member_page.click("nav.side >> text=My credentials")
        row = member_page.locator("#my-services tr[data-service='Snowflake']")
        assert "not connected" in row.inner_text()
        row.locator("button.authenticate").click()
        member_page.wait_for_selector("input[name=login]")  # Okta's own sign-in page
        assert member_page.url.startswith(okta.issuer)
        member_page.fill("input[name=login]", "analyst")
        member_page.fill("input[name=password]", "anything")
        member_page.click("button[type=submit]")
        member_page.wait_for_selector("button[type=submit]")  # first time: consent
        screenshot("credentials-okta-consent", member_page)
        member_page.click("button[type=submit]")
        member_page.wait_for_url(re.compile(r"/o/acme/me/credentials/$"))
        assert "Snowflake is connected" in member_page.inner_text(".messages")
        row = member_page.locator("#my-services tr[data-service='Snowflake']")
        assert "connected" in row.inner_text() and "session:role:ANALYST" in row.inner_text()
        screenshot("credentials-member-connected", member_page)
        connection = ServiceConnection.objects.get(membership=analyst)
        assert connection.status == "connected" and connection.refresh_token

        row.locator("button.disconnect").click()
        member_page.wait_for_selector(".messages .success")
        assert "disconnected" in member_page.inner_text(".messages")
        assert not ServiceConnection.objects.exists()
        context.close()
    finally:
        okta.stop()
