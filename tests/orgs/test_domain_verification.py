"""Domain claims are verified by a DNS TXT record (a real DNS server on loopback, the resolver
pointed at it by GOVERNANCE_DNS_RESOLVER): until verified a claim routes nobody and links
nobody; Celery beat's daily re-check suspends a claim whose record is gone (audited); a squatter's
claim locks nobody out; an operator may verify with --skip-dns (audited as such)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from core.exceptions import Conflict, ValidationFailed
from orgs.models import DomainClaim
from orgs.services.domains import domain_verify, domains_recheck, domains_set
from orgs.tasks import domains_recheck_daily
from sso.selectors import sso_route
from sso.services.config import sso_protocol_set, sso_saml_configure
from tests.dns_server import LoopbackDns
from tests.sso.conftest import sp_metadata
from tests.sso.saml_idp import TestIdp

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def dns_zone():
    zone = LoopbackDns()
    yield zone
    zone.stop()


@pytest.fixture
def zone(dns_zone, settings):
    settings.GOVERNANCE_DNS_RESOLVER = dns_zone.address
    settings.GOVERNANCE_DNS_TIMEOUT_SECONDS = 2
    dns_zone.txt.clear()
    dns_zone.queries.clear()
    dns_zone.failing = False
    return dns_zone


@pytest.fixture
def saml_org(org, admin, idp_keys):
    idp = TestIdp(sp_metadata=sp_metadata(org), keys=idp_keys)
    sso_saml_configure(org=org, metadata_xml=idp.metadata(), actor=admin.user)
    sso_protocol_set(org=org, protocol="saml", actor=admin.user)
    return org


def claim(org, domain="acme.example") -> DomainClaim:
    domains_set(org=org, domains=[domain], actor=None)
    return DomainClaim.objects.get(org=org, domain=domain)


def test_a_pending_claim_routes_nobody_until_its_txt_record_is_found(zone, saml_org, admin):
    pending = claim(saml_org)
    assert pending.status == "pending" and pending.txt_value.startswith("governance-verification=")
    assert sso_route("ada@acme.example") is None
    with pytest.raises(ValidationFailed, match="no TXT record"):
        domain_verify(claim=pending, actor=admin.user)
    pending.refresh_from_db()
    assert pending.status == "pending"  # a failed check changes nothing
    zone.txt["acme.example"] = ["v=spf1 -all", pending.txt_value]
    verified = domain_verify(claim=pending, actor=admin.user)
    assert verified.status == "verified" and verified.verified_method == "dns"
    assert sso_route("ada@acme.example") == ("saml", "acme")
    event = AuditEvent.objects.get(action="domain.verified")
    assert event.data["method"] == "dns" and event.actor_label == "admin@acme.example"


def test_the_dashboard_verifies_a_domain(zone, org, admin_client):
    pending = claim(org)
    r = admin_client.post("/o/acme/settings/sso/domains/acme.example/verify/", follow=True)
    assert "Not verified" in r.content.decode()
    zone.txt["acme.example"] = [pending.txt_value]
    page = admin_client.post("/o/acme/settings/sso/domains/acme.example/verify/", follow=True)
    assert "acme.example is verified" in page.content.decode()
    assert 'id="domain-claims"' in page.content.decode()


def test_the_daily_recheck_suspends_a_claim_whose_record_is_gone_and_restores_it(zone, saml_org):
    c = claim(saml_org)
    zone.txt["acme.example"] = [c.txt_value]
    domain_verify(claim=c, actor=None)
    zone.txt["acme.example"] = ["something else"]
    assert domains_recheck_daily() == {
        "checked": 1,
        "verified": 0,
        "suspended": 1,
        "unavailable": 0,
    }
    c.refresh_from_db()
    assert c.status == "suspended" and "no TXT record" in c.check_error
    assert sso_route("ada@acme.example") is None
    suspended = AuditEvent.objects.get(action="domain.suspended")
    assert suspended.org_id == saml_org.pk and suspended.data["domain"] == "acme.example"
    zone.txt["acme.example"] = [c.txt_value]
    assert domains_recheck()["verified"] == 1
    assert sso_route("ada@acme.example") == ("saml", "acme")


def test_a_resolver_outage_never_suspends(zone, org):
    c = claim(org)
    zone.txt["acme.example"] = [c.txt_value]
    domain_verify(claim=c, actor=None)
    zone.failing = True
    assert domains_recheck()["unavailable"] == 1
    c.refresh_from_db()
    assert c.status == "verified" and "DNS" in c.check_error
    with pytest.raises(ValidationFailed, match="DNS"):
        domain_verify(claim=claim(org, "other.example"), actor=None)


def test_a_squatter_cannot_lock_the_owner_out(zone, org, other_org):
    squat = claim(other_org)  # Globex claims acme.example first, and cannot verify it
    with pytest.raises(ValidationFailed):
        domain_verify(claim=squat, actor=None)
    real = claim(org)  # Acme can still claim it
    zone.txt["acme.example"] = [real.txt_value]
    domain_verify(claim=real, actor=None)
    zone.txt["acme.example"].append(squat.txt_value)  # even with its record published later
    with pytest.raises(Conflict, match="verified by another organization"):
        domain_verify(claim=squat, actor=None)


def test_an_unverified_domain_links_nobody_through_scim(zone, org, other_org, make_member, scim):
    make_member(other_org, "ada@acme.example")
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@acme.example",
        "emails": [{"value": "ada@acme.example", "primary": True}],
    }
    assert scim("POST", "/Users", body).status_code == 409
    c = claim(org)
    zone.txt["acme.example"] = [c.txt_value]
    domain_verify(claim=c, actor=None)
    assert scim("POST", "/Users", body).status_code == 201


def test_the_operator_command_verifies_without_dns_and_says_so(zone, org):
    out = io.StringIO()
    call_command("sso_domain_verify", "acme", "acme.example", "--skip-dns", stdout=out)
    assert json.loads(out.getvalue())["status"] == "verified"
    assert zone.queries == []
    event = AuditEvent.objects.get(action="domain.verified")
    assert event.data["method"] == "skip-dns" and event.actor_label.startswith("manage.py")
    assert domains_recheck()["checked"] == 0  # the operator's word is not re-checked by DNS


def test_the_email_first_sign_in_page_sends_nobody_to_an_unverified_idp(zone, saml_org):
    claim(saml_org)
    r = Client().post("/login/", {"email": "ada@acme.example"})
    assert r.status_code == 200 and 'id="id_password"' in r.content.decode()
