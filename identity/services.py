"""Writes about people and their sign-ins. Each audits itself in the same transaction."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import ActorKind, AuditAction
from audit.services import AuditActor, SystemActor, audit_record
from governance import crypto
from governance.exceptions import Conflict, ValidationFailed
from identity.exceptions import SsoFailure
from identity.models import User, UserSession, normalize_email
from identity.selectors import user_by_email


def clean_email(email: str) -> str:
    value = normalize_email(email)
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ValidationFailed(
            f"{email!r} is not a valid e-mail address (expected name@example.com).",
            field="email",
        ) from exc
    return value


def generate_password() -> str:
    return secrets.token_urlsafe(15)


@transaction.atomic
def user_create(
    *,
    email: str,
    full_name: str = "",
    password: str | None = None,
    password_change_required: bool = False,
    actor: AuditActor | None,
    org: object | None = None,
) -> User:
    email = clean_email(email)
    if User.objects.filter(email__lower=email.lower()).exists():
        raise Conflict(f"A user with the e-mail {email} already exists.", field="email")
    return user_insert(
        email=email,
        full_name=full_name,
        password=password,
        password_change_required=password_change_required,
        actor=actor,
        org=org,
    )


def user_insert(
    *,
    email: str,
    full_name: str = "",
    password: str | None = None,
    password_change_required: bool = False,
    actor: AuditActor | None,
    org: object | None = None,
) -> User:
    """The write of `user_create`, for a service that already holds the transaction and has
    looked the e-mail up itself (no second lookup, no savepoint). A concurrent insert of the
    same e-mail still ends in `Conflict` from the unique index, and the caller rolls back."""
    email = clean_email(email)
    full_name = " ".join(full_name.split())[:200]
    user = User(email=email, full_name=full_name, password_change_required=password_change_required)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        user.save()
    except IntegrityError as exc:  # a concurrent create of the same e-mail
        raise Conflict(f"A user with the e-mail {email} already exists.", field="email") from exc
    audit_record(
        action=AuditAction.USER_CREATED,
        org=org,
        actor=actor,
        target=user,
        data={"new": {"email": email, "full_name": full_name}},
    )
    return user


@transaction.atomic
def user_set_password(*, user: User, password: str, actor: AuditActor | None) -> User:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="password") from exc
    user = User.objects.select_for_update().get(pk=user.pk)
    user.set_password(password)
    user.password_change_required = False
    user.save(update_fields=["password", "password_change_required"])
    for org in _orgs_for_event(user):
        audit_record(action=AuditAction.USER_PASSWORD_SET, org=org, actor=actor, target=user)
    return user


@transaction.atomic
def session_revoke_all(
    *, user: User, actor: AuditActor | None, org: object | None, reason: str
) -> int:
    """End every session of the user at once (deactivation, credential compromise)."""
    keys = list(
        UserSession.objects.select_for_update()
        .filter(user=user)
        .values_list("session_key", flat=True)
    )
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(user=user).delete()
    if keys:
        audit_record(
            action=AuditAction.SESSIONS_REVOKED,
            org=org,
            actor=actor,
            target=user,
            data={"count": len(keys), "reason": reason},
        )
    return len(keys)


@transaction.atomic
def session_track(*, user: User, session_key: str, ip: str | None, user_agent: str) -> None:
    UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={"user": user, "ip": ip, "user_agent": user_agent[:512]},
    )


@transaction.atomic
def login_record_success(*, user: User, session_key: str | None, method: str = "password") -> None:
    from audit.context import current_context

    ctx = current_context()
    if session_key:
        session_track(user=user, session_key=session_key, ip=ctx.ip, user_agent=ctx.user_agent)
    if method in ("saml", "oidc"):
        return  # sso_sign_in recorded SSO_LOGIN_SUCCEEDED in the org the IdP belongs to
    for org in _orgs_for_event(user):
        audit_record(
            action=AuditAction.LOGIN_SUCCEEDED,
            org=org,
            actor=user,
            target=user,
            data={"method": method},
        )


@transaction.atomic
def login_record_failure(*, email: str, reason: str, method: str = "password") -> None:
    """A failed sign-in, in the audit log of every org the e-mail belongs to (or in no org's log
    when the e-mail is unknown). The caller's answer to the browser does not depend on which."""
    email = normalize_email(email)[:254]
    user = user_by_email(email) if email else None
    override = (ActorKind.ANONYMOUS, "", email or "(no e-mail)")
    orgs: Iterable[object] = _orgs_for_event(user) if user else [None]
    for org in orgs or [None]:
        audit_record(
            action=AuditAction.LOGIN_FAILED,
            org=org,
            actor=None,
            actor_override=override,
            target=user,
            target_type="user" if user is None else "",
            target_label=email if user is None else "",
            data={"method": method, "reason": reason},
        )


