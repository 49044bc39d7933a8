"""The one entry point that writes audit events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

from audit import ledger
from audit.choices import AuditAction
from audit.context import current_context
from audit.models import AuditEvent
from core import rows
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
    # `data` as the JSON column gives it back, so the leaf taken now is the one a verifier
    # recomputes from the stored row.
    data_text = json.dumps(data or {}, cls=DjangoJSONEncoder)
    if len(data_text) > MAX_DATA_CHARS:
        # Size-capped: what changed is summarized, and the change itself still commits.
        data_text = json.dumps(
            {
                "truncated": True,
                "characters": len(data_text),
                "keys": sorted(str(k) for k in (data or {}))[:50],
            }
        )
    values = {
        "org_id": org.pk if org is not None else None,
        "occurred_at": timezone.now(),
        "action": action.value,
        "actor_kind": str(kind),
        "actor_id": str(actor_id)[:64],
        "actor_label": actor_label[:300],
        "target_type": target_type[:64],
        "target_id": str(target_id)[:64],
        "target_label": target_label[:300],
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "request_id": ctx.request_id,
        "data": json.loads(data_text),
    }
    values["leaf"] = ledger.leaf(values).hex()
    event = AuditEvent(**values)
    pending = _pending.get()
    if pending is not None:
        pending.append(event)
    else:
        event.pk = _insert(values, data_text)
        event._state.adding = False
        event._state.db = "default"
    return event


_COLUMNS = (*ledger.FIELDS, "leaf")
MAX_DATA_CHARS = 16_384  # an event's `data`, as JSON text


def _insert(values: dict[str, Any], data_text: str) -> int:
    """The event's row, written out: every change of every door pays for this INSERT, and the
    ORM's save was 40 % of `audit_record` (bench/audit.py: 0.56 against 0.38 ms for the same
    transaction in raw SQL; README, Benchmarks). Prepared on PostgreSQL (core.rows.cursor)."""
    ops = connection.ops
    params = [values[c] for c in _COLUMNS]
    params[_COLUMNS.index("occurred_at")] = ops.adapt_datetimefield_value(values["occurred_at"])
    params[_COLUMNS.index("ip")] = ops.adapt_ipaddressfield_value(values["ip"])
    params[_COLUMNS.index("data")] = data_text
    with rows.cursor() as cur:
        cur.execute(_insert_sql(connection.vendor), params)
        return cur.fetchone()[0]


@lru_cache(maxsize=4)
def _insert_sql(vendor: str) -> str:
    marks = [
        "CAST(%s AS jsonb)" if c == "data" and vendor == "postgresql" else "%s" for c in _COLUMNS
    ]
    return (
        f"INSERT INTO audit_auditevent ({', '.join(_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join(marks)}) RETURNING id"
    )


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
