"""The SAML attack suite. Every response is genuinely signed by pysaml2's own IdP
(`saml2.server.Server`), tampered with after signing, and posted to the real ACS URL. Each one
must be refused: no session, and an audited failure whose reason names what was wrong."""

from __future__ import annotations

import base64
import datetime as dt
from copy import deepcopy
from xml.etree import ElementTree as ET

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgs.services.members import membership_add
from sso import saml
from sso.services.config import sso_saml_settings_set
from tests.conftest import assert_audited
from tests.sso.conftest import ACS, ADA, ENTITY_ID, sp_metadata
from tests.sso.saml_idp import DS, SAML, SAMLP, Person, TestIdp

pytestmark = pytest.mark.django_db

ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
ET.register_namespace("xs", "http://www.w3.org/2001/XMLSchema")
EVE = Person(name_id="eve@acme.example", email="eve@acme.example", first_name="Eve")


@pytest.fixture
def people(saml_world):
    """Ada (the victim) and Eve (the attacker, who can get responses signed for herself)."""
    for email in ("ada@acme.example", "eve@acme.example"):
        membership_add(org=saml_world.org, email=email, actor=None)
    return saml_world


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode())


def dump(root: ET.Element) -> str:
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode")


def q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{ {'samlp': SAMLP, 'saml': SAML, 'ds': DS}[prefix] } }}{local}".replace(" ", "")


def set_name_id(element: ET.Element, value: str) -> None:
    for node in element.iter(q("saml:NameID")):
        node.text = value
    for attribute in element.iter(q("saml:Attribute")):
        if attribute.get("Name") == "email":
            for v in attribute.iter(q("saml:AttributeValue")):
                v.text = value


def unsigned_copy(
    element: ET.Element, *, evil_id: str | None = None, name_id: str = ""
) -> ET.Element:
    """A copy without its signature; with `evil_id` and `name_id`, the attacker's version."""
    copy = deepcopy(element)
    copy.remove(copy.find(q("ds:Signature")))
    if evil_id:
        copy.set("ID", evil_id)
    if name_id:
        set_name_id(copy, name_id)
    return copy


def assert_refused(world, response, *reason_parts: str, succeeded_before: int = 0) -> str:
    assert response.status_code == 403, response.status_code
    assert "_auth_user_id" not in world.client.session
    assert AuditEvent.objects.filter(action="sso.login_succeeded").count() == succeeded_before
    event = assert_audited("sso.login_failed", org_id=world.org.pk)
    reason = event.data["reason"]
    for part in reason_parts:
        assert part.lower() in reason.lower(), reason
    assert str(event.pk) in response.content.decode()  # the reference the browser is shown
    return reason


def assert_signed_in_as(world, response, email: str) -> None:
    assert response.status_code == 302, response.content[:300]
    from identity.models import User

    assert world.client.session["_auth_user_id"] == str(User.objects.get(email=email).pk)


# --- controls: the tampering tools themselves do not break a signature -------------------


def test_a_signed_response_round_tripped_through_the_tamper_tools_still_signs_in(people):
    request = people.start()
    xml = dump(parse(people.respond(EVE, request)))
    assert_signed_in_as(people, people.post(xml), "eve@acme.example")


def test_a_response_signed_on_the_response_element_signs_in(people):
    request = people.start()
    xml = dump(parse(people.respond(EVE, request, sign_response=True, sign_assertion=False)))
    assert_signed_in_as(people, people.post(xml), "eve@acme.example")


# --- signatures -------------------------------------------------------------------------


def test_missing_signature_is_refused(people):
    request = people.start()
    xml = people.respond(EVE, request, sign_response=False, sign_assertion=False)
    assert_refused(people, people.post(xml), "neither the response nor the assertion is signed")


def test_stripped_signature_is_refused(people):
    request = people.start()
    root = parse(people.respond(EVE, request))
    assertion = root.find(q("saml:Assertion"))
    assertion.remove(assertion.find(q("ds:Signature")))
    assert_refused(
        people, people.post(dump(root)), "neither the response nor the assertion is signed"
    )


def test_value_changed_after_signing_is_refused(people):
    request = people.start()
    root = parse(people.respond(EVE, request))
    set_name_id(root.find(q("saml:Assertion")), "ada@acme.example")
    assert_refused(people, people.post(dump(root)), "signature does not verify")


def test_response_signed_by_an_untrusted_key_is_refused(people, evil_keys):
    impostor = TestIdp(
        sp_metadata=sp_metadata(people.org, people.client),
        entity_id=people.idp.entity_id,
        keys=evil_keys,
    )
    request = people.start()
    xml = impostor.respond(ADA, in_response_to=request["id"], acs=ACS, audience=ENTITY_ID)
    assert_refused(people, people.post(xml), "signature does not verify")


def test_sha1_signature_is_refused(people):
    request = people.start()
    xml = people.respond(EVE, request, sha1=True)
    assert_refused(people, people.post(xml), "sha-1")


# --- XML signature wrapping, the eight variants SAML Raider builds ----------------------


