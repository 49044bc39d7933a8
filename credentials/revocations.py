"""Revocations owed to Okta. A connection's tokens leave the connection in the transaction that
ends it (disconnect, deactivation, a credential or service deleted) and wait here, encrypted,
until Okta confirms the revocation (RFC 7009). The first attempt is made right after that
transaction commits; a refused or unanswered one is retried with backoff (1 minute doubling to
1 hour) by Celery beat, audited once when it first fails and once when it goes through, and
listed on the organization's credentials page meanwhile."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import crypto
from core.actors import SystemActor
from credentials import okta
from credentials.models import ServiceConnection, TokenRevocation

ACTOR = SystemActor("credential revocation")
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


def queue_connection(connection: ServiceConnection, *, reason: str) -> list[TokenRevocation]:
    """Inside the caller's transaction: the connection's tokens to revoke (refresh token first:
    revoking it ends the grant at Okta), and a first attempt once it commits. The caller erases
    or deletes the connection in the same transaction."""
    queued: list[TokenRevocation] = []
    if not connection.service.credential.revocation_endpoint:
        return queued  # the server revokes nothing (its discovery names no endpoint): erased only
    member = connection.membership.user.email if connection.membership_id else ""
    for hint, token in (
        ("refresh_token", connection.refresh_token),
        ("access_token", connection.access_token),
    ):
        if token:
            queued.append(
                TokenRevocation.objects.create(
                    org_id=connection.org_id,
                    credential_id=connection.service.credential_id,
                    member_label=member,
                    service_name=connection.service.name,
                    token=token,  # already encrypted
                    token_type_hint=hint,
                    reason=reason,
                )
            )
    if queued:
        ids = [q.pk for q in queued]
        transaction.on_commit(lambda: _attempt_soon(ids))
    return queued


def _attempt_soon(ids: list[int]) -> None:
    from credentials.tasks import revocations_attempt

    try:
        revocations_attempt.delay(ids)
    except Exception:  # no broker reachable: try now; beat retries what fails
        revoke_due(ids=ids)


def revoke_due(*, ids: list[int] | None = None, limit: int = 200) -> dict[str, int]:
    """Attempts the revocations that are due (or these ones); returns how many went through
    and how many failed. Each row is locked while its attempt runs, so two workers never
    revoke the same token twice."""
    now = timezone.now()
    qs = TokenRevocation.objects.filter(next_attempt_at__lte=now)
    if ids is not None:
        qs = TokenRevocation.objects.filter(pk__in=ids)
    done = failed = 0
    for pk in list(qs.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            row = (
                TokenRevocation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("credential", "org")
                .filter(pk=pk)
                .first()
            )
            if row is None:
                continue
            if _attempt(row):
                done += 1
            else:
                failed += 1
    return {"revoked": done, "failed": failed}


def _attempt(row: TokenRevocation) -> bool:
    described: dict[str, Any] = {
        "member": row.member_label,
        "service": row.service_name,
        "token": row.token_type_hint,
        "reason": row.reason,
    }
    error = ""
    if row.credential is None:
        error = "the credential was deleted before Okta confirmed"
    else:
        try:
            okta.revoke(row.credential, crypto.decrypt(row.token), row.token_type_hint)
        except okta.OktaError as exc:
            error = exc.message
        except crypto.UndecryptableSecret as exc:
            error = str(exc)
    if not error:
        if row.attempts:
            audit_record(
                action=AuditAction.CREDENTIAL_REVOCATION_DONE,
                org=row.org,
                actor=ACTOR,
                target_type="token_revocation",
                target_id=str(row.pk),
                target_label=f"{row.member_label} / {row.service_name}",
                data={**described, "attempts": row.attempts + 1},
            )
        row.delete()
        return True
    row.attempts += 1
    delay = min(FIRST_RETRY * 2 ** (row.attempts - 1), LONGEST_RETRY)
    row.next_attempt_at = timezone.now() + delay
    first = not row.last_error
    row.last_error = error[:1000]
    row.save(update_fields=["attempts", "next_attempt_at", "last_error"])
    if first:
        audit_record(
            action=AuditAction.CREDENTIAL_REVOCATION_FAILED,
            org=row.org,
            actor=ACTOR,
            target_type="token_revocation",
            target_id=str(row.pk),
            target_label=f"{row.member_label} / {row.service_name}",
            data={
                **described,
                "error": row.last_error,
                "next_attempt_at": row.next_attempt_at.isoformat(),
            },
        )
    return False
