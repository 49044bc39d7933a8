"""Require SSO without lock-outs, the e-mail-first sign-in page, break-glass, and the SSO page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.exceptions import Conflict, ValidationFailed
from orgs.models import DomainClaim
from orgs.services.domains import domain_verify, domains_set
from orgs.services.members import membership_add, membership_deactivate
from sso.models import SsoConnection
from sso.services.config import sso_require_set, sso_saml_configure
from tests.conftest import PASSWORD, assert_audited
from tests.sso.conftest import ADA, sp_metadata

pytestmark = pytest.mark.django_db


def passed_test(world) -> None:
    """Run a real SAML test login as the admin and see it succeed."""
    membership_add(org=world.org, email="ada@acme.example", actor=None)
    admin_client = Client()
    admin_client.force_login(world.admin.user)
    request = world.start(admin_client, test=True)
    world.post(world.respond(ADA, request), client=admin_client)
    assert SsoConnection.objects.get(org=world.org).saml_tested_at is not None


def password_sign_in(email: str, password: str = PASSWORD, client: Client | None = None):
    client = client or Client()
    return client, client.post("/login/", {"email": email, "password": password})


def test_require_sso_is_refused_before_a_successful_test(saml_world):
    with pytest.raises(ValidationFailed, match="Test connection"):
        sso_require_set(org=saml_world.org, required=True, actor=saml_world.admin.user)
    assert not SsoConnection.objects.get(org=saml_world.org).require_sso
    assert not AuditEvent.objects.filter(action="sso.require_changed").exists()


def test_require_sso_on_after_a_test_refuses_member_passwords(saml_world, member):
    passed_test(saml_world)
    sso_require_set(org=saml_world.org, required=True, actor=saml_world.admin.user)
    event = AuditEvent.objects.get(action="sso.require_changed")
    assert event.data == {"old": False, "new": True, "protocol": "saml"}
    client, response = password_sign_in("member@acme.example")
    assert response.status_code == 400
    assert "requires single sign-on" in response.content.decode()
    assert "_auth_user_id" not in client.session
    failed = assert_audited("auth.login_failed")
    assert "requires SSO" in failed.data["reason"]


def test_admin_break_glass_password_sign_in_works_and_is_audited(saml_world):
    passed_test(saml_world)
    sso_require_set(org=saml_world.org, required=True, actor=saml_world.admin.user)
    client, response = password_sign_in("admin@acme.example")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(saml_world.admin.user.pk)
    glass = AuditEvent.objects.get(action="sso.break_glass_login")
    assert glass.org_id == saml_world.org.pk and glass.actor_label == "admin@acme.example"
    overview = client.get("/o/acme/").content.decode()
    assert "Break-glass sign-ins" in overview and "sso.break_glass_login" in overview


def test_a_password_session_of_a_member_cannot_open_an_org_that_requires_sso(
    saml_world, member, other_org, make_member
):
    make_member(other_org, "member@acme.example")  # also in an org without SSO
    passed_test(saml_world)
    sso_require_set(org=saml_world.org, required=True, actor=saml_world.admin.user)
    client, response = password_sign_in("member@acme.example")
    assert response.status_code == 302  # Globex still allows passwords
    assert client.get("/o/globex/me/").status_code == 200
    refused = client.get("/o/acme/me/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/sso/saml/acme/login/?next=/o/acme/me/")


def test_a_saml_session_opens_the_org_that_requires_sso(saml_world):
    passed_test(saml_world)
    sso_require_set(org=saml_world.org, required=True, actor=saml_world.admin.user)
    client = Client()
    request = saml_world.start(client)
    assert saml_world.post(saml_world.respond(ADA, request), client=client).status_code == 302
    assert client.get("/o/acme/me/").status_code == 200


def test_a_deactivated_member_cannot_use_a_password_either(saml_world, member):
    membership_deactivate(membership=member, actor=None)
    client, response = password_sign_in("member@acme.example")
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_config_change_of_the_idp_asks_for_a_new_test(saml_world, evil_keys):
    passed_test(saml_world)
    from tests.sso.saml_idp import TestIdp

    sp = sp_metadata(saml_world.org)
    other = TestIdp(sp_metadata=sp, entity_id="http://www.okta.com/new-app", keys=evil_keys)
    sso_saml_configure(org=saml_world.org, metadata_xml=other.metadata(), actor=None)
    assert SsoConnection.objects.get(org=saml_world.org).saml_tested_at is None
    with pytest.raises(ValidationFailed):
        sso_require_set(org=saml_world.org, required=True, actor=None)


def test_the_sign_in_page_sends_sso_domains_to_the_idp(saml_world):
    response = Client().post("/login/", {"email": "Someone@ACME.example", "next": "/o/acme/me/"})
    assert response.status_code == 302
    assert response["Location"] == "/sso/saml/acme/login/?next=/o/acme/me/"


def test_the_sign_in_page_answers_the_same_for_known_and_unknown_emails(saml_world, other_org):
    known = Client().post("/login/", {"email": "admin@globex.example"})
    unknown = Client().post("/login/", {"email": "nobody@globex.example"})
    assert known.status_code == unknown.status_code == 200

    def strip(response) -> str:
        text = response.content.decode()
        text = text.replace("admin@globex.example", "X").replace("nobody@globex.example", "X")
        return text

    def without_csrf(text: str) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)

    assert without_csrf(strip(known)) == without_csrf(strip(unknown))
    assert 'id="id_password"' in known.content.decode()
    # An SSO domain goes to the IdP whether or not the address has an account.
    a = Client().post("/login/", {"email": "admin@acme.example"})
    b = Client().post("/login/", {"email": "nobody@acme.example"})
    assert a.status_code == b.status_code == 302 and a["Location"] == b["Location"]


def test_the_break_glass_link_shows_the_password_form(saml_world):
    page = Client().get("/login/?password=1").content.decode()
    assert 'id="id_password"' in page


def test_a_domain_is_verified_by_one_org_and_a_second_claim_routes_nobody(saml_world, other_org):
    domains_set(org=other_org, domains=["acme.example"], actor=None)  # a claim blocks nobody
    claim = DomainClaim.objects.get(org=other_org)
    assert claim.status == "pending"
    with pytest.raises(Conflict, match=r"acme\.example is verified by another organization"):
        domain_verify(claim=claim, actor=None, skip_dns=True)
    with pytest.raises(ValidationFailed, match="not a domain"):
        domains_set(org=other_org, domains=["not a domain"], actor=None)
    assert list(DomainClaim.objects.filter(org=other_org).values_list("domain", "status")) == [
        ("acme.example", "pending")
    ]


def test_the_sso_page_shows_sp_values_and_needs_the_sso_permission(saml_world, member_client):
    admin_client = Client()
    admin_client.force_login(saml_world.admin.user)
    page = admin_client.get("/o/acme/settings/sso/").content.decode()
    assert "http://testserver/sso/saml/acme/acs/" in page
    assert "http://testserver/sso/saml/acme/metadata/" in page
    assert "http://testserver/sso/oidc/callback/" in page
    assert saml_world.idp.entity_id in page
    assert member_client.get("/o/acme/settings/sso/").status_code == 403


def test_the_sso_page_refuses_require_before_a_test_with_a_message(saml_world):
    admin_client = Client()
    admin_client.force_login(saml_world.admin.user)
    response = admin_client.post("/o/acme/settings/sso/require/", {"enabled": "on"}, follow=True)
    assert "Run Test connection" in response.content.decode()
    assert not SsoConnection.objects.get(org=saml_world.org).require_sso


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("saml/metadata/", {}),
        ("saml/metadata/", {"metadata_xml": "<<<"}),
        ("oidc/", {"issuer": "ftp://x", "client_id": "c", "client_secret": "s"}),
        ("protocol/", {"protocol": "kerberos"}),
        ("domains/", {"domains": "not a domain"}),
        ("saml/settings/", {"attr_email": ""}),
    ],
)
def test_bad_sso_page_posts_change_nothing(saml_world, action, data):
    admin_client = Client()
    admin_client.force_login(saml_world.admin.user)
    before = SsoConnection.objects.get(org=saml_world.org)
    events = AuditEvent.objects.count()
    response = admin_client.post("/o/acme/settings/sso/" + action, data, follow=True)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    after = SsoConnection.objects.get(org=saml_world.org)
    assert after.version == before.version and after.attr_email == before.attr_email
    assert AuditEvent.objects.count() == events


def test_another_orgs_sso_page_is_404(saml_world, other_org):
    admin_client = Client()
    admin_client.force_login(saml_world.admin.user)
    assert admin_client.get("/o/globex/settings/sso/").status_code == 404
    assert admin_client.post("/o/globex/settings/sso/jit/", {}).status_code == 404
