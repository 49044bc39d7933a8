"""Delivery: an organization's sealed events, seal by seal in sealing order, to one destination,
at least once.

Only sealed events are streamed, so each seal's signed head can follow its events: after the
last event of a seal the stream carries the seal head (its signature, hash, root and the hash
of the seal before), with how many of its events this stream sent. A destination without a
filter sends every event of every seal, and the SIEM rebuilds each root from them; a filtered
destination adds to each event its Merkle inclusion proof, so each event is checked alone.

The cursor (AuditStream.cursor_*) moves only after the destination confirmed a batch
(transports), and under the destination's lease; a batch that fails is sent again from the
same position, so events can arrive twice (their ids deduplicate them) but never out of order
and never not at all. A destination that stays down keeps its cursor while the trail grows:
nothing is lost however long it is down. Failures back off exponentially (10 s doubling to 10
minutes); the first failure of a streak and the recovery are audit events.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import ledger
from audit.choices import AuditAction, actions_matching, outcome_of
from audit.models import AuditEvent, AuditSeal
from audit.records import EVENT_COLUMNS, event_record, seal_head
from audit.sealing import seal_leaves
from audit.services import audit_record
from core.actors import SystemActor
from siem.exceptions import DeliveryError
from siem.models import AuditStream
from siem.transports import sender_for

LEASE = timedelta(seconds=180)
BUDGET_SECONDS = 50  # a delivery run hands over after this long; the next tick continues
BACKOFF_FIRST, BACKOFF_MAX = 10, 600  # seconds
ACTOR = SystemActor("audit stream delivery")

Position = tuple[int, int, int]  # (seals done, events done in the next seal, of which sent)


def wanted_actions(actions: list[str], outcome: str) -> frozenset[str] | None:
    """The action names a filter lets through; None when it lets everything through."""
    if not actions and not outcome:
        return None
    names = (
        {name for pattern in actions for name in actions_matching(pattern)}
        if actions
        else set(AuditAction.values)
    )
    if outcome:
        names = {n for n in names if outcome_of(n) == outcome}
    return frozenset(names)


def filter_of(destination: AuditStream) -> dict[str, Any]:
    return {"actions": list(destination.actions), "outcome": destination.outcome}


def records(destination: AuditStream) -> Iterator[tuple[list[dict[str, Any]], Position, int]]:
    """(records, position after them, events among them) from the destination's cursor: at
    most a batch of events each time, seal heads after their events."""
    batch_size = max(1, settings.SIEM_BATCH_EVENTS)
    wanted = wanted_actions(destination.actions, destination.outcome)
    done, offset, sent = destination.cursor_seq, destination.cursor_offset, destination.cursor_sent
    batch: list[dict[str, Any]] = []
    events = idle = 0
    seals = AuditSeal.objects.filter(org_key=destination.org_id, seq__gt=done).order_by("seq")
    for seal in seals.iterator(chunk_size=20):
        ids = [event_id for event_id, _ in ledger.manifest_decode(bytes(seal.manifest))]
        levels = ledger.merkle_levels(seal_leaves(seal)) if wanted is not None else None
        for start in range(offset, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            # By primary key alone (an org_id condition can lead the planner to scan the
            # organization's whole index); the organization is checked on each row instead.
            rows = AuditEvent.objects.filter(id__in=chunk)
            if wanted is not None:
                rows = rows.filter(action__in=wanted)
            found = {
                v["id"]: v for v in rows.values(*EVENT_COLUMNS) if v["org_id"] == destination.org_id
            }
            for index, event_id in enumerate(chunk, start=start):
                if event_id not in found:
                    continue
                record = event_record(found[event_id])
                record["seal"] = {"seq": seal.seq, "index": index}
                if levels is not None:
                    path = ledger.merkle_path(levels, index)
                    record["seal"]["proof"] = [p.hex() for p in path]
                batch.append(record)
                events += 1
                sent += 1
            offset = start + len(chunk)
            idle += 1
            if len(batch) >= batch_size or idle >= 20:
                yield batch, (done, offset, sent), events
                batch, events, idle = [], 0, 0
        head = seal_head(seal)
        head["stream"] = {"destination": destination.name, "sent": sent, **filter_of(destination)}
        batch.append(head)
        done, offset, sent = seal.seq, 0, 0
        if len(batch) >= batch_size:
            yield batch, (done, offset, sent), events
            batch, events, idle = [], 0, 0
    if batch or (done, offset, sent) != (
        destination.cursor_seq,
        destination.cursor_offset,
        destination.cursor_sent,
    ):
        yield batch, (done, offset, sent), events


class LeaseLost(Exception):
    """The destination was deleted, paused or taken over while this run delivered."""


def _claim(destination_id: int, owner: str) -> bool:
    now = timezone.now()
    return bool(
        AuditStream.objects.filter(pk=destination_id, paused=False)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_owner=owner, lease_until=now + LEASE)
    )


def _advance(destination: AuditStream, owner: str, position: Position, events: int) -> None:
    now = timezone.now()
    moved = AuditStream.objects.filter(pk=destination.pk, lease_owner=owner, paused=False).update(
        cursor_seq=position[0],
        cursor_offset=position[1],
        cursor_sent=position[2],
        delivered=F("delivered") + events,
        last_delivered_at=now,
        lease_until=now + LEASE,
    )
    if not moved:
        raise LeaseLost
    destination.cursor_seq, destination.cursor_offset, destination.cursor_sent = position


def backoff(failures: int) -> timedelta:
    seconds = min(BACKOFF_FIRST * 2 ** min(failures - 1, 16), BACKOFF_MAX)
    # Jitter spreads retries of many streams; it guards nothing.
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311


@transaction.atomic
def _failed(destination_id: int, owner: str, error: str) -> None:
    destination = AuditStream.objects.select_for_update().filter(pk=destination_id).first()
    if destination is None or destination.lease_owner != owner:
        return
    now = timezone.now()
    destination.failures += 1
    destination.next_attempt_at = now + backoff(destination.failures)
    destination.last_error = error[:1000]
    destination.last_error_at = now
    destination.lease_owner, destination.lease_until = "", None
    destination.save(
        update_fields=[
            "failures",
            "next_attempt_at",
            "last_error",
            "last_error_at",
            "lease_owner",
            "lease_until",
        ]
    )
    if destination.failures == 1:  # the first of a streak; the page shows the rest
        audit_record(
            action=AuditAction.AUDIT_STREAM_DELIVERY_FAILED,
            org=destination.org,
            actor=ACTOR,
            target=destination,
            data={"error": destination.last_error, "cursor": _cursor(destination)},
        )


@transaction.atomic
def _done(destination_id: int, owner: str) -> None:
    destination = AuditStream.objects.select_for_update().filter(pk=destination_id).first()
    if destination is None or destination.lease_owner != owner:
        return
    if destination.failures:
        audit_record(
            action=AuditAction.AUDIT_STREAM_DELIVERY_RECOVERED,
            org=destination.org,
            actor=ACTOR,
            target=destination,
            data={"failures": destination.failures, "cursor": _cursor(destination)},
        )
    destination.failures = 0
    destination.next_attempt_at = timezone.now()
    destination.lease_owner, destination.lease_until = "", None
    destination.save(update_fields=["failures", "next_attempt_at", "lease_owner", "lease_until"])


def _release(destination_id: int, owner: str) -> None:
    AuditStream.objects.filter(pk=destination_id, lease_owner=owner).update(
        lease_owner="", lease_until=None
    )


def _cursor(destination: AuditStream) -> dict[str, int]:
    return {
        "seal": destination.cursor_seq,
        "offset": destination.cursor_offset,
        "delivered": destination.delivered,
    }


def deliver(destination_id: int, *, budget: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Deliver what is pending, for at most `budget` seconds. One runner per destination (a
    lease); what it sends is confirmed by the destination before the cursor moves."""
    owner = str(uuid.uuid4())
    if not _claim(destination_id, owner):
        return {"destination": destination_id, "skipped": "paused, gone or being delivered"}
    destination = AuditStream.objects.select_related("org").get(pk=destination_id)
    send = sender_for(destination)
    deadline = time.monotonic() + budget
    sent = batches = 0
    more = False
    try:
        for batch, position, events in records(destination):
            if batch:
                send(batch)
                batches += 1
            _advance(destination, owner, position, events)
            sent += events
            if time.monotonic() > deadline:
                more = True
                break
    except DeliveryError as exc:
        _failed(destination_id, owner, exc.message)
        return {"destination": destination_id, "events": sent, "error": exc.message}
    except LeaseLost:
        return {"destination": destination_id, "events": sent, "stopped": "lease lost"}
    except BaseException:
        _release(destination_id, owner)
        raise
    _done(destination_id, owner)
    return {"destination": destination_id, "events": sent, "batches": batches, "more": more}


def due() -> list[int]:
    """Destinations whose next attempt is due (not paused, not backing off)."""
    return list(
        AuditStream.objects.filter(paused=False, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("id", flat=True)
    )
