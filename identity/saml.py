"""The SAML 2.0 service provider of each organization, on pysaml2.

pysaml2 verifies signatures (with xmlsec1, against the IdP certificates we trust) and parses
the response. It does not refuse everything a hostile response can do, so `validate_response`
wraps it in checks of its own, before and after:

- before: size, base64, UTF-8, no DOCTYPE/entities, no comments, CDATA or processing
  instructions (a comment inside a NameID survives exclusive canonicalisation, so the signature
  still verifies while a naive reader sees another name), and the shape: one Response holding
  exactly one Assertion, every ID unique, every Signature a direct child of the element it signs
  and referencing exactly that element, SHA-256 or better. That shape refuses all eight XML
  signature wrapping (XSW) variants before any signature is looked at.
- after: a signature was verified, Destination and Recipient are our ACS URL, the Audience is
  our entity ID, NotBefore/NotOnOrAfter hold with at most two minutes of skew, InResponseTo
  names a request we sent (or the org allows IdP-initiated sign-in), and the assertion ID was
  never used before (remembered in the cache until it expires).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from defusedxml import ElementTree as DefusedET
from defusedxml.common import DefusedXmlException
from django.core.cache import cache
from django.utils import timezone
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from governance import crypto
from identity.exceptions import SsoFailure

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

MAX_SKEW = dt.timedelta(seconds=120)
MAX_RESPONSE_BYTES = 256 * 1024
REQUEST_TTL = 600  # seconds an SP-initiated request stays answerable
STRONG_SIGNATURES = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}
STRONG_DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
}
ALLOWED_TRANSFORMS = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
}


# --- Our side: URLs, key pair, metadata -----------------------------------------------------


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


def sp_metadata_xml(conn: Any, urls: SpUrls) -> str:
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


def _parse_defused(xml: bytes, what: str) -> Element:
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
    root = _parse_defused(raw, "metadata")
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


# --- pysaml2 clients, cached per org and version ------------------------------------------


class _NoIdentityCache:
    """pysaml2 keeps every subject it has seen in memory; we keep nothing there."""

    def set(self, *args: Any, **kwargs: Any) -> None:
        return None


_clients: dict[int, tuple[tuple[int, str, str], Saml2Client]] = {}
_clients_lock = threading.Lock()
_key_dir: str | None = None


def _private_dir() -> str:
    """A 0700 directory of this process for the key files xmlsec1 reads."""
    global _key_dir
    if _key_dir is None:
        _key_dir = tempfile.mkdtemp(prefix="governance-saml-")
        os.chmod(_key_dir, 0o700)
    return _key_dir


def _write_private(name: str, content: str) -> str:
    path = os.path.join(_private_dir(), name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
    return path


def client_for(conn: Any, urls: SpUrls) -> Saml2Client:
    """The org's pysaml2 client, built once per (org, config version, base URL)."""
    # The version changes on every edit; the digest also covers what the client is built from,
    # so a reused org id (a restored database, a test run) never meets a stale client.
    digest = hashlib.sha256(
        "\0".join(
            [conn.idp_entity_id, conn.idp_sso_url, *conn.idp_certificates, conn.sp_certificate]
        ).encode()
    ).hexdigest()
    stamp = (conn.version, urls.entity_id, digest)
    with _clients_lock:
        hit = _clients.get(conn.org_id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    tag = hashlib.sha256(f"{conn.org_id}:{digest}".encode()).hexdigest()
    key_file = _write_private(f"{tag[:24]}.key", crypto.decrypt(conn.sp_private_key))
    cert_file = _write_private(f"{tag[:24]}.crt", conn.sp_certificate)
    config = SPConfig()
    config.load(
        {
            "entityid": urls.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": key_file,
            "cert_file": cert_file,
            "metadata": {
                "inline": [
                    idp_metadata_xml(conn.idp_entity_id, conn.idp_sso_url, conn.idp_certificates)
                ]
            },
            "accepted_time_diff": int(MAX_SKEW.total_seconds()),
            "allow_unknown_attributes": True,
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(urls.acs, BINDING_HTTP_POST)]},
                    "allow_unsolicited": True,  # our own InResponseTo check runs first
                    "authn_requests_signed": True,
                    "want_response_signed": False,
                    "want_assertions_signed": False,
                    "want_assertions_or_response_signed": True,
                    "only_use_keys_in_metadata": True,
                    "signing_algorithm": SIG_RSA_SHA256,
                    "digest_algorithm": DIGEST_SHA256,
                    "name_id_format": NAMEID_FORMAT_UNSPECIFIED,
                    "name_id_format_allow_create": True,
                }
            },
        }
    )
    client = Saml2Client(config, identity_cache=_NoIdentityCache())
    with _clients_lock:
        _clients[conn.org_id] = (stamp, client)
    return client


