"""The one entry point that writes audit events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection, models
from django.utils import timezone

from audit import ledger
from audit.choices import AuditAction
from audit.context import current_context
from audit.models import AuditEvent
from core.actors import Actor, describe_actor


def describe_target(target: models.Model) -> tuple[str, str, str]:
    return target._meta.model_name or "", str(target.pk), str(target)[:300]


def audit_record(
    *,
    action: AuditAction,
    org: models.Model | None,
    actor: Actor | None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one event. Must run inside the transaction of the change it describes, so that the
    change and its event commit or roll back together."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record() must run inside the transaction of the change.")
    if not isinstance(action, AuditAction):
        # An unknown name fails here, with the change, not in a report later.
        try:
            action = AuditAction(action)
        except ValueError:
            raise ValueError(
                f"{action!r} is not a registered audit event: add it to audit.choices.AuditAction."
            ) from None
    kind, actor_id, actor_label = describe_actor(actor)
    if target is not None:
        t_type, t_id, t_label = describe_target(target)
        target_type = target_type or t_type
        target_id = target_id or t_id
        target_label = target_label or t_label
    ctx = current_context()
    event = AuditEvent(
        org_id=org.pk if org is not None else None,
        action=action,
        actor_kind=kind,
        actor_id=str(actor_id)[:64],
        actor_label=actor_label[:300],
        target_type=target_type[:64],
        target_id=str(target_id)[:64],
        target_label=target_label[:300],
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        request_id=ctx.request_id,
        occurred_at=timezone.now(),
        # As the JSON column gives it back, so the leaf taken now is the one a verifier
        # recomputes from the stored row.
        data=ledger.stored_form(data),
    )
    event.leaf = ledger.leaf({name: getattr(event, name) for name in ledger.FIELDS}).hex()
    pending = _pending.get()
    if pending is not None:
        pending.append(event)
    else:
        event.save()
    return event


_pending: ContextVar[list[AuditEvent] | None] = ContextVar("audit_pending", default=None)


@contextmanager
def audit_batch() -> Iterator[None]:
    """For a service that makes several audited writes: the events recorded inside the block
    are written in one INSERT when it ends, still inside the same transaction (an error in the
    block discards them along with the change). A nested batch joins the outer one.

    Only for a block that lets every error propagate: an event recorded inside a savepoint
    that the block rolls back and recovers from would still be written."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_batch() must run inside the transaction of the change.")
    if _pending.get() is not None:
        yield
        return
    events: list[AuditEvent] = []
    reset = _pending.set(events)
    try:
        yield
    finally:
        _pending.reset(reset)
    if events:
        AuditEvent.objects.bulk_create(events)