def _response_signed(world):
    request = world.start()
    return parse(world.respond(EVE, request, sign_response=True, sign_assertion=False))


def _assertion_signed(world):
    request = world.start()
    return parse(world.respond(EVE, request))


def test_xsw1_evil_response_with_the_signed_original_inside_its_signature(people):
    original = _response_signed(people)
    evil = deepcopy(original)
    signature = evil.find(q("ds:Signature"))
    evil.set("ID", "_evil-response")
    set_name_id(evil, "ada@acme.example")
    inner = unsigned_copy(original)
    ET.SubElement(signature, q("ds:Object")).append(inner)
    assert_refused(people, people.post(dump(evil)), "wrapping")


def test_xsw2_evil_response_with_the_signed_original_as_a_detached_sibling(people):
    original = _response_signed(people)
    evil = deepcopy(original)
    evil.set("ID", "_evil-response")
    set_name_id(evil, "ada@acme.example")
    inner = unsigned_copy(original)
    position = list(evil).index(evil.find(q("ds:Signature")))
    evil.insert(position, inner)
    assert_refused(people, people.post(dump(evil)), "wrapping")


def test_xsw3_evil_assertion_before_the_signed_one(people):
    root = _assertion_signed(people)
    signed = root.find(q("saml:Assertion"))
    evil = unsigned_copy(signed, evil_id="_evil-assertion", name_id="ada@acme.example")
    root.insert(list(root).index(signed), evil)
    assert_refused(people, people.post(dump(root)), "wrapping")


def test_xsw4_signed_assertion_wrapped_inside_an_evil_one(people):
    root = _assertion_signed(people)
    signed = root.find(q("saml:Assertion"))
    evil = unsigned_copy(signed, evil_id="_evil-assertion", name_id="ada@acme.example")
    root.remove(signed)
    evil.append(signed)
    root.append(evil)
    assert_refused(people, people.post(dump(root)), "wrapping")


def test_xsw5_changed_signed_assertion_plus_an_unsigned_copy_of_the_original(people):
    root = _assertion_signed(people)
    signed = root.find(q("saml:Assertion"))
    copy = unsigned_copy(signed)
    set_name_id(signed, "ada@acme.example")
    root.append(copy)
    assert_refused(people, people.post(dump(root)), "wrapping")


def test_xsw6_original_copy_inside_the_signature_of_the_changed_assertion(people):
    root = _assertion_signed(people)
    signed = root.find(q("saml:Assertion"))
    copy = unsigned_copy(signed)
    set_name_id(signed, "ada@acme.example")
    signed.find(q("ds:Signature")).append(copy)
    assert_refused(people, people.post(dump(root)), "wrapping")


def test_xsw7_signed_original_hidden_in_extensions_beside_an_evil_assertion(people):
    root = _assertion_signed(people)
    signed = root.find(q("saml:Assertion"))
    evil = unsigned_copy(signed, evil_id="_evil-assertion", name_id="ada@acme.example")
    root.remove(signed)
    extensions = ET.Element(q("samlp:Extensions"))
    extensions.append(signed)
    root.insert(1, extensions)
    root.append(evil)
    assert_refused(people, people.post(dump(root)), "wrapping")


def test_xsw8_original_in_an_object_of_the_changed_assertions_signature(people):
    root = _assertion_signed(people)
    signed = root.find(q("saml:Assertion"))
    copy = unsigned_copy(signed)
    set_name_id(signed, "ada@acme.example")
    ET.SubElement(signed.find(q("ds:Signature")), q("ds:Object")).append(copy)
    assert_refused(people, people.post(dump(root)), "wrapping")


# --- what the assertion says --------------------------------------------------------------


def test_comment_injected_into_the_name_id_is_refused(people):
    # Eve controls ada@acme.example.evil.test at the IdP; a comment would make a naive SP read
    # "ada@acme.example" while exclusive c14n (without comments) keeps the signature valid.
    request = people.start()
    crafty = Person(name_id="ada@acme.example.evil.test", email="ada@acme.example.evil.test")
    xml = people.respond(crafty, request).replace(
        "ada@acme.example.evil.test</saml:NameID>",
        "ada@acme.example<!---->.evil.test</saml:NameID>",
    )
    assert "<!---->" in xml
    assert_refused(people, people.post(xml), "comment")


def test_wrong_audience_is_refused(people):
    request = people.start()
    xml = people.respond(EVE, request, audience="https://another-sp.example/metadata/")
    assert_refused(people, people.post(xml), "audience")


def test_wrong_destination_is_refused(people):
    request = people.start()
    root = parse(people.respond(EVE, request))  # the assertion is signed, Destination is not
    root.set("Destination", "https://evil.example/acs/")
    assert_refused(people, people.post(dump(root)), "destination")


def test_wrong_recipient_is_refused(people):
    request = people.start()
    root = parse(people.respond(EVE, request, acs="https://evil.example/acs/"))
    root.set("Destination", ACS)  # only the signed Recipient is wrong now
    assert_refused(people, people.post(dump(root)), "recipient")


