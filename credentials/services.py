"""Okta OAuth credentials and their services: every change audited in its own transaction, the
client secret write-only and encrypted (core.crypto). Network calls (discovery, the Test grant,
revocations) happen outside any transaction, except a refresh (credentials.tokens), which must
hold its connection's row lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import crypto
from core.actors import Actor
from core.exceptions import Conflict, ValidationFailed
from core.input import clean_line
from credentials import okta
from credentials.choices import BASE_SCOPES
from credentials.models import CredentialService, OktaCredential, ServiceConnection
from credentials.revocations import queue_connection
from orgs.models import Organization
from workspace.decisions import INTEGRATION_SLUGS

MAX_CREDENTIALS = 20  # per organization
MAX_SERVICES = 50  # per credential
MAX_SCOPES = 30
SHOWN = ("name", "okta_domain", "server_id", "client_id")
SERVER_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# Okta's scope names: printable ASCII without spaces, quotes or backslashes.
SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,255}$")


@dataclass
class CredentialSpec:
    name: Any = None
    okta_domain: Any = None
    server_id: Any = None
    client_id: Any = None
    client_secret: Any = None  # None: keep the stored one


def _clean(spec: CredentialSpec, *, creating: bool) -> dict[str, str]:
    out = {
        "name": clean_line(spec.name, field="name", what="name", max_length=100),
        "okta_domain": okta.clean_domain(spec.okta_domain),
        "server_id": clean_line(
            spec.server_id, field="server_id", what="authorization server ID", max_length=100
        ),
        "client_id": clean_line(
            spec.client_id, field="client_id", what="client ID", max_length=255
        ),
    }
    for key, what in (("name", "a name"), ("client_id", "the client ID")):
        if not out[key]:
            raise ValidationFailed(f"{key} is required: {what}.", field=key)
    if not SERVER_ID.match(out["server_id"]):
        raise ValidationFailed(
            "server_id must be the authorization server's ID: letters, digits, - and _ (the "
            "part after /oauth2/ in its Issuer URI, for example aus8x7abc123def or default).",
            field="server_id",
        )
    if spec.client_secret is not None or creating:
        secret = spec.client_secret
        if not isinstance(secret, str) or not secret.strip():
            raise ValidationFailed(
                "client_secret is required: the Okta app's client secret.", field="client_secret"
            )
        if len(secret) > 1000 or any(c.isspace() for c in secret.strip()):
            raise ValidationFailed("client_secret is not an Okta client secret.")
        out["client_secret"] = secret.strip()
    return out


def _endpoints(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "issuer": found["issuer"],
        "authorization_endpoint": found["authorization_endpoint"],
        "token_endpoint": found["token_endpoint"],
        "revocation_endpoint": found.get("revocation_endpoint", ""),
        "scopes_supported": found.get("scopes_supported", []),
    }


def credential_create(
    *, org: Organization, actor: Actor | None, spec: CredentialSpec
) -> OktaCredential:
    values = _clean(spec, creating=True)
    found = okta.discover(values["okta_domain"], values["server_id"])  # before any lock
    secret = values.pop("client_secret")
    try:
        with transaction.atomic():
            Organization.objects.select_for_update().filter(pk=org.pk).first()
            if OktaCredential.objects.filter(org=org).count() >= MAX_CREDENTIALS:
                raise Conflict(f"An organization has at most {MAX_CREDENTIALS} credentials.")
            credential = OktaCredential.objects.create(
                org=org,
                client_secret=crypto.encrypt(secret),
                created_by=getattr(actor, "email", "") or str(actor or ""),
                **values,
                **_endpoints(found),
            )
            audit_record(
                action=AuditAction.CREDENTIAL_CREATED,
                org=org,
                actor=actor,
                target=credential,
                data={"new": values, "issuer": credential.issuer},
            )
    except IntegrityError as exc:
        raise Conflict(f"A credential named {values['name']!r} exists already.") from exc
    return credential


def credential_update(
    *, credential: OktaCredential, actor: Actor | None, spec: CredentialSpec
) -> OktaCredential:
    values = _clean(spec, creating=False)
    secret = values.pop("client_secret", None)
    moved = (values["okta_domain"], values["server_id"]) != (
        credential.okta_domain,
        credential.server_id,
    )
    found = okta.discover(values["okta_domain"], values["server_id"]) if moved else None
    try:
        with transaction.atomic():
            current = OktaCredential.objects.select_for_update().get(pk=credential.pk)
            old = {k: getattr(current, k) for k in SHOWN}
            changed = {k: v for k, v in values.items() if old[k] != v}
            for key, value in changed.items():
                setattr(current, key, value)
            if found is not None:
                for key, value in _endpoints(found).items():
                    setattr(current, key, value)
            if secret is not None:
                current.client_secret = crypto.encrypt(secret)
            if not changed and secret is None:
                return current
            current.updated_at = timezone.now()
            current.save()
            data: dict[str, Any] = {
                "old": {k: old[k] for k in changed},
                "new": changed,
            }
            if secret is not None:
                data["client_secret"] = "replaced"
            audit_record(
                action=AuditAction.CREDENTIAL_UPDATED,
                org=current.org,
                actor=actor,
                target=current,
                data=data,
            )
    except IntegrityError as exc:
        raise Conflict(f"A credential named {values['name']!r} exists already.") from exc
    return current


def _end_connections(which: Q, reason: str) -> int:
    """Inside the caller's transaction: these connections' tokens queued for revocation at Okta
    and the connections deleted; returns how many."""
    connections = list(
        ServiceConnection.objects.select_for_update()
        .filter(which)
        .select_related("service__credential", "membership__user")
    )
    for connection in connections:
        queue_connection(connection, reason=reason)
    ServiceConnection.objects.filter(pk__in=[c.pk for c in connections]).delete()
    return len(connections)


def credential_delete(*, credential: OktaCredential, actor: Actor | None) -> None:
    """Deletes it with its services; every member's tokens under it are revoked at Okta (queued)
    and erased here first."""
    with transaction.atomic():
        current = OktaCredential.objects.select_for_update().get(pk=credential.pk)
        ended = _end_connections(Q(service__credential=current), "credential deleted")
        audit_record(
            action=AuditAction.CREDENTIAL_DELETED,
            org=current.org,
            actor=actor,
            target=current,
            data={"old": {k: getattr(current, k) for k in SHOWN}, "connections_revoked": ended},
        )
        current.delete()


def test_scopes(credential: OktaCredential) -> list[str]:
    """The services' own scopes (Okta refuses OpenID scopes in a client-credentials grant)."""
    scopes: list[str] = []
    for service in credential.services.order_by("id"):
        scopes += [s for s in service.scopes if s not in BASE_SCOPES and s not in scopes]
    return scopes


