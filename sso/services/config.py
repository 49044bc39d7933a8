"""Writes of an organization's SSO configuration: the connection and its SAML keys, the IdP's
metadata and attribute mapping, the OIDC client, the protocol, JIT, Require SSO and the result of
a test login. Each locks the connection, audits its change and bumps `version` (which is what
invalidates the parsed configurations cached in each process)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import crypto
from core.actors import Actor
from core.exceptions import ValidationFailed
from core.input import clean_block, clean_line
from orgs.models import Organization
from sso import oidc, saml_metadata
from sso.assertion import SsoAssertion
from sso.choices import SsoProtocol
from sso.exceptions import SsoFailure
from sso.models import SsoConnection


@transaction.atomic
def sso_connection_ensure(*, org: Organization, actor: Actor | None) -> SsoConnection:
    """The org's SSO connection; created on first use with its own SAML signing key pair (the
    SP metadata is needed before anything else: the IdP app is created from it)."""
    conn = SsoConnection.objects.filter(org=org).first()
    if conn is not None:
        return conn
    key_pem, cert_pem = saml_metadata.sp_keypair_generate(f"governance SP {org.slug}")
    try:
        with transaction.atomic():
            conn = SsoConnection.objects.create(
                org=org, sp_private_key=crypto.encrypt(key_pem), sp_certificate=cert_pem
            )
    except IntegrityError:  # created by a parallel request
        return SsoConnection.objects.get(org=org)
    audit_record(
        action=AuditAction.SSO_CONFIG_CHANGED,
        org=org,
        actor=actor,
        target=org,
        data={"changes": {"sp_certificate": "generated"}},
    )
    return conn


def sso_lock(org: Organization, actor: Actor | None = None) -> SsoConnection:
    """The org's SSO connection, created on first use and locked for the change."""
    sso_connection_ensure(org=org, actor=actor)
    return SsoConnection.objects.select_for_update().get(org=org)


def sso_changed(conn: SsoConnection, *, actor: Actor | None, changes: dict[str, Any]) -> None:
    conn.version += 1
    conn.save()
    audit_record(
        action=AuditAction.SSO_CONFIG_CHANGED,
        org=conn.org,
        actor=actor,
        target=conn.org,
        data={"changes": changes},
    )


@transaction.atomic
def sso_saml_configure(
    *,
    org: Organization,
    metadata_xml: str | bytes,
    keep_previous_certificate: bool = False,
    actor: Actor | None,
) -> SsoConnection:
    """Trust an IdP from its metadata. With `keep_previous_certificate`, the certificate trusted
    until now stays trusted beside the new one (rollover: at most two at once)."""
    parsed = saml_metadata.idp_metadata_parse(metadata_xml)
    conn = sso_lock(org, actor)
    certificates = list(parsed.certificates)
    if keep_previous_certificate and conn.idp_certificates:
        for old in conn.idp_certificates:
            if old not in certificates:
                certificates.append(old)
        if len(certificates) > 2:
            raise SsoFailure(
                "We trust at most two IdP signing certificates at once: this metadata already "
                "has two, so the previous one cannot be kept as well.",
                field="metadata",
            )
    changes: dict[str, Any] = {}
    if conn.idp_entity_id != parsed.entity_id:
        changes["idp_entity_id"] = [conn.idp_entity_id, parsed.entity_id]
    if conn.idp_sso_url != parsed.sso_url:
        changes["idp_sso_url"] = [conn.idp_sso_url, parsed.sso_url]
    if conn.idp_certificates != certificates:
        changes["idp_certificates"] = [
            [saml_metadata.certificate_summary(c)["sha256"] for c in conn.idp_certificates],
            [saml_metadata.certificate_summary(c)["sha256"] for c in certificates],
        ]
    if not changes:
        return conn
    conn.idp_metadata_xml = (
        metadata_xml.decode() if isinstance(metadata_xml, bytes) else metadata_xml
    )
    conn.idp_entity_id = parsed.entity_id
    conn.idp_sso_url = parsed.sso_url
    conn.idp_certificates = certificates
    if set(changes) & {"idp_entity_id", "idp_sso_url"}:
        conn.saml_tested_at = None  # a new IdP must pass a test again before Require SSO
    sso_changed(conn, actor=actor, changes=changes)
    return conn


SAML_ATTRIBUTE_FIELDS = ("attr_email", "attr_first_name", "attr_last_name", "attr_groups")


@transaction.atomic
def sso_saml_settings_set(
    *,
    org: Organization,
    attributes: dict[str, str],
    allow_idp_initiated: bool,
    actor: Actor | None,
) -> SsoConnection:
    """Attribute names (email, first and last name, groups) and IdP-initiated sign-in."""
    conn = sso_lock(org, actor)
    changes: dict[str, Any] = {}
    for name in SAML_ATTRIBUTE_FIELDS:
        value = clean_line(
            attributes.get(name, getattr(conn, name)),
            field=name,
            what=f"SAML attribute name ({name.removeprefix('attr_')})",
            max_length=300,
        )
        if name == "attr_email" and not value:
            raise ValidationFailed(
                "The e-mail attribute name cannot be empty (Okta sends 'email').", field=name
            )
        if value != getattr(conn, name):
            changes[name] = [getattr(conn, name), value]
            setattr(conn, name, value)
    if bool(allow_idp_initiated) != conn.allow_idp_initiated:
        changes["allow_idp_initiated"] = [conn.allow_idp_initiated, bool(allow_idp_initiated)]
        conn.allow_idp_initiated = bool(allow_idp_initiated)
    if changes:
        sso_changed(conn, actor=actor, changes=changes)
    return conn


