"""The SAML 2.0 service provider of each organization, on pysaml2 (its metadata, both sides,
is sso.saml_metadata).

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
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from django.core.cache import cache
from django.utils import timezone
from saml2 import BINDING_HTTP_POST
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED

from sso.exceptions import SsoFailure
from sso.models import SsoConnection
from sso.saml_client import MAX_SKEW, client_for
from sso.saml_metadata import DS, SpUrls, parse_defused

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

MAX_RESPONSE_BYTES = 256 * 1024
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
    root = parse_defused(xml, "response")
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


def _semantic_check(
    root: Element, conn: SsoConnection, urls: SpUrls, now: dt.datetime
) -> dict[str, Any]:
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


def validate_response(
    conn: SsoConnection,
    urls: SpUrls,
    xml: bytes,
    root: Element,
    *,
    outstanding: dict[str, Any] | None,
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
