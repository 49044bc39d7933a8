"""A real SAML IdP for the tests: pysaml2's own `saml2.server.Server`, with its own key pair.

It reads our SP metadata, answers AuthnRequests with genuinely signed responses, and lets a
test tamper with them after signing.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.etree import ElementTree as ET

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import (
    NAME_FORMAT_UNSPECIFIED,
    NAMEID_FORMAT_EMAILADDRESS,
    NAMEID_FORMAT_PERSISTENT,
    NameID,
)
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from sso.saml_metadata import sp_keypair_generate

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
for prefix, uri in (("samlp", SAMLP), ("saml", SAML), ("ds", DS)):
    ET.register_namespace(prefix, uri)


def key_pair(common_name: str) -> tuple[str, str]:
    """(private key PEM, self-signed certificate PEM): the same generator as our SP's."""
    return sp_keypair_generate(common_name)


@dataclass
class Person:
    name_id: str
    email: str
    first_name: str = "Ada"
    last_name: str = "Lovelace"
    groups: tuple[str, ...] = ("Engineering",)
    name_id_format: str = NAMEID_FORMAT_EMAILADDRESS


class TestIdp:
    """One IdP (entity ID, SSO URL, key pair) that trusts one SP's metadata."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        *,
        sp_metadata: str,
        entity_id: str = "http://www.okta.com/exk-test-idp",
        sso_url: str = "https://acme.okta.example/app/sso/saml",
        keys: tuple[str, str] | None = None,
    ) -> None:
        self.entity_id = entity_id
        self.sso_url = sso_url
        self.key_pem, self.cert_pem = keys or key_pair("test idp")
        self.dir = Path(tempfile.mkdtemp(prefix="test-idp-"))
        (self.dir / "idp.key").write_text(self.key_pem)
        (self.dir / "idp.crt").write_text(self.cert_pem)
        config = IdPConfig()
        config.load(
            {
                "entityid": entity_id,
                "xmlsec_binary": shutil.which("xmlsec1"),
                "key_file": str(self.dir / "idp.key"),
                "cert_file": str(self.dir / "idp.crt"),
                "metadata": {"inline": [sp_metadata]},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (sso_url, BINDING_HTTP_REDIRECT),
                                (sso_url, BINDING_HTTP_POST),
                            ]
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT],
                        # Attribute names as Okta sends them: plain, unspecified name format.
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 5},
                                "name_form": NAME_FORMAT_UNSPECIFIED,
                            }
                        },
                    }
                },
            }
        )
        self.config = config
        self.server = Server(config=config)

    def metadata(self) -> str:
        xml = create_metadata_string(None, config=self.config, sign=False)
        return xml.decode() if isinstance(xml, bytes) else xml

    def read_request(self, location: str) -> dict[str, Any]:
        """The AuthnRequest our SP sent by HTTP-Redirect: its ID, ACS URL and RelayState."""
        query = parse_qs(urlparse(location).query)
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
        root = ET.fromstring(xml)
        return {
            "id": root.get("ID"),
            "acs": root.get("AssertionConsumerServiceURL"),
            "issuer": root.findtext(f"{{{SAML}}}Issuer"),
            "relay_state": query.get("RelayState", [""])[0],
            "signed": "Signature" in query and query.get("SigAlg", [""])[0] == SIG_RSA_SHA256,
            "xml": xml,
        }

    def respond(
        self,
        person: Person,
        *,
        in_response_to: str | None,
        acs: str,
        audience: str,
        sign_response: bool = False,
        sign_assertion: bool = True,
        sha1: bool = False,
    ) -> str:
        """A genuinely signed Response (XML text)."""
        identity = {
            "email": [person.email],
            "firstName": [person.first_name],
            "lastName": [person.last_name],
            "groups": list(person.groups),
        }
        return str(
            self.server.create_authn_response(
                identity=identity,
                in_response_to=in_response_to,
                destination=acs,
                sp_entity_id=audience,
                name_id=NameID(format=person.name_id_format, text=person.name_id),
                authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
                sign_response=sign_response,
                sign_assertion=sign_assertion,
                sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
            )
        )


def b64(xml: str | bytes) -> str:
    return base64.b64encode(xml.encode() if isinstance(xml, str) else xml).decode()
