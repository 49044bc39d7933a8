"""Purging whole sealed segments of the audit trail (the retention job's only way to delete
audit events): first a purge record, signed with the seal key, saying which of an
organization's seals had their events purged; then the events below that seal's bound, in
batches. The seals stay, so `audit_verify` still checks every signature and link, skips only
the purged events, and still catches any change to what remains. On PostgreSQL the events'
trigger lets a DELETE through only for rows a purge record covers, in a transaction that
declared the purge."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit import ledger
from audit.models import AuditEvent, AuditPurge, AuditSeal
from audit.sealing import in_range
from core.rows import delete_ids


def purge_body(purge: AuditPurge) -> bytes:
    return ledger.seal_body(
        {
            "v": 1,
            "purge": True,
            "org": purge.org_key,
            "through_seq": purge.through_seq,
            "bound_hi": purge.bound_hi,
            "seal_hash": purge.seal_hash,
            "events": purge.events,
            "purged_at": ledger._time(purge.purged_at),
            "key": purge.key_id,
        }
    )


def purge_ok(purge: AuditPurge) -> bool:
    key = ledger.keys().trusted.get(purge.key_id)
    return key is not None and ledger.signature_ok(key, purge_body(purge), bytes(purge.signature))


def last_purge(org_key: int) -> AuditPurge | None:
    return AuditPurge.objects.filter(org_key=org_key).order_by("-through_seq").first()


def purge_through(seal: AuditSeal, events: int) -> AuditPurge:
    """Records that the organization's seals up to `seal` are purged (call inside the
    transaction that starts the purge); the events go with delete_purged()."""
    if not connection.in_atomic_block:
        raise RuntimeError("purge_through() must run inside a transaction.")
    purge = AuditPurge(
        org_key=seal.org_key,
        through_seq=seal.seq,
        bound_hi=seal.bound_hi,
        seal_hash=seal.hash,
        events=events,
        purged_at=timezone.now(),
        key_id=ledger.keys().key_id,
    )
    purge.key_id, purge.signature = ledger.sign(purge_body(purge))
    purge.save()
    return purge


def _org_filter(org_key: int) -> dict[str, Any]:
    return {"org_id": org_key} if org_key else {"org_id__isnull": True}


def delete_purged(org_key: int, batch: int) -> int:
    """Deletes up to `batch` events of the organization below its last purge bound (one
    transaction); returns how many. Zero when none is left."""
    purge = last_purge(org_key)
    if purge is None:
        return 0
    with transaction.atomic():
        ids = list(
            AuditEvent.objects.filter(in_range(0, purge.bound_hi), **_org_filter(org_key))
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return 0
        # The model refuses deletion; this is the one sanctioned path (core.rows).
        return delete_ids(
            AuditEvent, ids, declare="SET LOCAL governance.audit_purge = 'sealed-segments'"
        )