# --- SP-initiated requests ------------------------------------------------------------------


def _request_key(org_id: int, request_id: str) -> str:
    digest = hashlib.sha256(request_id.encode()).hexdigest()
    return f"sso:saml:request:{org_id}:{digest}"


BROWSER_COOKIE = "gov_saml"  # digests of the requests this browser started (login CSRF guard)


def request_digest(request_id: str) -> str:
    return hashlib.sha256(f"saml-request\0{request_id}".encode()).hexdigest()[:32]


def browser_cookie_value(current: str, request_id: str) -> str:
    """The cookie after starting `request_id`: the five most recent digests."""
    digests = [d for d in current.split(".") if re.fullmatch(r"[0-9a-f]{32}", d)][-4:]
    return ".".join([*digests, request_digest(request_id)])


def browser_started(cookie: str, request_id: str) -> bool:
    return request_digest(request_id) in cookie.split(".")


def authn_request_create(conn: Any, urls: SpUrls, *, state: dict[str, Any]) -> tuple[str, str]:
    """A signed AuthnRequest (HTTP-Redirect, RSA-SHA256); returns (request ID, the IdP URL to
    send the browser to). `state` (next path, test mode) is kept server-side under the ID."""
    client = client_for(conn, urls)
    request_id, info = client.prepare_for_authenticate(
        entityid=conn.idp_entity_id,
        relay_state=state.get("next") or "/",
        binding=BINDING_HTTP_REDIRECT,
        sign=True,
        sigalg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    cache.set(_request_key(conn.org_id, request_id), state, REQUEST_TTL)
    return request_id, dict(info["headers"])["Location"]


def request_consume(org_id: int, request_id: str) -> dict[str, Any] | None:
    """The state of an outstanding request, once: a second answer to it finds nothing."""
    key = _request_key(org_id, request_id)
    state = cache.get(key)
    if state is None or not cache.delete(key):
        return None
    return state


# --- Responses -----------------------------------------------------------------------------


@dataclass
class SamlResult:
    issuer: str
    name_id: str
    name_id_format: str
    attributes: dict[str, list[str]]
    assertion_id: str
    in_response_to: str
    not_on_or_after: dt.datetime | None = None
    state: dict[str, Any] = field(default_factory=dict)


def decode_response(saml_response: str) -> bytes:
    if not saml_response:
        raise SsoFailure("The POST carried no SAMLResponse.")
    if len(saml_response) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise SsoFailure("The SAMLResponse is larger than 256 KB.")
    try:
        return base64.b64decode(saml_response, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise SsoFailure("The SAMLResponse is not base64.") from exc


def precheck(xml: bytes) -> Element:
    """The checks that need no key: encoding, no DTD, no comments, the one safe shape."""
    try:
        text = xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SsoFailure("The response is not UTF-8 XML.") from exc
    decl = re.match(r"\s*<\?xml[^>]*\?>", text)
    if decl and re.search(r"encoding\s*=\s*['\"](?!utf-8['\"])", decl.group(0), re.IGNORECASE):
        raise SsoFailure("The response declares an encoding other than UTF-8.")
    body = text[decl.end() :] if decl else text
    if "<!DOCTYPE" in body.upper() or "<!ENTITY" in body.upper():
        raise SsoFailure("The response contains a DOCTYPE or entity declarations (XXE), refused.")
    if "<!--" in body:
        raise SsoFailure(
            "The response contains an XML comment; signatures do not cover comments, so a "
            "comment can change what a field says without breaking the signature."
        )
    if "<![CDATA[" in body or "<?" in body:
        raise SsoFailure("The response contains CDATA or processing instructions, refused.")
    root = _parse_defused(xml, "response")
    _shape_check(root)
    return root


def _shape_check(root: Element) -> None:
    if root.tag != f"{{{SAMLP}}}Response":
        raise SsoFailure("The document is not a samlp:Response.")
    parents = {child: parent for parent in root.iter() for child in parent}
    ids = [e.get("ID") for e in root.iter() if e.get("ID") is not None]
    if len(ids) != len(set(ids)):
        raise SsoFailure("Two elements share one ID (a signature-wrapping attack), refused.")
    if sum(1 for _ in root.iter(f"{{{SAMLP}}}Response")) != 1:
        raise SsoFailure("The response contains another Response (signature wrapping), refused.")
    if any(True for _ in root.iter(f"{{{SAML}}}EncryptedAssertion")):
        raise SsoFailure(
            "The assertion is encrypted; we do not decrypt assertions. Turn off assertion "
            "encryption in the IdP app (the connection is TLS-protected end to end)."
        )
    assertions = list(root.iter(f"{{{SAML}}}Assertion"))
    if len(assertions) != 1:
        raise SsoFailure(
            f"The response holds {len(assertions)} assertions; exactly one is accepted "
            "(more is the shape of a signature-wrapping attack)."
        )
    assertion = assertions[0]
    if parents.get(assertion) is not root:
        raise SsoFailure("The assertion is not a direct child of the Response, refused.")
    signatures = list(root.iter(f"{{{DS}}}Signature"))
    if not signatures:
        raise SsoFailure("Neither the response nor the assertion is signed.")
    for sig in signatures:
        parent = parents.get(sig)
        if parent not in (root, assertion):
            raise SsoFailure("A signature sits outside the Response or Assertion it must sign.")
        if sig.find(f"{{{DS}}}Object") is not None:
            raise SsoFailure("A signature carries an Object element (signature wrapping).")
        refs = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        if len(refs) != 1 or refs[0].get("URI") != f"#{parent.get('ID')}":
            raise SsoFailure("A signature does not reference exactly the element it sits in.")
        method = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
        algorithm = method.get("Algorithm") if method is not None else None
        if algorithm not in STRONG_SIGNATURES:
            raise SsoFailure(
                f"The signature uses {algorithm or 'no algorithm'}; SHA-1 and weaker are "
                "refused. Set the IdP app's signature algorithm to RSA-SHA256."
            )
        for digest in sig.iter(f"{{{DS}}}DigestMethod"):
            if digest.get("Algorithm") not in STRONG_DIGESTS:
                raise SsoFailure(
                    f"The signature digest is {digest.get('Algorithm')}; SHA-1 is refused. "
                    "Set the IdP app's digest algorithm to SHA256."
                )
        for transform in sig.iter(f"{{{DS}}}Transform"):
            if transform.get("Algorithm") not in ALLOWED_TRANSFORMS:
                raise SsoFailure(
                    f"The signature uses the transform {transform.get('Algorithm')}, refused."
                )


def clock() -> dt.datetime:
    """The SP's clock (the tests move it to check the validity window)."""
    return timezone.now()


def _when(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SsoFailure(f"The response carries an unreadable time {value!r}.") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _semantic_check(root: Element, conn: Any, urls: SpUrls, now: dt.datetime) -> dict[str, Any]:
    """Destination, issuer, Recipient, Audience and time, on the (one, signed) assertion."""
    destination = root.get("Destination")
    if destination != urls.acs:
        raise SsoFailure(
            f"The response's Destination is {destination or 'missing'}; it must be our ACS URL "
            f"{urls.acs}. Check the Single sign-on URL in the IdP app."
        )
    assertion = root.find(f"{{{SAML}}}Assertion")
    issuer = (assertion.findtext(f"{{{SAML}}}Issuer") or "").strip()
    if issuer != conn.idp_entity_id:
        raise SsoFailure(
            f"The assertion was issued by {issuer or 'nobody'}, not by the configured IdP "
            f"{conn.idp_entity_id}."
        )
    response_issuer = root.findtext(f"{{{SAML}}}Issuer")
    if response_issuer is not None and response_issuer.strip() != conn.idp_entity_id:
        raise SsoFailure(f"The response was issued by {response_issuer.strip()}, not our IdP.")
    confirmations = [
        c.find(f"{{{SAML}}}SubjectConfirmationData")
        for c in assertion.iter(f"{{{SAML}}}SubjectConfirmation")
        if c.get("Method") == BEARER
    ]
    if not confirmations or any(c is None for c in confirmations):
        raise SsoFailure("The assertion has no bearer SubjectConfirmation.")
    for data in confirmations:
        if data.get("Recipient") != urls.acs:
            raise SsoFailure(
                f"The SubjectConfirmation Recipient is {data.get('Recipient') or 'missing'}; it "
                f"must be our ACS URL {urls.acs}."
            )
        if data.get("InResponseTo") and data.get("InResponseTo") != root.get("InResponseTo"):
            raise SsoFailure(
                "The SubjectConfirmation answers another request than the response does."
            )
        until = _when(data.get("NotOnOrAfter"))
        if until is None or now >= until + MAX_SKEW:
            raise SsoFailure("The assertion's SubjectConfirmation has expired.")
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    if conditions is None:
        raise SsoFailure("The assertion has no Conditions (no audience, no validity window).")
    not_before = _when(conditions.get("NotBefore"))
    not_after = _when(conditions.get("NotOnOrAfter"))
    if not_before is not None and now + MAX_SKEW < not_before:
        raise SsoFailure(
            f"The assertion is not valid before {not_before.isoformat()} (more than two minutes "
            "ahead of our clock). Check the IdP's clock."
        )
    if not_after is None or now >= not_after + MAX_SKEW:
        raise SsoFailure("The assertion has expired (NotOnOrAfter is past).")
    restrictions = conditions.findall(f"{{{SAML}}}AudienceRestriction")
    if not restrictions:
        raise SsoFailure("The assertion names no Audience.")
    for restriction in restrictions:
        audiences = [(a.text or "").strip() for a in restriction.findall(f"{{{SAML}}}Audience")]
        if urls.entity_id not in audiences:
            raise SsoFailure(
                f"The assertion's Audience is {', '.join(audiences) or 'empty'}; it must be our "
                f"entity ID {urls.entity_id}. Check the Audience URI in the IdP app."
            )
    ends = [t for t in [not_after, *(_when(c.get("NotOnOrAfter")) for c in confirmations)] if t]
    return {
        "assertion_id": assertion.get("ID") or "",
        "in_response_to": root.get("InResponseTo") or "",
        "not_on_or_after": min(ends) if ends else None,
    }


def response_inspect(saml_response: str) -> tuple[bytes, Element]:
    xml = decode_response(saml_response)
    return xml, precheck(xml)


def validate_response(
    conn: Any, urls: SpUrls, xml: bytes, root: Element, *, outstanding: dict[str, Any] | None
) -> SamlResult:
    """Everything after the shape check: the signature (pysaml2 + xmlsec1), then ours."""
    now = clock()
    facts = _semantic_check(root, conn, urls, now)
    client = client_for(conn, urls)
    encoded = base64.b64encode(xml).decode()
    queries = {facts["in_response_to"]: "/"} if outstanding is not None else {}
    try:
        parsed = client.parse_authn_request_response(encoded, BINDING_HTTP_POST, queries)
    except SsoFailure:
        raise
    except Exception as exc:
        raise SsoFailure(_explain(exc)) from exc
    if parsed is None or parsed.assertion is None:
        # pysaml2 answers some failures with an empty result instead of raising.
        raise SsoFailure("The response could not be verified (pysaml2 found no valid assertion).")
    if not (parsed.response.signature is not None or parsed.assertion.signature is not None):
        raise SsoFailure("Neither the response nor the assertion is signed.")
    name_id = parsed.assertion.subject.name_id if parsed.assertion.subject else None
    if name_id is None or not (name_id.text or "").strip():
        raise SsoFailure("The assertion has no NameID.")
    if parsed.assertion.id != facts["assertion_id"]:
        raise SsoFailure("The verified assertion is not the one in the document, refused.")
    attributes: dict[str, list[str]] = {}
    for statement in parsed.assertion.attribute_statement:
        for attribute in statement.attribute:
            values = [str(v.text).strip() for v in attribute.attribute_value if v.text]
            attributes.setdefault(attribute.name, []).extend(values)
            # URI-named attributes (urn:oid:…) are also found by their FriendlyName.
            if attribute.friendly_name and attribute.friendly_name != attribute.name:
                attributes.setdefault(attribute.friendly_name, []).extend(values)
    return SamlResult(
        issuer=conn.idp_entity_id,
        name_id=name_id.text.strip(),
        name_id_format=name_id.format or NAMEID_FORMAT_UNSPECIFIED,
        attributes=attributes,
        assertion_id=facts["assertion_id"],
        in_response_to=facts["in_response_to"],
        not_on_or_after=facts["not_on_or_after"],
    )


def assertion_remember(org_id: int, result: SamlResult) -> bool:
    """Remember the assertion ID until it expires; False if it was seen before (a replay)."""
    digest = hashlib.sha256(f"{result.issuer}\0{result.assertion_id}".encode()).hexdigest()
    ttl = 600
    if result.not_on_or_after is not None:
        left = (result.not_on_or_after + MAX_SKEW - clock()).total_seconds()
        ttl = max(60, int(left) + 1)
    return bool(cache.add(f"sso:saml:assertion:{org_id}:{digest}", 1, ttl))


def _explain(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc).strip()
    if name in {"SignatureError", "BadSignature", "IncorrectlySigned", "XmlsecError"}:
        return (
            "The signature does not verify against the IdP certificate(s) we trust: the "
            "response was changed after signing, or signed by another key."
        )
    if name == "MissingKey":
        return "We trust no certificate of this IdP; upload its metadata again."
    if name.startswith("Status"):
        return f"The IdP reported a failure: {text or name}."
    if name in {"ResponseLifetimeExceed", "ToEarly"}:
        return "The response is outside its validity window."
    return f"The response could not be validated ({name}{': ' + text[:200] if text else ''})."
