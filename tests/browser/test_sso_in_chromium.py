"""Single sign-on in a real browser: SAML through a pysaml2 IdP page on loopback, OIDC through
oidc-provider's own login and consent pages, and Test connection from the SSO page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from orgs.services.members import membership_add
from sso.assertion import SsoAssertion
from sso.models import SsoConnection
from sso.services.config import (
    sso_connection_ensure,
    sso_oidc_configure,
    sso_protocol_set,
    sso_require_set,
    sso_saml_configure,
    sso_test_succeeded,
)
from tests.browser.idp_page import IdpPage
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD, verified_domains
from tests.sso.oidc_op import SECRET, OidcProvider
from tests.sso.saml_idp import Person, key_pair

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ADA = Person(name_id="ada@acme.example", email="ada@acme.example")


@pytest.fixture
def idp_page():
    page = IdpPage({"ada": ADA})
    yield page
    page.stop()


@pytest.fixture
def saml_org(live_server, idp_page, org, admin):
    sso_connection_ensure(org=org, actor=admin.user)  # the SSO page's "Start SAML setup"
    sp_metadata = requests.get(live_server.url + "/sso/saml/acme/metadata/", timeout=10).text
    idp = idp_page.use(sp_metadata=sp_metadata, keys=key_pair("browser idp"))
    sso_saml_configure(org=org, metadata_xml=idp.metadata(), actor=admin.user)
    verified_domains(org, ["acme.example"])
    sso_protocol_set(org=org, protocol="saml", actor=admin.user)
    membership_add(org=org, email="ada@acme.example", actor=None)
    return org


def test_sp_initiated_saml_sign_in_lands_in_the_dashboard(live_server, page, screenshot, saml_org):
    page.goto(live_server.url + "/login/")
    screenshot("sso-sign-in-email-first")
    page.fill("#id_email", "ada@acme.example")
    page.click("button:has-text('Continue')")
    page.wait_for_selector("#idp-username")  # at the IdP, on 127.0.0.1
    assert page.url.startswith("http://127.0.0.1:")
    screenshot("sso-test-idp-page")
    page.fill("#idp-username", "ada")
    page.click("#idp-submit")
    page.wait_for_url(re.compile(r"/o/acme/me/$"))
    assert "ada@acme.example" in page.inner_text("header")
    screenshot("sso-saml-signed-in")


def test_admin_tests_the_saml_connection_from_the_sso_page(live_server, page, screenshot, saml_org):
    page.goto(live_server.url + "/login/?password=1")
    page.fill("#id_email", "admin@acme.example")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.click("nav.side >> text=Single sign-on")
    page.wait_for_url(re.compile(r"/o/acme/settings/sso/$"))
    assert page.inner_text("#sp-acs") == live_server.url + "/sso/saml/acme/acs/"
    screenshot("sso-settings")
    page.click("#test-saml")
    page.wait_for_selector("#idp-username")
    page.fill("#idp-username", "ada")
    page.click("#idp-submit")
    page.wait_for_selector("#sso-test-ok")
    assert page.inner_text("#sso-test-subject") == "ada@acme.example"
    screenshot("sso-test-result")
    assert SsoConnection.objects.get(org=saml_org).saml_tested_at is not None
    # Now Require SSO can be switched on, from the page.
    page.click("nav.side >> text=Single sign-on")
    page.check("#require-sso")
    page.click("#require-form button")
    page.wait_for_selector(".messages .success")
    assert page.inner_text("#sso-require") == "On"


def test_admin_starts_saml_setup_and_downloads_the_sp_metadata(
    live_server, page, screenshot, org, admin
):
    """A fresh organization: opening the page creates nothing; Start SAML setup makes our key
    pair, and the SP metadata is then there to download."""
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.goto(live_server.url + "/o/acme/settings/sso/")
    assert page.is_visible("#sso-start") and not page.is_visible("#sp-metadata-download")
    assert not SsoConnection.objects.filter(org=org).exists()
    assert page.inner_text("#sp-acs") == live_server.url + "/sso/saml/acme/acs/"
    screenshot("sso-settings-before-setup")
    page.click("#sso-start")
    page.wait_for_selector(".messages .success")
    with page.expect_download() as download:
        page.click("#sp-metadata-download")
    xml = Path(download.value.path()).read_text()
    assert "X509Certificate" in xml and live_server.url + "/sso/saml/acme/acs/" in xml
    assert SsoConnection.objects.get(org=org).sp_certificate
    screenshot("sso-settings-after-setup")


def test_oidc_sign_in_through_oidc_providers_login_page(
    live_server, page, screenshot, org, admin, settings
):
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    provider = OidcProvider(
        redirect_uri=live_server.url + "/sso/oidc/callback/",
        accounts={"okta-sub-ada": {"email": "ada@acme.example", "email_verified": True}},
    )
    try:
        sso_oidc_configure(
            org=org, issuer=provider.issuer, client_id="gov", client_secret=SECRET, actor=None
        )
        verified_domains(org, ["acme.example"])
        sso_protocol_set(org=org, protocol="oidc", actor=None)
        membership_add(org=org, email="ada@acme.example", actor=None)
        page.goto(live_server.url + "/login/")
        page.fill("#id_email", "ada@acme.example")
        page.click("button:has-text('Continue')")
        page.wait_for_selector("input[name=login]")  # oidc-provider's own login page
        assert page.url.startswith(provider.issuer)
        screenshot("sso-oidc-provider-login")
        page.fill("input[name=login]", "okta-sub-ada")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        page.wait_for_selector("button[type=submit]")  # consent
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/o/acme/me/$"))
        assert "ada@acme.example" in page.inner_text("header")
        screenshot("sso-oidc-signed-in")
    finally:
        provider.stop()


def test_member_password_is_refused_when_sso_is_required(
    live_server, page, saml_org, member, admin
):
    said = SsoAssertion("saml", "idp", "ada@acme.example", "ada@acme.example", True)
    sso_test_succeeded(
        org=saml_org, protocol="saml", tester=admin.user, assertion=said, outcome="ok"
    )
    sso_require_set(org=saml_org, required=True, actor=admin.user)
    page.goto(live_server.url + "/login/?password=1")
    page.fill("#id_email", "member@acme.example")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    assert "requires single sign-on" in page.inner_text("[role=alert]")


def test_password_sign_in_still_works_for_a_domain_without_sso(live_server, page, admin):
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
