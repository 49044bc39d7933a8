"""A member's connection to a service: authenticated through the organization's Okta
(authorization code with PKCE and state), refreshed under the connection's row lock, handed to
the runtime for a run, disconnected, and revoked when the member is deactivated.

Refresh survives concurrency: Okta rotates refresh tokens and treats the reuse of a rotated one
as theft (it revokes every token of the grant). So a refresh takes the connection's row lock,
reads the connection again once it has it, and uses the access token another worker has just
obtained when there is one; only one refresh per grant is ever in flight. `invalid_grant` marks
the connection "needs re-consent" (tokens erased, audited, shown on the member's page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import crypto
from core.actors import Actor, SystemActor
from core.exceptions import Conflict, PermissionDenied, ValidationFailed
from credentials import okta
from credentials.choices import BASE_SCOPES, ConnectionStatus
from credentials.models import CredentialService, ServiceConnection
from credentials.revocations import queue_connection
from orgs.models import Membership
from workspace.decisions import Question, decide, decide_many

REFRESH_ACTOR = SystemActor("credential refresh")
FRESH_FOR = timedelta(seconds=60)  # a token expiring sooner than this is refreshed first


class NeedsConsent(Conflict):
    """The connection has no live grant: the member must authenticate the service again."""


def scopes_of(service: CredentialService) -> list[str]:
    return [*BASE_SCOPES, *service.scopes]


def may_use(membership: Membership, service: CredentialService) -> tuple[bool, str]:
    """The RBAC decision for `integration.use` of the service's integration."""
    decision = decide(
        membership.org,
        Question(membership.pk, "integration.use", integration=service.integration),
    )
    return decision.allowed, "; ".join(decision.reasons)


def integrations_allowed(membership: Membership, integrations: set[str]) -> dict[str, bool]:
    """`integration.use` for several integrations at once (the decision function's two
    statements, whatever their number)."""
    names = sorted(integrations)
    decisions = decide_many(
        membership.org,
        [Question(membership.pk, "integration.use", integration=n) for n in names],
    )
    return {n: d.allowed for n, d in zip(names, decisions, strict=True)}


def _expiry(token: dict[str, Any]) -> datetime | None:
    if token.get("expires_at"):
        return datetime.fromtimestamp(int(token["expires_at"]), tz=timezone.get_current_timezone())
    if token.get("expires_in"):
        return timezone.now() + timedelta(seconds=int(token["expires_in"]))
    return None


def _granted(token: dict[str, Any], asked: list[str]) -> list[str]:
    scope = token.get("scope")
    return str(scope).split() if scope else list(asked)


# --- Authenticate ---------------------------------------------------------------------------


def authorize_start(
    *, membership: Membership, service: CredentialService, redirect_uri: str
) -> okta.Authorization:
    """Where to send the member: refused when their roles do not allow the integration. A
    connection that needs re-consent (or none yet) asks Okta for the consent screen."""
    allowed, why = may_use(membership, service)
    if not allowed:
        raise PermissionDenied(f"Your roles do not allow {service.name}: {why}.")
    existing = ServiceConnection.objects.filter(membership=membership, service=service).first()
    prompt = "consent" if existing is None or existing.status != "connected" else None
    return okta.authorization(service.credential, scopes_of(service), redirect_uri, prompt=prompt)


