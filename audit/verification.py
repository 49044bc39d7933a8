"""Verification of an organization's trail against its seals: it recomputes every event's leaf
from its stored fields and every seal's Merkle root, checks each seal's signature and its link
to the previous seal, and names the **first broken link**:

- `seal_missing`: a sequence number is absent (a seal was deleted);
- `seal_edited`: a seal's body no longer matches its signature, or its hash or link is wrong;
- `seal_untrusted_key`: a seal is signed by a key that is not the signing key or a trusted one;
- `deleted_row`: an event a seal lists is gone;
- `inserted_row`: an event no seal lists sits in a sealed range (or below the sealer's cursor);
- `reordered_rows`: two events' contents were swapped, or an event moved in the order;
- `changed_row`: an event's fields no longer hash to its leaf in the seal (`leaf_rewritten`
  tells whether its stored leaf was rewritten to match).

Events newer than the last seal are checked against their own stored leaf only (the sealer
folds them within a minute). The report is plain data (JSON).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from audit import ledger
from audit.models import AuditEvent, AuditPurge, AuditSeal, AuditSealCursor
from audit.purge import purge_ok
from audit.sealing import in_range, ordering, seal_fields, sealing_key

MAX_PROBLEMS = 20


class Report:
    def __init__(self, org_key: int) -> None:
        self.org_key = org_key
        self.problems: list[dict[str, Any]] = []
        self.events = 0
        self.seals = 0
        self.unsealed = 0
        self.purged_seals = 0

    def add(self, kind: str, detail: str, **where: Any) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append({"kind": kind, "detail": detail, **where})

    def as_dict(self) -> dict[str, Any]:
        return {
            "org": self.org_key or None,
            "ok": not self.problems,
            "events_checked": self.events,
            "seals_checked": self.seals,
            "unsealed_events": self.unsealed,
            "purged_seals": self.purged_seals,
            "first_broken": self.problems[0] if self.problems else None,
            "problems": self.problems,
        }


def _time(value: Any) -> str | None:
    return ledger._time(value) if value else None


def check_seal(seal: AuditSeal, prev: AuditSeal | None, report: Report) -> bool:
    """The seal's own integrity: sequence, link, signature. False when it cannot be trusted."""
    where = {"seal": seal.seq, "sealed_at": _time(seal.sealed_at)}
    expected_seq = (prev.seq + 1) if prev else 1
    if seal.seq != expected_seq:
        report.add(
            "seal_missing",
            f"seal {expected_seq} is missing: the chain goes from seal {expected_seq - 1} "
            f"to seal {seal.seq}",
            seal=expected_seq,
            after_event_id=prev.last_id if prev else None,
            sealed_at=_time(seal.sealed_at),
        )
        return False
    key = ledger.keys().trusted.get(seal.key_id)
    body = ledger.seal_body(seal_fields(seal))
    if key is None:
        report.add(
            "seal_untrusted_key",
            f"seal {seal.seq} is signed by key {seal.key_id}, which is neither the signing "
            "key nor in GOVERNANCE_AUDIT_TRUSTED_KEYS",
            **where,
        )
        return False
    if not ledger.signature_ok(key, body, bytes(seal.signature)):
        report.add("seal_edited", f"seal {seal.seq} does not match its signature", **where)
        return False
    if seal.hash != ledger.seal_hash(body, bytes(seal.signature)):
        report.add("seal_edited", f"seal {seal.seq}'s stored hash is not its own", **where)
        return False
    if seal.prev != (prev.hash if prev else ""):
        report.add(
            "seal_edited",
            f"seal {seal.seq} does not link to seal {seal.seq - 1} (the chain was re-linked)",
            **where,
        )
        return False
    if hashlib.sha256(bytes(seal.manifest)).hexdigest() != seal.manifest_sha256:
        report.add("seal_edited", f"seal {seal.seq}'s manifest was changed", **where)
        return False
    return True


def compare(
    seal_seq: int | None,
    listed: list[tuple[int, bytes]],
    rows: list[Row],
    root: str | None,
    report: Report,
) -> None:
    """Compare the events a seal lists, (id, leaf prefix) in order, with the stored rows,
    (id, recomputed leaf, stored leaf, time) in the same order; name what differs."""
    where: dict[str, Any] = {"seal": seal_seq}
    listed_at = {event_id: i for i, (event_id, _) in enumerate(listed)}
    row_at = {row[0]: i for i, row in enumerate(rows)}
    prefix = ledger.PREFIX_BYTES
    findings: list[tuple[int, str, str, dict[str, Any]]] = []  # (position, kind, detail, where)
    for i, (event_id, _) in enumerate(listed):
        if event_id not in row_at:
            before = listed[i - 1][0] if i else None
            findings.append(
                (
                    i,
                    "deleted_row",
                    f"event {event_id} is listed in the seal but no longer stored",
                    {"event_id": event_id, "after_event_id": before},
                )
            )
    for j, (event_id, _, _, at, _) in enumerate(rows):
        if event_id not in listed_at:
            findings.append(
                (
                    j,
                    "inserted_row",
                    f"event {event_id} is stored in a sealed range but no seal lists it",
                    {"event_id": event_id, "occurred_at": _time(at)},
                )
            )
    by_prefix = {p: event_id for event_id, p in listed}
    for event_id, full, stored, at, _ in rows:
        i = listed_at.get(event_id)
        if i is None or listed[i][1] == full[:prefix]:
            continue
        other = by_prefix.get(full[:prefix])
        if other is not None and other != event_id:
            findings.append(
                (
                    i,
                    "reordered_rows",
                    f"event {event_id} holds what the seal lists as event {other}",
                    {"event_id": event_id, "occurred_at": _time(at), "swapped_with": other},
                )
            )
        else:
            findings.append(
                (
                    i,
                    "changed_row",
                    f"event {event_id}'s fields no longer hash to its sealed leaf",
                    {
                        "event_id": event_id,
                        "occurred_at": _time(at),
                        "leaf_rewritten": stored == full.hex(),
                    },
                )
            )
    if not findings:
        same = [e for e, _ in listed] == [r[0] for r in rows]
        if not same:
            for i, ((a, _), row) in enumerate(zip(listed, rows, strict=False)):
                if a != row[0]:
                    findings.append(
                        (
                            i,
                            "reordered_rows",
                            f"event {row[0]} is stored where the seal lists event {a}",
                            {"event_id": row[0], "occurred_at": _time(row[3]), "expected": a},
                        )
                    )
                    break
        elif root is not None and ledger.merkle_root(r[1] for r in rows).hex() != root:
            findings.append((0, "changed_row", "the events no longer hash to the seal's root", {}))
    for _, kind, detail, extra in sorted(findings, key=lambda f: f[0]):
        report.add(kind, detail, **where, **extra)


