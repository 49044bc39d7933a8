"""The sealer: folds finished events into per-organization seals (audit.ledger), without ever
locking the writers. Celery beat runs a pass every 30 seconds; `manage.py audit_seal` runs one now.

Which events are finished: on PostgreSQL every event carries the id of the transaction that
inserted it (a trigger sets it), and every transaction older than the oldest one still running
(`pg_snapshot_xmin`) has committed or rolled back, so nothing can still appear below that
bound. The sealer takes the range from where it stopped to that bound. On SQLite, writers are
serialized, so ids are handed out in commit order and the bound is the largest id plus one.

One runner at a time: a transaction-scoped advisory lock on PostgreSQL (a second runner skips
its pass), the cursor row's lock on SQLite (whose writers queue anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit import ledger
from audit.models import AuditEvent, AuditSeal, AuditSealCursor

MAX_PER_PASS = 200_000  # events; a longer backlog takes several passes (the command loops)
_LOCK_KEY = 0x6175646974_5EA1  # "audit" seal: one advisory lock for the sealer


def sealing_key() -> str:
    """The column events are sealed in order of: the transaction id, or the id on SQLite."""
    return "xact" if connection.vendor == "postgresql" else "id"


def in_range(lo: int, hi: int) -> Any:
    """The events whose sealing key is in [lo, hi); on PostgreSQL, rows older than the
    tamper-evidence migration have no transaction id and count as key 0."""
    from django.db.models import Q

    key = sealing_key()
    q = Q(**{f"{key}__gte": lo, f"{key}__lt": hi})
    if key == "xact" and lo <= 0 < hi:
        q |= Q(xact__isnull=True)
    return q


def ordering() -> tuple[str, ...]:
    return ("xact", "id") if sealing_key() == "xact" else ("id",)


def _safe_bound(lo: int) -> tuple[int, bool]:
    """(bound, capped): everything below the bound has finished (PostgreSQL) or is committed
    (SQLite); capped when a pass would read more than MAX_PER_PASS events, in which case the
    bound stops before the transaction that crosses the cap (a single transaction larger than
    the cap is taken whole)."""
    with connection.cursor() as cur:
        if sealing_key() == "xact":
            cur.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            hi = int(cur.fetchone()[0])
            cur.execute(
                "SELECT xact FROM audit_auditevent WHERE xact >= %s AND xact < %s "
                "ORDER BY xact LIMIT 1 OFFSET %s",
                [lo, hi, MAX_PER_PASS],
            )
            row = cur.fetchone()
            if row is None:
                return max(hi, lo), False
            crossing = int(row[0])
            cur.execute(
                "SELECT MIN(xact) FROM audit_auditevent WHERE xact >= %s AND xact < %s",
                [lo, hi],
            )
            first = int(cur.fetchone()[0])
            return (crossing if crossing > first else crossing + 1), True
        cur.execute(
            "SELECT id FROM audit_auditevent WHERE id >= %s ORDER BY id LIMIT 1 OFFSET %s",
            [lo, MAX_PER_PASS],
        )
        row = cur.fetchone()
        if row is not None:
            return int(row[0]), True
        cur.execute("SELECT MAX(id) FROM audit_auditevent")
        top = cur.fetchone()[0]
        return (max(int(top) + 1, lo) if top is not None else lo), False


def _groups(lo: int, hi: int) -> Iterator[tuple[int, list[tuple[int, bytes]]]]:
    """(org key, [(event id, leaf), ...] in sealing order) per organization with events."""
    rows = (
        AuditEvent.objects.filter(in_range(lo, hi))
        .order_by("org_id", *ordering())
        .values_list("id", "org_id", "leaf")
        .iterator(chunk_size=5000)
    )
    current: int | None = None
    entries: list[tuple[int, bytes]] = []
    legacy: list[int] = []
    for event_id, org_id, leaf_hex in rows:
        key = org_id or 0
        if current is not None and key != current:
            yield current, _fill_legacy(entries, legacy)
            entries, legacy = [], []
        current = key
        if leaf_hex:
            entries.append((event_id, bytes.fromhex(leaf_hex)))
        else:  # written before leaves existed: hashed now, from its stored fields
            entries.append((event_id, b""))
            legacy.append(event_id)
    if current is not None:
        yield current, _fill_legacy(entries, legacy)


def _fill_legacy(entries: list[tuple[int, bytes]], legacy: list[int]) -> list[tuple[int, bytes]]:
    if not legacy:
        return entries
    leaves: dict[int, bytes] = {}
    for start in range(0, len(legacy), 1000):
        chunk = legacy[start : start + 1000]
        for values in AuditEvent.objects.filter(id__in=chunk).values("id", *ledger.FIELDS):
            leaves[values["id"]] = ledger.leaf(values)
    return [(i, leaf or leaves[i]) for i, leaf in entries]


def seal_leaves(seal: AuditSeal) -> list[bytes]:
    """The full leaves of a seal's events, in the seal's order (what an inclusion proof is
    built from): the stored leaf, or for an event older than leaves, the hash of its fields."""
    ids = [event_id for event_id, _ in ledger.manifest_decode(bytes(seal.manifest))]
    stored: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        stored.update(AuditEvent.objects.filter(id__in=chunk).values_list("id", "leaf"))
    # A row that is gone (deleted behind our back) gets a leaf of zeros: the proofs built from
    # it fail at the SIEM, which is where the deletion should be noticed.
    entries = [(i, bytes.fromhex(stored[i]) if i in stored else bytes(32)) for i in ids]
    legacy = [i for i, leaf in entries if not leaf]
    return [leaf for _, leaf in _fill_legacy(entries, legacy)]


def seal_fields(seal: AuditSeal) -> dict[str, Any]:
    """The signed body of a seal, from its columns."""
    return {
        "v": 1,
        "org": seal.org_key,
        "seq": seal.seq,
        "lo": seal.bound_lo,
        "hi": seal.bound_hi,
        "count": seal.count,
        "first_id": seal.first_id,
        "last_id": seal.last_id,
        "root": seal.root,
        "manifest": seal.manifest_sha256,
        "prev": seal.prev,
        "sealed_at": ledger._time(seal.sealed_at),
        "key": seal.key_id,
    }


def _seal(org_key: int, lo: int, hi: int, entries: list[tuple[int, bytes]], now: Any) -> None:
    last = AuditSeal.objects.filter(org_key=org_key).order_by("-seq").values("seq", "hash").first()
    manifest = ledger.manifest_encode(entries)
    seal = AuditSeal(
        org_key=org_key,
        seq=(last["seq"] + 1) if last else 1,
        bound_lo=lo,
        bound_hi=hi,
        count=len(entries),
        first_id=entries[0][0],
        last_id=entries[-1][0],
        root=ledger.merkle_root(leaf for _, leaf in entries).hex(),
        manifest=manifest,
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        prev=last["hash"] if last else "",
        sealed_at=now,
        key_id=ledger.keys().key_id,
    )
    body = ledger.seal_body(seal_fields(seal))
    seal.key_id, signature = ledger.sign(body)
    seal.signature = signature
    seal.hash = ledger.seal_hash(body, signature)
    seal.save()


def seal_pass() -> dict[str, Any]:
    """One pass: seals what finished since the last one. Returns what it did."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
                if not cur.fetchone()[0]:
                    return {"skipped": "another sealer pass is running"}
        state = AuditSealCursor.objects.select_for_update().filter(pk=1).first()
        if state is None:
            state = AuditSealCursor.objects.create(pk=1, hi=0)
        lo = state.hi
        hi, capped = _safe_bound(lo)
        if hi <= lo:
            return {"events": 0, "seals": 0, "lo": lo, "hi": hi, "capped": False}
        now = timezone.now()
        events = seals = 0
        for org_key, entries in _groups(lo, hi):
            _seal(org_key, lo, hi, entries, now)
            events += len(entries)
            seals += 1
        state.hi = hi
        state.passes += 1
        state.updated_at = now
        state.save(update_fields=["hi", "passes", "updated_at"])
        return {"events": events, "seals": seals, "lo": lo, "hi": hi, "capped": capped}


def seal_all() -> dict[str, Any]:
    """Passes until nothing finished is left unsealed (a backlog takes several)."""
    total = {"events": 0, "seals": 0, "passes": 0}
    while True:
        done = seal_pass()
        if "skipped" in done:
            return {**total, **done}
        total["passes"] += 1
        total["events"] += done["events"]
        total["seals"] += done["seals"]
        if not done.get("capped"):
            return total