@transaction.atomic
def logout_record(*, user: User, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
    for org in _orgs_for_event(user):
        audit_record(action=AuditAction.LOGOUT, org=org, actor=user, target=user)


def _orgs_for_event(user: User) -> list[object]:
    from governance.models import Organization

    return list(Organization.objects.filter(memberships__user=user))


@transaction.atomic
def sessions_clear_expired(*, batch: int = 10_000) -> int:
    """Housekeeping: drop expired sessions and their tracking rows, one bounded batch a run.
    Not audited: nobody changed anything; expiry had already ended these sessions."""

    keys = list(
        Session.objects.filter(expire_date__lt=timezone.now()).values_list(
            "session_key", flat=True
        )[:batch]
    )
    UserSession.objects.filter(session_key__in=keys).delete()
    Session.objects.filter(session_key__in=keys).delete()
    return len(keys)


# --- single sign-on -------------------------------------------------------------------------
# Configuration writes, the sign-in decision (who is this?), and the audit of every outcome.


@transaction.atomic
def sso_connection_ensure(*, org: Any, actor: AuditActor | None) -> Any:
    """The org's SSO connection; created on first use with its own SAML signing key pair (the
    SP metadata is needed before anything else: the IdP app is created from it)."""
    from identity import saml
    from identity.models import SsoConnection

    conn = SsoConnection.objects.filter(org=org).first()
    if conn is not None:
        return conn
    key_pem, cert_pem = saml.sp_keypair_generate(f"governance SP {org.slug}")
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


def _sso_lock(org: Any, actor: AuditActor | None = None) -> Any:
    """The org's SSO connection, created on first use and locked for the change."""
    from identity.models import SsoConnection

    sso_connection_ensure(org=org, actor=actor)
    return SsoConnection.objects.select_for_update().get(org=org)


def _sso_changed(conn: Any, *, actor: AuditActor | None, changes: dict[str, Any]) -> None:
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
    org: Any,
    metadata_xml: str | bytes,
    keep_previous_certificate: bool = False,
    actor: AuditActor | None,
) -> Any:
    """Trust an IdP from its metadata. With `keep_previous_certificate`, the certificate trusted
    until now stays trusted beside the new one (rollover: at most two at once)."""
    from identity import saml

    parsed = saml.idp_metadata_parse(metadata_xml)
    conn = _sso_lock(org, actor)
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
            [saml.certificate_summary(c)["sha256"] for c in conn.idp_certificates],
            [saml.certificate_summary(c)["sha256"] for c in certificates],
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
    _sso_changed(conn, actor=actor, changes=changes)
    return conn


SAML_ATTRIBUTE_FIELDS = ("attr_email", "attr_first_name", "attr_last_name", "attr_groups")


@transaction.atomic
def sso_saml_settings_set(
    *,
    org: Any,
    attributes: dict[str, str],
    allow_idp_initiated: bool,
    actor: AuditActor | None,
) -> Any:
    """Attribute names (email, first and last name, groups) and IdP-initiated sign-in."""
    conn = _sso_lock(org, actor)
    changes: dict[str, Any] = {}
    for name in SAML_ATTRIBUTE_FIELDS:
        value = " ".join(str(attributes.get(name, getattr(conn, name)) or "").split())[:300]
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
        _sso_changed(conn, actor=actor, changes=changes)
    return conn