Row = tuple[int, bytes, str, Any, int]  # id, recomputed leaf, stored leaf, time, sealing key


def _rows(values: Iterable[Mapping[str, Any]], key: str) -> Iterator[Row]:
    for v in values:
        yield v["id"], ledger.leaf(v), v["leaf"], v["occurred_at"], v[key] or 0


def _stored(org_key: int, q: Any) -> Iterator[Row]:
    org_filter = {"org_id": org_key} if org_key else {"org_id__isnull": True}
    key = sealing_key()
    columns = {"id", "leaf", key, *ledger.FIELDS}
    values = (
        AuditEvent.objects.filter(q, **org_filter)
        .order_by(*ordering())
        .values(*columns)
        .iterator(chunk_size=2000)
    )
    return _rows(values, key)


def verify(org_key: int, since: datetime | None = None) -> dict[str, Any]:
    """Verify the organization's trail (org_key 0: the events of no organization). With
    `since`, only seals made from that time on are re-hashed (their chain is still checked
    from the seal before)."""
    report = Report(org_key)
    purged = _purged_through(org_key, report)
    if purged is None:
        return report.as_dict()
    seals = AuditSeal.objects.filter(org_key=org_key).order_by("seq")
    prev: AuditSeal | None = None
    if since is not None:
        prev = seals.filter(sealed_at__lt=since).last()
        if prev is not None and not check_seal(prev, _seal_before(prev), report):
            return report.as_dict()
        seals = seals.filter(sealed_at__gte=since)
    for seal in seals.iterator(chunk_size=100):
        report.seals += 1
        if not check_seal(seal, prev, report):
            return report.as_dict()
        if seal.seq <= purged:
            report.purged_seals += 1  # its events were purged by retention: the seal stays
            prev = seal
            continue
        lo = prev.bound_hi if prev else 0
        rows = list(_stored(org_key, in_range(lo, seal.bound_hi)))
        report.events += len(rows)
        compare(
            seal.seq, list(ledger.manifest_decode(bytes(seal.manifest))), rows, seal.root, report
        )
        if report.problems:
            return report.as_dict()
        prev = seal
    _check_tail(org_key, prev, report)
    return report.as_dict()


def _purged_through(org_key: int, report: Report) -> int | None:
    """The last seal whose events retention purged (0: none), after checking every purge
    record's signature and that it names a seal as it is; None when a record is forged."""
    through = 0
    for purge in AuditPurge.objects.filter(org_key=org_key).order_by("through_seq"):
        seal = AuditSeal.objects.filter(org_key=org_key, seq=purge.through_seq).first()
        if not purge_ok(purge) or seal is None or seal.hash != purge.seal_hash:
            report.add(
                "purge_forged",
                f"the record of a purge through seal {purge.through_seq} is not signed by a "
                "trusted key or does not match that seal: events may have been deleted outside "
                "retention",
                seal=purge.through_seq,
            )
            return None
        through = max(through, purge.through_seq)
    return through


def _seal_before(seal: AuditSeal) -> AuditSeal | None:
    return AuditSeal.objects.filter(org_key=seal.org_key, seq=seal.seq - 1).first()


def _check_tail(org_key: int, last: AuditSeal | None, report: Report) -> None:
    """Events after the last seal: each against its own stored leaf; and none may lie below
    the sealer's cursor (it would have been sealed)."""
    from django.db.models import Q

    cursor = AuditSealCursor.objects.filter(pk=1).values_list("hi", flat=True).first() or 0
    key = sealing_key()
    lo = last.bound_hi if last else 0
    q = Q(**{f"{key}__gte": lo})
    if key == "xact" and lo <= 0:
        q |= Q(xact__isnull=True)
    for event_id, full, stored, at, sealing in _stored(org_key, q):
        report.unsealed += 1
        report.events += 1
        where = {"event_id": event_id, "occurred_at": _time(at), "seal": None}
        if sealing < cursor:
            report.add(
                "inserted_row",
                f"event {event_id} lies below the sealer's cursor but no seal lists it "
                "(inserted afterwards, or the seal that listed it was deleted)",
                **where,
            )
        elif stored and stored != full.hex():
            report.add(
                "changed_row",
                f"event {event_id} (not sealed yet) no longer hashes to its stored leaf",
                leaf_rewritten=False,
                **where,
            )
