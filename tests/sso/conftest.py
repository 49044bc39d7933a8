from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from orgs.models import Membership, Organization
from sso.models import SsoConnection
from sso.services.config import sso_connection_ensure, sso_protocol_set, sso_saml_configure
from tests.conftest import verified_domains
from tests.sso.saml_idp import Person, TestIdp, b64, key_pair

ACS = "http://testserver/sso/saml/acme/acs/"
ENTITY_ID = "http://testserver/sso/saml/acme/metadata/"


def sp_metadata(org: Organization, client: Client | None = None) -> str:
    """Our SP metadata, as an admin downloads it once SSO is set up (the first save on the SSO
    page makes the connection and its signing key pair; a GET makes nothing)."""
    sso_connection_ensure(org=org, actor=None)
    return (client or Client()).get(f"/sso/saml/{org.slug}/metadata/").content.decode()


@pytest.fixture(scope="session")
def idp_keys() -> tuple[str, str]:
    return key_pair("okta test idp")


@pytest.fixture(scope="session")
def evil_keys() -> tuple[str, str]:
    return key_pair("attacker")


@dataclass
class SamlWorld:
    org: Organization
    admin: Membership
    idp: TestIdp
    client: Client

    @property
    def conn(self) -> SsoConnection:
        return SsoConnection.objects.get(org=self.org)

    def start(self, client: Client | None = None, next_path: str = "", test: bool = False) -> dict:
        """SP-initiated: our login URL → signed AuthnRequest at the IdP (read by the IdP)."""
        query = []
        if next_path:
            query.append(f"next={next_path}")
        if test:
            query.append("test=1")
        url = "/sso/saml/acme/login/" + ("?" + "&".join(query) if query else "")
        response = (client or self.client).get(url)
        assert response.status_code == 302, response.content[:500]
        assert response["Location"].startswith(self.idp.sso_url)
        return self.idp.read_request(response["Location"])

    def respond(self, person: Person, request: dict | None, **kwargs: Any) -> str:
        return self.idp.respond(
            person,
            in_response_to=request["id"] if request else None,
            acs=kwargs.pop("acs", ACS),
            audience=kwargs.pop("audience", ENTITY_ID),
            **kwargs,
        )

    def post(self, xml: str | bytes, relay_state: str = "", client: Client | None = None) -> Any:
        data = {"SAMLResponse": b64(xml)}
        if relay_state:
            data["RelayState"] = relay_state
        return (client or self.client).post("/sso/saml/acme/acs/", data)


@pytest.fixture
def saml_world(org: Organization, admin: Membership, idp_keys: tuple[str, str]) -> SamlWorld:
    idp = TestIdp(sp_metadata=sp_metadata(org), keys=idp_keys)
    sso_saml_configure(org=org, metadata_xml=idp.metadata(), actor=admin.user)
    verified_domains(org, ["acme.example"])
    sso_protocol_set(org=org, protocol="saml", actor=admin.user)
    return SamlWorld(org=org, admin=admin, idp=idp, client=Client())


ADA = Person(name_id="ada@acme.example", email="ada@acme.example")
