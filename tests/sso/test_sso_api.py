"""The SSO settings through /api/v1/sso/: an organization configured end to end by automation
with the same services and checks as the page (Require SSO still needs a passed test login, a
domain routes nobody until its TXT record is found), reading writes nothing, the OIDC secret is
write-only, bad input changes nothing, and another organization's key sees only its own."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgs.services.api_keys import api_key_create
from sso.models import SsoConnection
from sso.selectors import sso_route
from tests.conftest import api
from tests.dns_server import LoopbackDns
from tests.sso.conftest import SamlWorld
from tests.sso.oidc_op import SECRET
from tests.sso.saml_idp import TestIdp
from tests.sso.test_oidc_sso import provider  # noqa: F401  (fixture)
from tests.sso.test_require_sso import passed_test

pytestmark = pytest.mark.django_db

BASE = "/api/v1/sso/"


@pytest.fixture(scope="module")
def dns_zone():
    zone = LoopbackDns()
    yield zone
    zone.stop()


@pytest.fixture
def zone(dns_zone, settings):
    settings.GOVERNANCE_DNS_RESOLVER = dns_zone.address
    dns_zone.txt.clear()
    return dns_zone


def call(key, method, path="", data=None):
    return api(Client(), method, BASE + path, key, data)


def test_reading_writes_nothing(api_key, org):
    r = call(api_key, "GET")
    assert r.status_code == 200
    body = r.json()
    assert body["protocol"] is None and body["domains"] == [] and not body["saml"]["ready"]
    assert body["saml"]["sp"]["acs_url"] == "http://testserver/sso/saml/acme/acs/"
    assert not SsoConnection.objects.exists()


def test_saml_configured_end_to_end_by_automation(api_key, org, admin, idp_keys, zone):
    assert call(api_key, "POST", "start/").json()["saml"]["sp"]["signing_certificate"]
    idp = TestIdp(
        sp_metadata=Client().get("/sso/saml/acme/metadata/").content.decode(), keys=idp_keys
    )
    r = call(api_key, "PUT", "saml/metadata/", {"metadata_xml": idp.metadata()})
    assert r.status_code == 200 and r.json()["saml"]["ready"]
    assert r.json()["saml"]["idp"]["entity_id"] == idp.entity_id
    r = call(
        api_key,
        "PUT",
        "saml/settings/",
        {"attributes": {"groups": "memberOf"}, "allow_idp_initiated": True},
    )
    assert r.json()["saml"]["attributes"]["groups"] == "memberOf"
    assert r.json()["saml"]["attributes"]["email"] == "email"  # left out: kept
    r = call(api_key, "PUT", "domains/", {"domains": ["acme.example"]})
    claim = r.json()["domains"][0]
    assert claim["status"] == "pending" and claim["txt_record"]["value"].startswith(
        "governance-verification="
    )
    assert call(api_key, "POST", "domains/acme.example/verify/").status_code == 400
    zone.txt["acme.example"] = [claim["txt_record"]["value"]]
    assert (
        call(api_key, "POST", "domains/acme.example/verify/").json()["domains"][0]["status"]
        == "verified"
    )
    assert call(api_key, "PUT", "protocol/", {"protocol": "saml"}).json()["protocol"] == "saml"
    assert sso_route("ada@acme.example") == ("saml", "acme")
    assert call(api_key, "PUT", "jit/", {"enabled": True}).json()["jit_enabled"] is True

    refused = call(api_key, "PUT", "require/", {"enabled": True})
    assert refused.status_code == 400 and "Test connection" in refused.json()["error"]["message"]
    assert not SsoConnection.objects.get(org=org).require_sso

    # A real SAML test login by the admin, in a browser session (the page's button).
    passed_test(SamlWorld(org=org, admin=admin, idp=idp, client=Client()))
    r = call(api_key, "PUT", "require/", {"enabled": True})
    assert r.status_code == 200 and r.json()["require_sso"] is True
    assert r.json()["tests"]["saml_passed_at"]
    writes = AuditEvent.objects.filter(actor_kind="api_key", action__startswith="sso.")
    assert writes.count() >= 5


def test_oidc_client_through_the_api_with_a_write_only_secret(api_key, org, provider, settings):  # noqa: F811
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    r = call(
        api_key,
        "PUT",
        "oidc/",
        {"issuer": provider.issuer, "client_id": "gov", "client_secret": SECRET},
    )
    assert r.status_code == 200, r.content
    body = r.json()["oidc"]
    assert body["ready"] and body["client_secret_set"] and body["token_endpoint"]
    assert SECRET not in r.content.decode()
    # Leaving the secret out keeps it.
    r = call(api_key, "PUT", "oidc/", {"issuer": provider.issuer, "client_id": "gov"})
    assert r.status_code == 200 and r.json()["oidc"]["client_secret_set"]


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("PUT", "protocol/", {"protocol": "ldap"}),
        ("PUT", "protocol/", {"protocol": "saml"}),  # not configured yet
        ("PUT", "domains/", {"domains": "acme.example"}),
        ("PUT", "domains/", {"domains": ["not a domain"]}),
        ("PUT", "saml/metadata/", {"metadata_xml": "<nope/>"}),
        ("PUT", "saml/settings/", {"attributes": {"shoe_size": "x"}}),
        ("PUT", "saml/settings/", {"attributes": {"email": "e" * 301}}),
        ("PUT", "jit/", {"enabled": "maybe"}),
        ("PUT", "oidc/", {"issuer": "not a url", "client_id": "gov"}),
        ("POST", "domains/nope.example/verify/", None),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(api_key, org, method, path, data):
    before = (AuditEvent.objects.count(), SsoConnection.objects.count())
    r = call(api_key, method, path, data)
    assert r.status_code in (400, 404), r.content
    assert r.json()["error"]["message"]
    assert (AuditEvent.objects.count(), SsoConnection.objects.count()) == before


def test_another_orgs_key_sees_and_changes_only_its_own(api_key, org, other_org, make_member):
    call(api_key, "PUT", "domains/", {"domains": ["acme.example"]})
    boss = make_member(other_org, "boss@globex.example", "admin")
    _, globex_key = api_key_create(membership=boss, actor=None)
    assert call(globex_key, "GET").json()["domains"] == []
    assert call(globex_key, "POST", "domains/acme.example/verify/").status_code == 404
    assert call(api_key, "GET").json()["domains"][0]["domain"] == "acme.example"


def test_the_sso_api_needs_the_sso_capability(org, member):
    _, key = api_key_create(membership=member, actor=None)
    r = call(key, "GET")
    assert r.status_code == 403 and "admin.sso" in r.json()["error"]["message"]