def credential_test(*, credential: OktaCredential, actor: Actor | None) -> tuple[bool, str]:
    """A client-credentials grant with the services' scopes: proves the client ID, the secret,
    the grant type and the access policy. The token is thrown away."""
    scopes = test_scopes(credential)
    try:
        token = okta.client_credentials(credential, scopes)
        ok = bool(token.get("access_token"))
        message = (
            f"Okta issued an access token ({', '.join(scopes) or 'no scope'}); the client ID, "
            "the secret, the grant type and the access policy work."
            if ok
            else "Okta answered without an access token."
        )
    except okta.OktaError as exc:
        ok, message = False, exc.message
    with transaction.atomic():
        current = OktaCredential.objects.select_for_update().get(pk=credential.pk)
        current.last_tested_at = timezone.now()
        current.last_test_ok = ok
        current.last_test_message = message[:1000]
        current.save(update_fields=["last_tested_at", "last_test_ok", "last_test_message"])
        audit_record(
            action=AuditAction.CREDENTIAL_TESTED if ok else AuditAction.CREDENTIAL_TEST_FAILED,
            org=current.org,
            actor=actor,
            target=current,
            data={"scopes": scopes, "result": message},
        )
    return ok, message


# --- Services -----------------------------------------------------------------------------


@dataclass
class ServiceSpec:
    name: Any = None
    integration: Any = None
    audience: Any = ""
    scopes: Any = None