def authorize_finish(
    *,
    membership: Membership,
    service: CredentialService,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> ServiceConnection:
    """The callback: the code exchanged for tokens, stored encrypted. A grant this replaces is
    revoked at Okta."""
    allowed, why = may_use(membership, service)
    if not allowed:
        raise PermissionDenied(f"Your roles do not allow {service.name}: {why}.")
    token = okta.exchange(service.credential, code, verifier, redirect_uri)
    access = str(token.get("access_token") or "")
    if not access:
        raise ValidationFailed("Okta answered without an access token.")
    now = timezone.now()
    with transaction.atomic():
        connection = (
            ServiceConnection.objects.select_for_update()
            .select_related("service__credential", "membership__user")
            .filter(membership=membership, service=service)
            .first()
        )
        if connection is not None and connection.refresh_token:
            queue_connection(connection, reason="replaced by a new authentication")
        if connection is None:
            connection = ServiceConnection(
                org=membership.org, membership=membership, service=service
            )
        connection.status = ConnectionStatus.CONNECTED
        connection.access_token = crypto.encrypt(access)
        connection.refresh_token = crypto.encrypt(str(token.get("refresh_token") or ""))
        connection.expires_at = _expiry(token)
        connection.scopes = _granted(token, scopes_of(service))
        connection.connected_at = now
        connection.refreshed_at = now
        connection.last_error = ""
        connection.save()
        audit_record(
            action=AuditAction.CREDENTIAL_CONNECTED,
            org=membership.org,
            actor=membership.user,
            target=connection,
            target_label=f"{membership.user.email} / {service.name}",
            data={
                "service": service.name,
                "integration": service.integration,
                "scopes": connection.scopes,
                "expires_at": connection.expires_at.isoformat() if connection.expires_at else None,
                "refresh_token": bool(connection.refresh_token),
            },
        )
    return connection


def disconnect(*, connection: ServiceConnection, actor: Actor | None) -> None:
    with transaction.atomic():
        current = (
            ServiceConnection.objects.select_for_update()
            .select_related("service__credential", "membership__user")
            .filter(pk=connection.pk)
            .first()
        )
        if current is None:
            return
        queued = queue_connection(current, reason="disconnected")
        audit_record(
            action=AuditAction.CREDENTIAL_DISCONNECTED,
            org=current.org,
            actor=actor,
            target=current,
            target_label=f"{current.membership.user.email} / {current.service.name}",
            data={"service": current.service.name, "tokens_revoked": len(queued)},
        )
        current.delete()


# --- Refresh ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fresh:
    access_token: str
    expires_at: datetime | None
    scopes: list[str]
    refreshed: bool


def _usable(connection: ServiceConnection, now: datetime) -> bool:
    return bool(connection.access_token) and (
        connection.expires_at is None or connection.expires_at - now > FRESH_FOR
    )


def fresh_token(
    connection: ServiceConnection, *, scopes: list[str] | None = None, force: bool = False
) -> Fresh:
    """A valid access token for the connection: the stored one while it lives for more than a
    minute, else one refresh under the row lock (whoever holds the lock refreshes; the others
    find its token when they get the lock). `scopes`, a subset of what was granted, asks Okta
    for a token narrowed to them (that token is handed out, not stored)."""
    now = timezone.now()
    if scopes:
        extra = [s for s in scopes if s not in connection.scopes]
        if extra:
            raise ValidationFailed(
                f"scopes {extra} were not granted to this connection; it holds "
                f"{' '.join(connection.scopes)}."
            )
    elif not force and connection.status == ConnectionStatus.CONNECTED and _usable(connection, now):
        return Fresh(
            crypto.decrypt(connection.access_token), connection.expires_at, connection.scopes, False
        )
    failure: okta.OktaError | None = None
    transient: okta.OktaError | None = None
    with transaction.atomic():
        current = (
            ServiceConnection.objects.select_for_update()
            .select_related("service__credential", "membership__user", "org")
            .get(pk=connection.pk)
        )
        if current.status != ConnectionStatus.CONNECTED:
            raise NeedsConsent(
                f"{current.service.name} needs the member to authenticate again (re-consent)."
            )
        now = timezone.now()
        if not scopes and not force and _usable(current, now):  # another worker refreshed
            return Fresh(
                crypto.decrypt(current.access_token), current.expires_at, current.scopes, False
            )
        if not current.refresh_token:
            failure = okta.OktaError("invalid_grant", "no refresh token (offline_access)")
        else:
            try:
                token = okta.refresh(
                    current.service.credential, crypto.decrypt(current.refresh_token), scopes
                )
            except okta.OktaError as exc:
                if exc.code == "invalid_grant":
                    failure = exc
                else:  # Okta down or refusing for now: the grant may still be alive
                    transient = exc
        if failure is not None:
            _needs_consent(current, failure)
        elif transient is not None:
            current.last_error = transient.message[:1000]
            current.save(update_fields=["last_error"])
        else:
            fresh = _store(current, token, narrowed=bool(scopes))
    if transient is not None:
        raise Conflict(f"Refreshing {current.service.name} failed: {transient.message}")
    if failure is not None:
        raise NeedsConsent(
            f"{current.service.name}: {failure.message} The member's credentials page asks "
            "them to authenticate again."
        )
    return fresh


def _store(current: ServiceConnection, token: dict[str, Any], *, narrowed: bool) -> Fresh:
    access = str(token.get("access_token") or "")
    if not access:
        raise Conflict("Okta's refresh answered without an access token.")
    if token.get("refresh_token"):  # rotated: the old one is dead from now on
        current.refresh_token = crypto.encrypt(str(token["refresh_token"]))
    expires = _expiry(token)
    granted = _granted(token, current.scopes)
    if not narrowed:
        current.access_token = crypto.encrypt(access)
        current.expires_at = expires
        current.scopes = granted
    current.refreshed_at = timezone.now()
    current.last_error = ""
    current.save()
    audit_record(
        action=AuditAction.CREDENTIAL_REFRESHED,
        org=current.org,
        actor=REFRESH_ACTOR,
        target=current,
        target_label=f"{current.membership.user.email} / {current.service.name}",
        data={
            "service": current.service.name,
            "scopes": granted,
            "narrowed": narrowed,
            "expires_at": expires.isoformat() if expires else None,
            "refresh_token_rotated": bool(token.get("refresh_token")),
        },
    )
    return Fresh(access, expires, granted, True)


def _needs_consent(current: ServiceConnection, failure: okta.OktaError) -> None:
    """The grant is dead at Okta: tokens erased, the connection kept to show the member."""
    current.status = ConnectionStatus.NEEDS_CONSENT
    current.access_token = ""
    current.refresh_token = ""
    current.expires_at = None
    current.last_error = failure.message[:1000]
    current.save()
    audit_record(
        action=AuditAction.CREDENTIAL_RECONSENT_NEEDED,
        org=current.org,
        actor=REFRESH_ACTOR,
        target=current,
        target_label=f"{current.membership.user.email} / {current.service.name}",
        data={"service": current.service.name, "error": failure.code, "said": failure.description},
    )


def keepalive(*, limit: int = 500) -> dict[str, int]:
    """Refreshes every connection not refreshed for GOVERNANCE_CREDENTIALS_KEEPALIVE_HOURS, so
    that Okta does not expire an idle grant (its refresh tokens die unused after a while)."""
    cutoff = timezone.now() - timedelta(hours=settings.CREDENTIALS_KEEPALIVE_HOURS)
    due = ServiceConnection.objects.filter(
        status=ConnectionStatus.CONNECTED, refreshed_at__lt=cutoff
    ).order_by("refreshed_at")[:limit]
    done = failed = 0
    for connection in due:
        try:
            fresh_token(connection, force=True)
            done += 1
        except (Conflict, crypto.UndecryptableSecret):
            failed += 1
    return {"refreshed": done, "failed": failed}


# --- Deprovisioning ------------------------------------------------------------------------


def member_deactivated(membership: Membership, actor: Actor | None) -> None:
    """Inside the deactivation's transaction (every door: SCIM, dashboard, API): each of the
    member's connections erased here, its tokens queued for revocation at Okta (first attempt
    once the deactivation commits), and one receipt listing them."""
    connections = list(
        ServiceConnection.objects.select_for_update()
        .select_related("service__credential", "membership__user")
        .filter(membership=membership)
        .order_by("id")
    )
    if not connections:
        return
    listed = []
    for connection in connections:
        queued = queue_connection(connection, reason="member deactivated")
        listed.append(
            {
                "service": connection.service.name,
                "integration": connection.service.integration,
                "tokens": [q.token_type_hint for q in queued],
                "revocations": [q.pk for q in queued],
            }
        )
    ServiceConnection.objects.filter(pk__in=[c.pk for c in connections]).delete()
    audit_record(
        action=AuditAction.CREDENTIAL_MEMBER_REVOKED,
        org=membership.org,
        actor=actor,
        target=membership,
        data={"connections": listed},
    )