def server_fetch_check(url: str, *, what: str) -> None:
    """A URL this server will fetch (discovery, token, keys, userinfo) must be https:// and
    resolve only to public addresses: an org admin must not make us read the cloud metadata
    service or an internal host (SSRF). GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS admits an IdP on a
    private network; GOVERNANCE_SSO_ALLOW_HTTP_ISSUERS admits http:// (the tests' loopback)."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    from django.conf import settings

    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.SSO_ALLOW_HTTP_ISSUERS):
        raise ValidationFailed(f"The {what} {url!r} must be an https:// URL.", field="issuer")
    if settings.SSO_ALLOW_PRIVATE_ISSUERS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443)
    except (OSError, UnicodeError) as exc:
        raise ValidationFailed(
            f"The host of the {what} ({parts.hostname}) does not resolve.", field="issuer"
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global:
            raise ValidationFailed(
                f"The {what} {url!r} resolves to {address}, a private or local address; we "
                "do not fetch from those. For an IdP on your own network, set "
                "GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS=1.",
                field="issuer",
            )


def oidc_discover(issuer: str) -> dict[str, str]:
    """The provider's endpoints from `<issuer>/.well-known/openid-configuration`. Read when the
    admin saves the issuer, so a typo fails on the settings page, not at the first sign-in."""
    import requests
    from django.conf import settings
    from django.core.validators import URLValidator

    issuer = issuer.strip().rstrip("/")
    try:
        URLValidator(schemes=["https", "http"])(issuer)
    except ValidationError as exc:
        raise ValidationFailed(f"{issuer!r} is not a URL.", field="issuer") from exc
    if issuer.startswith("http://") and not settings.SSO_ALLOW_HTTP_ISSUERS:
        raise ValidationFailed(
            "The issuer must be an https:// URL (for example https://acme.okta.com).",
            field="issuer",
        )
    server_fetch_check(issuer, what="issuer")
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=5, allow_redirects=False)
        response.raise_for_status()
        doc = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ValidationFailed(
            f"Could not read the discovery document at {url} ({type(exc).__name__}). Check the "
            "issuer URL: for Okta it is https://<your-domain>.okta.com or "
            "https://<your-domain>.okta.com/oauth2/<authorization-server-id>.",
            field="issuer",
        ) from exc
    if not isinstance(doc, dict) or str(doc.get("issuer", "")).rstrip("/") != issuer:
        raise ValidationFailed(
            f"The discovery document at {url} names the issuer {doc.get('issuer')!r}, not "
            f"{issuer!r}; use exactly the issuer it names.",
            field="issuer",
        )
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [k for k in needed if not isinstance(doc.get(k), str) or not doc.get(k)]
    if missing:
        raise ValidationFailed(
            f"The discovery document lacks {', '.join(missing)}.", field="issuer"
        )
    for key in ("token_endpoint", "jwks_uri", "userinfo_endpoint"):  # fetched by this server
        if doc.get(key):
            server_fetch_check(str(doc[key]), what=key)
    algs = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
    sign_alg = "RS256" if "RS256" in algs else next((a for a in algs if a != "none"), "RS256")
    return {
        "issuer": str(doc["issuer"]),
        "authorization_endpoint": doc["authorization_endpoint"],
        "token_endpoint": doc["token_endpoint"],
        "jwks_uri": doc["jwks_uri"],
        "userinfo_endpoint": str(doc.get("userinfo_endpoint") or ""),
        "sign_alg": sign_alg,
    }


def sso_oidc_configure(
    *,
    org: Any,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    actor: AuditActor | None,
) -> Any:
    """Save the OIDC client. Discovery runs first, outside the transaction (it is a network
    call); `client_secret=None` keeps the stored secret (it is never shown again)."""
    client_id = client_id.strip()
    if not client_id or len(client_id) > 300:
        raise ValidationFailed("Enter the client ID of the OIDC app.", field="client_id")
    discovered = oidc_discover(issuer)
    return _sso_oidc_store(
        org=org, discovered=discovered, client_id=client_id, secret=client_secret, actor=actor
    )


@transaction.atomic
def _sso_oidc_store(
    *,
    org: Any,
    discovered: dict[str, str],
    client_id: str,
    secret: str | None,
    actor: AuditActor | None,
) -> Any:
    conn = _sso_lock(org, actor)
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
    _sso_changed(conn, actor=actor, changes=changes)
    return conn


@transaction.atomic
def sso_protocol_set(*, org: Any, protocol: str, actor: AuditActor | None) -> Any:
    """Which protocol members sign in with ('' turns SSO sign-in off)."""
    from identity.choices import SsoProtocol

    if protocol not in ("", *SsoProtocol.values):
        raise ValidationFailed(f"Unknown protocol {protocol!r}: use saml or oidc.")
    conn = _sso_lock(org, actor)
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
    _sso_changed(conn, actor=actor, changes={"protocol": [before, protocol]})
    return conn


@transaction.atomic
def sso_jit_set(*, org: Any, enabled: bool, actor: AuditActor | None) -> Any:
    conn = _sso_lock(org, actor)
    if conn.jit_enabled == bool(enabled):
        return conn
    conn.jit_enabled = bool(enabled)
    _sso_changed(conn, actor=actor, changes={"jit_enabled": [not enabled, bool(enabled)]})
    return conn


DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@transaction.atomic
def sso_domains_set(*, org: Any, domains: Iterable[str], actor: AuditActor | None) -> Any:
    """The e-mail domains the org claims: sign-in sends them to its IdP; JIT and e-mail linking
    accept only them. A domain another org claims is refused (one IdP per domain)."""
    from identity.models import SsoDomain

    wanted: list[str] = []
    for raw in domains:
        domain = raw.strip().lower().lstrip("@")
        if not domain:
            continue
        if not DOMAIN_RE.match(domain):
            raise ValidationFailed(f"{raw!r} is not a domain (e.g. acme.com).", field="domains")
        if domain not in wanted:
            wanted.append(domain)
    if len(wanted) > 50:
        raise ValidationFailed("At most 50 domains.", field="domains")
    conn = _sso_lock(org, actor)
    taken = list(
        SsoDomain.objects.filter(domain__in=wanted)
        .exclude(org=org)
        .values_list("domain", flat=True)
    )
    if taken:
        raise Conflict(
            f"{', '.join(sorted(taken))} is claimed by another organization.", field="domains"
        )
    before = sorted(SsoDomain.objects.filter(org=org).values_list("domain", flat=True))
    if before == sorted(wanted):
        return conn
    SsoDomain.objects.filter(org=org).exclude(domain__in=wanted).delete()
    try:
        with transaction.atomic():
            SsoDomain.objects.bulk_create(
                [SsoDomain(org=org, domain=d) for d in wanted if d not in before]
            )
    except IntegrityError as exc:  # claimed concurrently by another org
        raise Conflict("A domain was just claimed by another organization.") from exc
    _sso_changed(conn, actor=actor, changes={"domains": [before, sorted(wanted)]})
    return conn


@transaction.atomic
def sso_require_set(*, org: Any, required: bool, actor: AuditActor | None) -> Any:
    """Require SSO: refused until the chosen protocol has passed a test login, so a typo in the
    IdP settings cannot lock the organization out."""
    conn = _sso_lock(org, actor)
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


@dataclass
class SsoAssertion:
    """What the IdP said about someone, after every protocol check passed."""

    protocol: str
    issuer: str
    subject: str
    email: str
    email_verified: bool
    first_name: str = ""
    last_name: str = ""
    groups: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def summary(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "issuer": self.issuer,
            "subject": self.subject,
            "email": self.email,
        }


def _email_trusted(org: Any, assertion: SsoAssertion) -> bool:
    """An asserted e-mail links or creates an account only when the IdP vouches for it (OIDC
    email_verified) and its domain is one the org claims."""
    from identity.models import SsoDomain

    if not assertion.email or not assertion.email_verified or "@" not in assertion.email:
        return False
    domain = assertion.email.rsplit("@", 1)[1]
    return SsoDomain.objects.filter(org=org, domain=domain).exists()


def sso_resolve(*, org: Any, assertion: SsoAssertion) -> tuple[Any, Any | None, str]:
    """Read-only: (user or None, identity or None, plan) where plan is 'known', 'link' or 'jit';
    or SsoFailure with the reason. Shared by sign-in and Test connection."""
    from governance.models import Membership
    from identity.models import SsoConnection, SsoIdentity

    identity = (
        SsoIdentity.objects.select_related("user")
        .filter(org=org, issuer=assertion.issuer, subject=assertion.subject)
        .first()
    )
    if identity is not None:
        user, plan = identity.user, "known"
    else:
        if not _email_trusted(org, assertion):
            raise SsoFailure(
                f"First sign-in of {assertion.subject!r}: its e-mail {assertion.email or '(none)'} "
                "is not verified by the IdP or not in a domain this organization claims, so it "
                "cannot be linked to an account. Add the domain under SSO → Domains."
            )
        user = user_by_email(assertion.email)
        if user is not None:
            other = SsoIdentity.objects.filter(org=org, issuer=assertion.issuer, user=user).first()
            if other is not None:
                raise SsoFailure(
                    f"{assertion.email} is already linked to another subject ({other.subject!r}) "
                    f"of this IdP; the IdP now says {assertion.subject!r}. Refused, so one "
                    "person cannot sign in as another by sharing an e-mail address."
                )
            if not Membership.objects.filter(org=org, user=user).exists():
                raise SsoFailure(
                    f"An account for {assertion.email} exists but is not a member of this "
                    "organization; an admin must add it first (JIT only creates new accounts)."
                )
            plan = "link"
        else:
            conn = SsoConnection.objects.filter(org=org).first()
            if conn is None or not conn.jit_enabled:
                raise SsoFailure(
                    f"No account for {assertion.email}, and just-in-time provisioning is off. "
                    "Add the person (or provision them by SCIM), or turn JIT on."
                )
            plan = "jit"
    if user is not None:
        membership = Membership.objects.filter(org=org, user=user).first()
        if not user.is_active or membership is None or not membership.is_active:
            raise SsoFailure(f"The membership of {user.email} in this organization is deactivated.")
    return user, identity, plan


@transaction.atomic
def sso_sign_in(*, org: Any, assertion: SsoAssertion) -> Any:
    """The person the IdP vouched for, linked or created as needed, with the audit of it."""
    from governance.choices import MembershipSource
    from governance.services import membership_insert
    from identity.models import SsoIdentity

    user, identity, plan = sso_resolve(org=org, assertion=assertion)
    door = SystemActor(f"SSO ({assertion.protocol})")
    if plan == "jit":
        added = membership_insert(
            org=org,
            user=None,
            email=assertion.email,
            full_name=assertion.full_name,
            source=MembershipSource.SSO,
            actor=door,
            set_password=False,
        )
        user = added.membership.user
    if identity is None:
        try:
            with transaction.atomic():
                identity = SsoIdentity.objects.create(
                    org=org, issuer=assertion.issuer, subject=assertion.subject, user=user
                )
        except IntegrityError as exc:  # the same first sign-in, twice at once
            raise SsoFailure("This sign-in was just linked by a parallel request; retry.") from exc
        audit_record(
            action=AuditAction.SSO_IDENTITY_LINKED,
            org=org,
            actor=door,
            target=user,
            data={**assertion.summary(), "how": plan},
        )
    identity.last_login_at = timezone.now()
    identity.save(update_fields=["last_login_at"])
    audit_record(
        action=AuditAction.SSO_LOGIN_SUCCEEDED,
        org=org,
        actor=user,
        target=user,
        data={**assertion.summary(), "groups": assertion.groups[:50]},
    )
    return user


@transaction.atomic
def sso_failure_record(
    *, org: Any | None, protocol: str, reason: str, test: bool = False, detail: dict | None = None
) -> Any:
    """One audited failure with its reason, in plain words (sign-in or test)."""
    action = AuditAction.SSO_TEST_FAILED if test else AuditAction.SSO_LOGIN_FAILED
    return audit_record(
        action=action,
        org=org,
        actor=None,
        actor_override=(ActorKind.ANONYMOUS, "", "identity provider"),
        target=org if org is not None else None,
        data={"protocol": protocol, "reason": reason[:1000], **(detail or {})},
    )


@transaction.atomic
def sso_test_succeeded(
    *, org: Any, protocol: str, tester: Any, assertion: SsoAssertion, outcome: str
) -> Any:
    """Record a passing test login: this is what unlocks Require SSO for the protocol."""
    conn = _sso_lock(org, tester)
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


def break_glass_orgs(user: Any) -> list[Any]:
    """Orgs requiring SSO in which this user is an active admin (password still allowed)."""
    from governance.models import Membership

    return [
        m.org
        for m in Membership.objects.select_related("org").filter(
            user=user, is_active=True, role="admin", org__sso__require_sso=True
        )
    ]


def password_blocked_by_sso(user: Any) -> bool:
    """True when every active membership of the user is in an org that requires SSO and in which
    they are not an admin: a password would open nothing."""
    from governance.models import Membership

    active = Membership.objects.filter(user=user, is_active=True)
    open_doors = active.exclude(org__sso__require_sso=True) | active.filter(role="admin")
    return active.exists() and not open_doors.exists()


@transaction.atomic
def break_glass_record(*, user: Any, orgs: list[Any]) -> None:
    for org in orgs:
        audit_record(
            action=AuditAction.SSO_BREAK_GLASS_LOGIN,
            org=org,
            actor=user,
            target=user,
            data={"method": "password", "reason": "admin password sign-in while SSO is required"},
        )
