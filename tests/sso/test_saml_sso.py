"""SAML sign-in as it should work: SP-initiated and IdP-initiated, who the person is, JIT,
metadata, certificate rollover, test connection."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from django.test import Client

from audit.models import AuditEvent
from identity.models import User
from orgs.services.members import membership_add, membership_deactivate
from sso.exceptions import SsoFailure
from sso.models import SsoConnection, SsoIdentity
from sso.services.config import sso_jit_set, sso_saml_configure, sso_saml_settings_set
from tests.conftest import assert_audited
from tests.sso.conftest import ACS, ADA, ENTITY_ID, sp_metadata
from tests.sso.saml_idp import Person, TestIdp, b64

pytestmark = pytest.mark.django_db
MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def signed_in_as(client: Client) -> User | None:
    pk = client.session.get("_auth_user_id")
    return User.objects.filter(pk=pk).first() if pk else None


def reason() -> str:
    return assert_audited("sso.login_failed").data["reason"]


def test_sp_metadata_names_entity_id_acs_nameid_format_and_signing_cert(saml_world):
    response = Client().get("/sso/saml/acme/metadata/")
    assert response["Content-Type"] == "application/samlmetadata+xml"
    root = ET.fromstring(response.content)
    assert root.get("entityID") == ENTITY_ID
    sp = root.find(f"{{{MD}}}SPSSODescriptor")
    assert sp.get("AuthnRequestsSigned") == "true"
    assert sp.find(f"{{{MD}}}AssertionConsumerService").get("Location") == ACS
    assert "emailAddress" in sp.findtext(f"{{{MD}}}NameIDFormat")
    assert sp.find(f"{{{MD}}}KeyDescriptor").get("use") == "signing"


def test_sp_initiated_sign_in_is_signed_and_lands_on_the_next_page(saml_world):
    membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    request = saml_world.start(next_path="/o/acme/me/")
    assert request["signed"]  # RSA-SHA256 over the redirect binding
    assert request["acs"] == ACS and request["issuer"] == ENTITY_ID
    response = saml_world.post(saml_world.respond(ADA, request), request["relay_state"])
    assert response.status_code == 302 and response["Location"] == "/o/acme/me/"
    assert signed_in_as(saml_world.client).email == "ada@acme.example"
    assert saml_world.client.get("/o/acme/me/").status_code == 200
    event = AuditEvent.objects.get(action="sso.login_succeeded")
    assert event.data["subject"] == "ada@acme.example" and event.data["groups"] == ["Engineering"]
    assert AuditEvent.objects.filter(action="sso.identity_linked").count() == 1


def test_identity_is_the_name_id_not_the_email_the_idp_asserts_later(saml_world):
    membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    persistent = Person(name_id="00u-ada-okta-id", email="ada@acme.example")
    request = saml_world.start()
    assert saml_world.post(saml_world.respond(persistent, request)).status_code == 302
    ada = signed_in_as(saml_world.client)
    # Later the IdP asserts a different e-mail for the same subject: still Ada.
    renamed = Person(name_id="00u-ada-okta-id", email="ada.lovelace@acme.example")
    client = Client()
    request = saml_world.start(client)
    assert saml_world.post(saml_world.respond(renamed, request), client=client).status_code == 302
    assert signed_in_as(client) == ada
    assert SsoIdentity.objects.get().subject == "00u-ada-okta-id"


def test_another_subject_asserting_a_linked_email_is_refused(saml_world):
    membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    request = saml_world.start()
    saml_world.post(saml_world.respond(Person("00u-ada", "ada@acme.example"), request))
    client = Client()
    request = saml_world.start(client)
    impostor = Person("00u-someone-else", "ada@acme.example")
    assert saml_world.post(saml_world.respond(impostor, request), client=client).status_code == 403
    assert signed_in_as(client) is None
    assert "already linked to another subject" in reason()


def test_an_email_outside_the_claimed_domains_links_nobody(saml_world, make_member):
    make_member(saml_world.org, "bob@elsewhere.example")
    request = saml_world.start()
    bob = Person("bob@elsewhere.example", "bob@elsewhere.example")
    assert saml_world.post(saml_world.respond(bob, request)).status_code == 403
    assert "not in a domain this organization claims" in reason()


def test_an_account_of_another_org_is_not_taken_over_by_jit(saml_world, other_org, make_member):
    make_member(other_org, "carol@acme.example")
    sso_jit_set(org=saml_world.org, enabled=True, actor=None)
    request = saml_world.start()
    carol = Person("carol@acme.example", "carol@acme.example")
    assert saml_world.post(saml_world.respond(carol, request)).status_code == 403
    assert "not a member of this organization" in reason()
    assert (
        not User.objects.get(email="carol@acme.example")
        .memberships.filter(org=saml_world.org)
        .exists()
    )


def test_jit_creates_an_active_member_with_the_mapped_name(saml_world):
    sso_jit_set(org=saml_world.org, enabled=True, actor=None)
    request = saml_world.start()
    grace = Person("grace@acme.example", "grace@acme.example", "Grace", "Hopper")
    assert saml_world.post(saml_world.respond(grace, request)).status_code == 302
    user = User.objects.get(email="grace@acme.example")
    assert user.full_name == "Grace Hopper" and not user.has_usable_password()
    membership = user.memberships.get()
    assert (membership.role, membership.source, membership.is_active) == ("member", "sso", True)


def test_a_deactivated_member_cannot_sign_in_with_saml(saml_world):
    added = membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    membership_deactivate(membership=added.membership, actor=None)
    request = saml_world.start()
    assert saml_world.post(saml_world.respond(ADA, request)).status_code == 403
    assert signed_in_as(saml_world.client) is None
    assert "deactivated" in reason()


def test_idp_initiated_sign_in_when_the_org_allows_it(saml_world):
    membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    sso_saml_settings_set(org=saml_world.org, attributes={}, allow_idp_initiated=True, actor=None)
    response = saml_world.post(saml_world.respond(ADA, None), relay_state="/o/acme/me/")
    assert response.status_code == 302 and response["Location"] == "/o/acme/me/"
    assert signed_in_as(saml_world.client).email == "ada@acme.example"


def test_certificate_rollover_trusts_two_keys_then_only_the_new_one(saml_world, evil_keys):
    membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    rolled = TestIdp(
        sp_metadata=sp_metadata(saml_world.org), entity_id=saml_world.idp.entity_id, keys=evil_keys
    )
    sso_saml_configure(
        org=saml_world.org,
        metadata_xml=rolled.metadata(),
        keep_previous_certificate=True,
        actor=None,
    )
    assert len(SsoConnection.objects.get(org=saml_world.org).idp_certificates) == 2
    for idp in (saml_world.idp, rolled):  # both keys sign in during the rollover
        client = Client()
        request = saml_world.start(client)
        xml = idp.respond(ADA, in_response_to=request["id"], acs=ACS, audience=ENTITY_ID)
        assert saml_world.post(xml, client=client).status_code == 302
    sso_saml_configure(org=saml_world.org, metadata_xml=rolled.metadata(), actor=None)
    client = Client()
    request = saml_world.start(client)
    xml = saml_world.idp.respond(ADA, in_response_to=request["id"], acs=ACS, audience=ENTITY_ID)
    assert saml_world.post(xml, client=client).status_code == 403  # the old key, dropped


def test_bad_metadata_is_refused_and_changes_nothing(saml_world):
    before = SsoConnection.objects.get(org=saml_world.org)
    events = AuditEvent.objects.count()
    for xml, message in [
        ("<not-xml", "not well-formed"),
        ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DOCTYPE"),
        ("<x/>", "not SAML metadata"),
        (f'<md:EntityDescriptor xmlns:md="{MD}" entityID="e"/>', "no IdP"),
    ]:
        with pytest.raises(SsoFailure, match=message):
            sso_saml_configure(org=saml_world.org, metadata_xml=xml, actor=None)
    after = SsoConnection.objects.get(org=saml_world.org)
    assert (after.idp_entity_id, after.idp_certificates, after.version) == (
        before.idp_entity_id,
        before.idp_certificates,
        before.version,
    )
    assert AuditEvent.objects.count() == events


def test_saml_test_connection_shows_what_the_idp_sent_and_signs_nobody_in(saml_world):
    admin_client = Client()
    admin_client.force_login(saml_world.admin.user)
    request = saml_world.start(admin_client, test=True)
    response = saml_world.post(saml_world.respond(ADA, request), client=admin_client)
    assert response.status_code == 302 and "/settings/sso/test/" in response["Location"]
    page = admin_client.get(response["Location"]).content.decode()
    assert "Failed" in page and "no account for ada@acme.example" in page.lower()
    assert SsoConnection.objects.get(org=saml_world.org).saml_tested_at is None
    assert AuditEvent.objects.filter(action="sso.test_failed").exists()

    membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    request = saml_world.start(admin_client, test=True)
    response = saml_world.post(saml_world.respond(ADA, request), client=admin_client)
    page = admin_client.get(response["Location"]).content.decode()
    assert "Succeeded" in page and "would link to ada@acme.example" in page
    assert "firstName" in page and "Engineering" in page
    assert SsoConnection.objects.get(org=saml_world.org).saml_tested_at is not None
    assert not SsoIdentity.objects.exists()
    assert not AuditEvent.objects.filter(action="sso.login_succeeded").exists()


def test_a_test_failure_explains_the_reason_on_the_result_page(saml_world):
    admin_client = Client()
    admin_client.force_login(saml_world.admin.user)
    request = saml_world.start(admin_client, test=True)
    xml = saml_world.respond(ADA, request, sha1=True)
    response = saml_world.post(xml, client=admin_client)
    page = admin_client.get(response["Location"]).content.decode()
    assert "Failed" in page and "RSA-SHA256" in page


def test_only_sso_admins_can_start_a_test(saml_world, member_client):
    assert member_client.get("/sso/saml/acme/login/?test=1").status_code == 403
    assert Client().get("/sso/saml/acme/login/?test=1").status_code == 403


def test_another_orgs_test_result_is_not_readable(saml_world, other_org, make_member):
    admin_client = Client()
    admin_client.force_login(saml_world.admin.user)
    request = saml_world.start(admin_client, test=True)
    location = saml_world.post(saml_world.respond(ADA, request), client=admin_client)["Location"]
    outsider = make_member(other_org, "boss@globex.example", "admin")
    client = Client()
    client.force_login(outsider.user)
    assert client.get(location.replace("/o/acme/", "/o/globex/")).status_code == 404


def test_unknown_org_and_unconfigured_sso_are_404(saml_world, other_org):
    assert Client().get("/sso/saml/nope/login/").status_code == 404
    assert Client().post("/sso/saml/nope/acs/", {"SAMLResponse": "x"}).status_code == 404
    assert Client().get("/sso/saml/globex/login/").status_code == 404
    assert Client().get("/sso/oidc/globex/login/").status_code == 404


def test_a_response_for_one_org_is_refused_at_another_orgs_acs(saml_world, other_org):
    sp = sp_metadata(other_org)
    globex_idp = TestIdp(sp_metadata=sp, entity_id="http://www.okta.com/globex")
    sso_saml_configure(org=other_org, metadata_xml=globex_idp.metadata(), actor=None)
    membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    request = saml_world.start()
    xml = saml_world.respond(ADA, request)  # signed by Acme's IdP, for Acme's SP
    response = Client().post("/sso/saml/globex/acs/", {"SAMLResponse": b64(xml)})
    assert response.status_code == 403
    event = assert_audited("sso.login_failed")
    assert event.org_id == other_org.pk


def test_saml_idp_set_command_prints_json_and_configures_the_org(org, idp_keys, tmp_path):
    import json
    from io import StringIO

    from django.core.management import call_command

    sp = sp_metadata(org)
    idp = TestIdp(sp_metadata=sp, keys=idp_keys)
    path = tmp_path / "okta.xml"
    path.write_text(idp.metadata())
    out = StringIO()
    call_command(
        "saml_idp_set",
        "acme",
        "--metadata",
        str(path),
        "--base-url",
        "https://gov.example",
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert printed["idp_entity_id"] == idp.entity_id
    assert printed["sp"]["acs_url"] == "https://gov.example/sso/saml/acme/acs/"
    assert len(printed["idp_certificates"]) == 1
    assert SsoConnection.objects.get(org=org).idp_sso_url == idp.sso_url
    event = assert_audited("sso.config_changed")
    assert event.actor_label == "manage.py saml_idp_set"


def test_saml_idp_set_command_fails_in_json_for_bad_input(org, tmp_path, capsys):
    from django.core.management import call_command

    bad = tmp_path / "bad.xml"
    bad.write_text("<x/>")
    for argv in (
        ["nope", "--metadata", str(bad)],
        ["acme", "--metadata", str(tmp_path / "x")],
        ["acme", "--metadata", str(bad)],
    ):
        with pytest.raises(SystemExit) as exit_info:
            call_command("saml_idp_set", *argv)
        assert exit_info.value.code == 2
        assert '"error"' in capsys.readouterr().err
    assert not SsoConnection.objects.filter(org=org).exclude(idp_entity_id="").exists()


def test_without_next_a_member_lands_on_their_access_page_and_an_admin_on_the_overview(
    saml_world,
):
    membership_add(org=saml_world.org, email="ada@acme.example", actor=None)
    request = saml_world.start()
    response = saml_world.post(saml_world.respond(ADA, request))
    assert response["Location"] == "/o/acme/me/"
    admin = Person("admin@acme.example", "admin@acme.example")
    client = Client()
    request = saml_world.start(client)
    response = saml_world.post(saml_world.respond(admin, request), client=client)
    assert response["Location"] == "/o/acme/"


def test_jit_refuses_a_malformed_email_with_a_reason_not_a_server_error(saml_world):
    sso_jit_set(org=saml_world.org, enabled=True, actor=None)
    request = saml_world.start()
    odd = Person("00u-odd", "not valid@acme.example")
    assert saml_world.post(saml_world.respond(odd, request)).status_code == 403
    assert "not a valid e-mail address" in reason()
    assert not User.objects.filter(email__icontains="not valid").exists()