def sso_oidc_configure(
    *,
    org: Organization,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    actor: Actor | None,
) -> SsoConnection:
    """Save the OIDC client. Discovery runs first, outside the transaction (it is a network
    call); `client_secret=None` keeps the stored secret (it is never shown again)."""
    client_id = clean_line(client_id, field="client_id", what="client ID", max_length=300)
    if not client_id:
        raise ValidationFailed("Enter the client ID of the OIDC app.", field="client_id")
    if client_secret is not None:
        client_secret = clean_block(
            client_secret, field="client_secret", what="client secret", max_length=2000
        )
    discovered = oidc.discover(issuer)
    return _sso_oidc_store(
        org=org, discovered=discovered, client_id=client_id, secret=client_secret, actor=actor
    )


@transaction.atomic
def _sso_oidc_store(
    *,
    org: Organization,
    discovered: dict[str, str],
    client_id: str,
    secret: str | None,
    actor: Actor | None,
) -> SsoConnection:
    conn = sso_lock(org, actor)
    if secret is None and not conn.oidc_client_secret:
        raise ValidationFailed("Enter the client secret of the OIDC app.", field="client_secret")
    changes: dict[str, Any] = {}
    fields = {
        "oidc_issuer": discovered["issuer"],
        "oidc_client_id": client_id,
        "oidc_authorization_endpoint": discovered["authorization_endpoint"],
        "oidc_token_endpoint": discovered["token_endpoint"],
        "oidc_jwks_uri": discovered["jwks_uri"],
        "oidc_userinfo_endpoint": discovered["userinfo_endpoint"],
        "oidc_sign_alg": discovered["sign_alg"],
    }
    for name, value in fields.items():
        if getattr(conn, name) != value:
            changes[name] = [getattr(conn, name), value]
            setattr(conn, name, value)
    if secret is not None and (
        not conn.oidc_client_secret or crypto.decrypt(conn.oidc_client_secret) != secret
    ):
        conn.oidc_client_secret = crypto.encrypt(secret)
        changes["oidc_client_secret"] = "changed"  # never the value
    if not changes:
        return conn
    if set(changes) & {"oidc_issuer", "oidc_client_id"}:
        conn.oidc_tested_at = None
    sso_changed(conn, actor=actor, changes=changes)
    return conn


@transaction.atomic
def sso_protocol_set(*, org: Organization, protocol: str, actor: Actor | None) -> SsoConnection:
    """Which protocol members sign in with ('' turns SSO sign-in off)."""
    if protocol not in ("", *SsoProtocol.values):
        raise ValidationFailed(f"Unknown protocol {protocol!r}: use saml or oidc.")
    conn = sso_lock(org, actor)
    if protocol == conn.protocol:
        return conn
    if protocol == "saml" and not conn.saml_ready:
        raise ValidationFailed("Upload the IdP's SAML metadata before choosing SAML.")
    if protocol == "oidc" and not conn.oidc_ready:
        raise ValidationFailed("Save the OIDC issuer and client before choosing OIDC.")
    if conn.require_sso and (not protocol or conn.tested_at(protocol) is None):
        raise ValidationFailed(
            "Require SSO is on: switch to a protocol only after its test login succeeded, or "
            "turn Require SSO off first."
        )
    before, conn.protocol = conn.protocol, protocol
    sso_changed(conn, actor=actor, changes={"protocol": [before, protocol]})
    return conn


@transaction.atomic
def sso_jit_set(*, org: Organization, enabled: bool, actor: Actor | None) -> SsoConnection:
    conn = sso_lock(org, actor)
    if conn.jit_enabled == bool(enabled):
        return conn
    conn.jit_enabled = bool(enabled)
    sso_changed(conn, actor=actor, changes={"jit_enabled": [not enabled, bool(enabled)]})
    return conn


@transaction.atomic
def sso_require_set(*, org: Organization, required: bool, actor: Actor | None) -> SsoConnection:
    """Require SSO: refused until the chosen protocol has passed a test login, so a typo in the
    IdP settings cannot lock the organization out."""
    conn = sso_lock(org, actor)
    if conn.require_sso == bool(required):
        return conn
    if required:
        if not conn.active:
            raise ValidationFailed("Choose and configure a protocol (SAML or OIDC) first.")
        if conn.tested_at(conn.protocol) is None:
            raise ValidationFailed(
                "Run Test connection for this protocol and see it succeed before requiring SSO; "
                "this keeps a typo in the IdP settings from locking everyone out."
            )
    conn.require_sso = bool(required)
    conn.version += 1
    conn.save()
    audit_record(
        action=AuditAction.SSO_REQUIRE_CHANGED,
        org=org,
        actor=actor,
        target=org,
        data={"old": not required, "new": bool(required), "protocol": conn.protocol},
    )
    return conn


@transaction.atomic
def sso_test_succeeded(
    *, org: Organization, protocol: str, tester: Actor, assertion: SsoAssertion, outcome: str
) -> SsoConnection:
    """Record a passing test login: this is what unlocks Require SSO for the protocol."""
    conn = sso_lock(org, tester)
    setattr(conn, f"{protocol}_tested_at", timezone.now())
    conn.save(update_fields=[f"{protocol}_tested_at", "updated_at"])
    audit_record(
        action=AuditAction.SSO_TEST_SUCCEEDED,
        org=org,
        actor=tester,
        target=org,
        data={**assertion.summary(), "outcome": outcome},
    )
    return conn