def clean_scopes(value: Any) -> list[str]:
    """A list of scope names, or one string of them separated by spaces; the base scopes are
    always asked for and need not be listed."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValidationFailed(
            "scopes must be a list of scope names (or one string of them, space-separated), "
            "for example session:role:ANALYST.",
            field="scopes",
        )
    scopes: list[str] = []
    for scope in value:
        scope = scope.strip()
        if not SCOPE.match(scope):
            raise ValidationFailed(
                f"{scope!r} is not a scope name: 1 to 255 printable characters, no spaces or "
                "quotes (for example session:role:ANALYST).",
                field="scopes",
            )
        if scope not in BASE_SCOPES and scope not in scopes:
            scopes.append(scope)
    if len(scopes) > MAX_SCOPES:
        raise ValidationFailed(f"A service asks for at most {MAX_SCOPES} scopes of its own.")
    return scopes


def _clean_service(spec: ServiceSpec) -> dict[str, Any]:
    name = clean_line(spec.name, field="name", what="name", max_length=100)
    if not name:
        raise ValidationFailed("name is required (for example Snowflake).", field="name")
    integration = str(spec.integration or "").strip()
    if integration not in INTEGRATION_SLUGS:
        raise ValidationFailed(
            f"integration must be one of {', '.join(sorted(INTEGRATION_SLUGS))}: it decides "
            "which roles may use the service (integrations.use.<integration>).",
            field="integration",
        )
    audience = clean_line(spec.audience, field="audience", what="audience", max_length=2048)
    return {
        "name": name,
        "integration": integration,
        "audience": audience,
        "scopes": clean_scopes(spec.scopes),
    }


def service_create(
    *, credential: OktaCredential, actor: Actor | None, spec: ServiceSpec
) -> CredentialService:
    values = _clean_service(spec)
    try:
        with transaction.atomic():
            OktaCredential.objects.select_for_update().get(pk=credential.pk)
            if credential.services.count() >= MAX_SERVICES:
                raise Conflict(f"A credential has at most {MAX_SERVICES} services.")
            service = CredentialService.objects.create(
                org=credential.org, credential=credential, **values
            )
            audit_record(
                action=AuditAction.CREDENTIAL_SERVICE_CREATED,
                org=credential.org,
                actor=actor,
                target=service,
                data={"new": values, "credential": credential.name},
            )
    except IntegrityError as exc:
        raise Conflict(f"A service named {values['name']!r} exists already.") from exc
    return service


def service_update(
    *, service: CredentialService, actor: Actor | None, spec: ServiceSpec
) -> CredentialService:
    """A change of scopes or audience applies to the next authentication: connected members
    keep what they were granted until then (their page says that re-consent is needed when
    the scopes grew)."""
    values = _clean_service(spec)
    try:
        with transaction.atomic():
            current = CredentialService.objects.select_for_update().get(pk=service.pk)
            old = {k: getattr(current, k) for k in values}
            changed = {k: v for k, v in values.items() if old[k] != v}
            if not changed:
                return current
            for key, value in changed.items():
                setattr(current, key, value)
            current.save()
            audit_record(
                action=AuditAction.CREDENTIAL_SERVICE_UPDATED,
                org=current.org,
                actor=actor,
                target=current,
                data={"old": {k: old[k] for k in changed}, "new": changed},
            )
    except IntegrityError as exc:
        raise Conflict(f"A service named {values['name']!r} exists already.") from exc
    return current


def service_delete(*, service: CredentialService, actor: Actor | None) -> None:
    with transaction.atomic():
        current = CredentialService.objects.select_for_update().get(pk=service.pk)
        ended = _end_connections(Q(service=current), "service deleted")
        audit_record(
            action=AuditAction.CREDENTIAL_SERVICE_DELETED,
            org=current.org,
            actor=actor,
            target=current,
            data={
                "old": {k: getattr(current, k) for k in ("name", "integration", "scopes")},
                "connections_revoked": ended,
            },
        )
        current.delete()
