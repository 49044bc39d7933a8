"""SAML metadata, both sides: ours (the URLs, the per-organization signing key pair and the SP
metadata an admin gives the IdP) and the IdP's (entity ID, sign-in URL and signing certificates,
parsed from the metadata an admin uploads), and the defused XML parse both share."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from defusedxml import ElementTree as DefusedET
from defusedxml.common import DefusedXmlException
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS

from sso.exceptions import SsoFailure
from sso.models import SsoConnection

DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"


@dataclass(frozen=True)
class SpUrls:
    entity_id: str
    acs: str
    metadata: str
    login: str


def sp_urls(base_url: str, slug: str) -> SpUrls:
    """The SP's URLs. The entity ID is the metadata URL (what Okta and Entra expect)."""
    root = f"{base_url.rstrip('/')}/sso/saml/{slug}"
    return SpUrls(
        entity_id=f"{root}/metadata/",
        acs=f"{root}/acs/",
        metadata=f"{root}/metadata/",
        login=f"{root}/login/",
    )


def sp_keypair_generate(common_name: str) -> tuple[str, str]:
    """(private key PEM, self-signed certificate PEM) for signing our AuthnRequests."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def pem_body(pem: str) -> str:
    """The base64 of a PEM certificate, on one line (as metadata carries it)."""
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


def sp_metadata_xml(conn: SsoConnection, urls: SpUrls) -> str:
    cert = pem_body(conn.sp_certificate)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" '
        f'entityID="{_attr(urls.entity_id)}">\n'
        '  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
        '    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n"
        f"    <md:NameIDFormat>{NAMEID_FORMAT_EMAILADDRESS}</md:NameIDFormat>\n"
        f'    <md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" '
        f'Location="{_attr(urls.acs)}" index="0" isDefault="true"/>\n'
        "  </md:SPSSODescriptor>\n"
        "</md:EntityDescriptor>\n"
    )


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


# --- The IdP's side: metadata ---------------------------------------------------------------


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    certificates: list[str]  # base64 DER, signing certificates


def parse_defused(xml: bytes, what: str) -> Element:
    """The XML's root element; a DOCTYPE, entities or malformed XML is an SsoFailure."""
    try:
        return DefusedET.fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise SsoFailure(f"The {what} contains a DOCTYPE or entities (XXE), refused.") from exc
    except Exception as exc:
        raise SsoFailure(f"The {what} is not well-formed XML ({exc}).") from exc


def idp_metadata_parse(xml: str | bytes) -> IdpMetadata:
    """Entity ID, SSO URL (HTTP-Redirect, else HTTP-POST) and signing certificates of an IdP's
    metadata, or SsoFailure saying what is missing."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if len(raw) > 1024 * 1024:
        raise SsoFailure("The metadata file is larger than 1 MB; is it the right file?")
    root = parse_defused(raw, "metadata")
    if root.tag == f"{{{MD}}}EntitiesDescriptor":
        found = root.findall(f"{{{MD}}}EntityDescriptor")
        candidates = [e for e in found if e.find(f"{{{MD}}}IDPSSODescriptor") is not None]
        if len(candidates) != 1:
            raise SsoFailure(
                "The metadata lists several entities; upload the metadata of your one IdP app."
            )
        root = candidates[0]
    if root.tag != f"{{{MD}}}EntityDescriptor":
        raise SsoFailure("This is not SAML metadata: its root is not an md:EntityDescriptor.")
    entity_id = (root.get("entityID") or "").strip()
    idp = root.find(f"{{{MD}}}IDPSSODescriptor")
    if not entity_id or idp is None:
        raise SsoFailure("The metadata has no IdP entity ID or no IDPSSODescriptor.")
    sso_urls = {
        s.get("Binding"): (s.get("Location") or "").strip()
        for s in idp.findall(f"{{{MD}}}SingleSignOnService")
    }
    sso_url = sso_urls.get(BINDING_HTTP_REDIRECT) or sso_urls.get(BINDING_HTTP_POST) or ""
    if not sso_url.startswith(("https://", "http://")):
        raise SsoFailure("The metadata has no SingleSignOnService with an HTTP-Redirect URL.")
    certs: list[str] = []
    for kd in idp.findall(f"{{{MD}}}KeyDescriptor"):
        if kd.get("use") not in (None, "", "signing"):
            continue
        for node in kd.iter(f"{{{DS}}}X509Certificate"):
            body = re.sub(r"\s+", "", node.text or "")
            if body and body not in certs:
                certificate_check(body)
                certs.append(body)
    if not certs:
        raise SsoFailure("The metadata has no signing certificate (KeyDescriptor use=signing).")
    if len(certs) > 2:
        raise SsoFailure(
            f"The metadata has {len(certs)} signing certificates; we trust at most two at once."
        )
    return IdpMetadata(entity_id=entity_id, sso_url=sso_url, certificates=certs)


def certificate_check(body: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(body, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise SsoFailure("A certificate in the metadata is not a valid X.509 certificate.") from exc


def certificate_summary(body: str) -> dict[str, str]:
    cert = certificate_check(body)
    return {
        "subject": cert.subject.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.date().isoformat(),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    }


def idp_metadata_xml(entity_id: str, sso_url: str, certificates: list[str]) -> str:
    """Metadata for pysaml2 built from what we trust, so the trusted keys are exactly ours."""
    keys = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certificates
    )
    return (
        f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{_attr(entity_id)}">'
        '<md:IDPSSODescriptor WantAuthnRequestsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{keys}"
        f'<md:SingleSignOnService Binding="{BINDING_HTTP_REDIRECT}" Location="{_attr(sso_url)}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