@pytest.mark.parametrize(
    ("sp_clock_moved", "reason"),
    [(dt.timedelta(minutes=10), "expired"), (dt.timedelta(minutes=-5), "not valid before")],
    ids=["expired", "not-yet-valid"],
)
def test_response_outside_its_time_window_is_refused(people, monkeypatch, sp_clock_moved, reason):
    request = people.start()
    xml = people.respond(EVE, request)
    moved = saml.clock() + sp_clock_moved
    monkeypatch.setattr(saml, "clock", lambda: moved)
    assert_refused(people, people.post(xml), reason)


def test_two_minutes_of_clock_skew_are_tolerated(people, monkeypatch):
    request = people.start()
    xml = people.respond(EVE, request)
    earlier = saml.clock() - dt.timedelta(seconds=100)
    monkeypatch.setattr(saml, "clock", lambda: earlier)
    assert_signed_in_as(people, people.post(xml), "eve@acme.example")


def test_unknown_in_response_to_is_refused(people):
    people.start()
    xml = people.idp.respond(
        EVE,
        in_response_to="id-we-never-sent-this",
        acs=ACS,
        audience=ENTITY_ID,
    )
    assert_refused(people, people.post(xml), "InResponseTo")


def test_unknown_in_response_to_is_refused_even_when_idp_initiated_is_allowed(people):
    sso_saml_settings_set(
        org=people.org, attributes={}, allow_idp_initiated=True, actor=people.admin.user
    )
    xml = people.idp.respond(EVE, in_response_to="id-forged", acs=ACS, audience=ENTITY_ID)
    assert_refused(people, people.post(xml), "InResponseTo")


def test_replayed_sp_initiated_response_is_refused(people):
    request = people.start()
    xml = people.respond(EVE, request)
    assert_signed_in_as(people, people.post(xml), "eve@acme.example")
    people.client.logout()
    assert_refused(people, people.post(xml), "already answered", succeeded_before=1)


def test_replayed_idp_initiated_response_is_refused(people):
    sso_saml_settings_set(
        org=people.org, attributes={}, allow_idp_initiated=True, actor=people.admin.user
    )
    xml = people.respond(EVE, None)
    assert_signed_in_as(people, people.post(xml), "eve@acme.example")
    people.client.logout()
    assert_refused(people, people.post(xml), "used before", succeeded_before=1)


def test_unsolicited_response_is_refused_when_idp_initiated_is_off(people):
    xml = people.respond(EVE, None)
    assert_refused(people, people.post(xml), "IdP-initiated")


# --- the XML itself -----------------------------------------------------------------------


def test_xxe_external_entity_is_refused(people):
    request = people.start()
    xml = (
        people.respond(EVE, request)
        .replace(
            '<?xml version="1.0"?>',
            '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        )
        .replace("eve@acme.example</saml:NameID>", "&xxe;</saml:NameID>")
    )
    assert_refused(people, people.post(xml), "DOCTYPE")


def test_entity_expansion_is_refused(people):
    request = people.start()
    bomb = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    xml = (
        people.respond(EVE, request)
        .replace('<?xml version="1.0"?>', f'<?xml version="1.0"?>\n<!DOCTYPE r [{bomb}]>')
        .replace("eve@acme.example</saml:NameID>", "&l9;</saml:NameID>")
    )
    assert_refused(people, people.post(xml), "DOCTYPE")


def test_garbage_is_refused_without_a_server_error(people):
    for body in ("", "not base64 !!", base64.b64encode(b"<not-saml/>").decode(), "A" * 10):
        response = people.client.post("/sso/saml/acme/acs/", {"SAMLResponse": body})
        assert response.status_code == 403
    assert AuditEvent.objects.filter(action="sso.login_failed").count() == 4
    assert "_auth_user_id" not in people.client.session


# --- RelayState --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "relay",
    ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"],
)
def test_off_site_relay_state_is_refused(people, relay):
    request = people.start()
    xml = people.respond(EVE, request)
    reason = assert_refused(people, people.post(xml, relay_state=relay), "RelayState")
    assert "not a path on this site" in reason


def test_off_site_next_is_never_sent_as_relay_state(people):
    request = people.start(next_path="https://evil.example/")
    assert request["relay_state"] == "/"


def test_a_response_retargeted_at_another_pending_request_is_refused(people):
    # The assertion (signed) answers request A; the unsigned Response envelope is edited to
    # claim it answers request B, which is also pending.
    first = people.start()
    second = people.start()
    root = parse(people.respond(EVE, first))
    root.set("InResponseTo", second["id"])
    assert_refused(people, people.post(dump(root)), "another request")


def test_a_response_started_in_another_browser_is_refused(people):
    # Login CSRF: Eve starts a sign-in in her own browser, gets the IdP's answer for her own
    # account, and makes Ada's browser post it. Ada's browser never started that request.
    eves_browser = Client()
    request = people.start(eves_browser)
    xml = people.respond(EVE, request)
    assert_refused(people, people.post(xml), "did not start the sign-in")
