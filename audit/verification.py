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

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from audit import ledger
from audit.models import AuditEvent, AuditPurge, AuditSeal, AuditSealCursor
from audit.purge import purge_ok
from audit.records import seal_body_of
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


def verify_export(lines: Iterable[str], extra_keys: Iterable[str] = ()) -> dict[str, Any]:
    """Offline verification of a JSON Lines export (auditlog.export): each event's leaf from
    its fields, each seal's signature (by a key this server trusts, or one given), hash and
    manifest, and each exported event listed in its seal with that leaf. An unfiltered export
    must also hold every event its seals list, and re-hash to each seal's root."""
    trusted = _trusted(extra_keys)
    report = Report(0)
    complete = False
    pending: list[dict[str, Any]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            report.add("unreadable_line", f"line {number} is not JSON", line=number)
            break
        kind = line.get("type") if isinstance(line, dict) else None
        if kind == "header":
            complete = not line.get("filters")
            report.org_key = line.get("org_id") or 0
        elif kind == "event":
            report.events += 1
            full = ledger.leaf(line)
            if full.hex() != line.get("leaf"):
                report.add(
                    "changed_row",
                    f"event {line.get('id')}'s fields no longer hash to its leaf",
                    event_id=line.get("id"),
                    occurred_at=line.get("occurred_at"),
                    line=number,
                )
            pending.append({"id": line.get("id"), "leaf": full, "at": line.get("occurred_at")})
        elif kind == "seal":
            report.seals += 1
            _check_exported_seal(line, pending, trusted, complete, report)
            pending = []
        else:
            report.add("unreadable_line", f"line {number} is not a header, event or seal")
        if len(report.problems) >= MAX_PROBLEMS:
            break
    report.unsealed = len(pending)
    return report.as_dict()


def _check_exported_seal(
    line: dict[str, Any],
    events: list[dict[str, Any]],
    trusted: dict[str, Any],
    complete: bool,
    report: Report,
) -> None:
    seq = line.get("seq")
    where = {"seal": seq, "sealed_at": line.get("sealed_at")}
    try:
        manifest = base64.b64decode(line["manifest"])
        signature = base64.b64decode(line["signature"])
        body = seal_body_of(line)
    except (KeyError, ValueError):
        report.add("seal_edited", f"seal {seq} is incomplete or malformed", **where)
        return
    key = trusted.get(line["key"])
    if key is None:
        report.add(
            "seal_untrusted_key", f"seal {seq} is signed by unknown key {line['key']}", **where
        )
        return
    if not ledger.signature_ok(key, body, signature) or line.get("hash") != ledger.seal_hash(
        body, signature
    ):
        report.add("seal_edited", f"seal {seq} does not match its signature", **where)
        return
    if hashlib.sha256(manifest).hexdigest() != line["manifest_sha256"]:
        report.add("seal_edited", f"seal {seq}'s manifest was changed", **where)
        return
    listed = list(ledger.manifest_decode(manifest))
    if complete:
        rows = [(e["id"], e["leaf"], e["leaf"].hex(), e["at"], 0) for e in events]
        compare(seq, listed, rows, line["root"], report)
        return
    prefixes = dict(listed)
    for e in events:
        expected = prefixes.get(e["id"])
        if expected is None:
            report.add(
                "inserted_row",
                f"event {e['id']} is not listed in seal {seq}",
                event_id=e["id"],
                occurred_at=e["at"],
                **where,
            )
        elif expected != e["leaf"][: ledger.PREFIX_BYTES]:
            report.add(
                "changed_row",
                f"event {e['id']} does not hash to its leaf in seal {seq}",
                event_id=e["id"],
                occurred_at=e["at"],
                **where,
            )


def verify_file(lines: Iterable[str], extra_keys: Iterable[str] = ()) -> dict[str, Any]:
    """An export (it starts with a header line) or what a SIEM received from an audit stream
    (event and seal records, in any order, duplicates allowed)."""
    iterator = iter(lines)
    first = next((text for text in iterator if text.strip()), "")
    rest = [first, *iterator] if first else []
    try:
        is_export = json.loads(first).get("type") == "header"
    except (ValueError, AttributeError):
        is_export = True  # the export's reader names the unreadable line
    if is_export:
        return verify_export(rest, extra_keys)
    return verify_stream(rest, extra_keys)


def _trusted(extra_keys: Iterable[str]) -> dict[str, Any]:
    trusted = dict(ledger.keys().trusted)
    for text in extra_keys:
        public = ledger.public_from_text(text, "--public-key")
        trusted[ledger.key_id_of(public)] = public
    return trusted


def verify_stream(lines: Iterable[str], extra_keys: Iterable[str] = ()) -> dict[str, Any]:
    """What an audit stream delivered (siem), checked where it landed: each seal head's
    signature and hash, the chain from one head to the next (a missing head is named), each
    event's fields against its leaf, and each event against its seal's signed root, by its
    inclusion proof (filtered streams) or, when the stream sent the whole seal, by rebuilding
    the root from every event at its position (a dropped event is named by its position).
    Records may come in any order and more than once (delivery is at least once)."""
    trusted = _trusted(extra_keys)
    report = Report(0)
    seals: dict[int, dict[str, Any]] = {}
    events: dict[int, dict[int, dict[str, Any]]] = {}  # seal seq -> position -> record
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
            kind = record.get("type")
        except (ValueError, AttributeError):
            report.add("unreadable_line", f"line {number} is not a JSON object", line=number)
            continue
        if kind == "seal":
            seq = record.get("seq")
            if not isinstance(seq, int):
                report.add("unreadable_line", f"line {number} is a seal without a number")
                continue
            if seq in seals and seals[seq].get("hash") != record.get("hash"):
                report.add("seal_edited", f"seal {seq} arrived twice, differently", seal=seq)
            seals.setdefault(seq, record)
        elif kind == "event":
            _stream_event(record, number, events, report)
        elif kind != "test":
            report.add("unreadable_line", f"line {number} is not an event or a seal", line=number)
    previous: dict[str, Any] | None = None
    for seq in sorted(seals):
        seal = seals[seq]
        report.seals += 1
        report.org_key = report.org_key or seal.get("org") or 0
        if _stream_seal_ok(seal, previous, trusted, report):
            _stream_seal_events(seal, events.pop(seq, {}), report)
        else:
            events.pop(seq, None)
        previous = seal
    for seq, orphans in events.items():
        report.unsealed += len(orphans)
        first = min(orphans)
        report.add(
            "seal_missing",
            f"events of seal {seq} arrived but its seal head did not",
            seal=seq,
            event_id=orphans[first].get("id"),
        )
    return report.as_dict()


def _stream_event(
    record: dict[str, Any],
    number: int,
    events: dict[int, dict[int, dict[str, Any]]],
    report: Report,
) -> None:
    place = record.get("seal")
    if not isinstance(place, dict) or not isinstance(place.get("index"), int):
        report.add("unreadable_line", f"line {number} names no seal position", line=number)
        return
    bucket = events.setdefault(place.get("seq"), {})
    earlier = bucket.get(place["index"])
    if earlier is None:
        bucket[place["index"]] = record
        report.events += 1
    elif _leaf_or_none(earlier) != _leaf_or_none(record) or earlier.get("id") != record.get("id"):
        report.add(
            "changed_row",
            f"event {record.get('id')} arrived twice, differently",
            event_id=record.get("id"),
            seal=place.get("seq"),
            line=number,
        )


def _leaf_or_none(record: dict[str, Any]) -> bytes | None:
    try:
        return ledger.leaf(record)
    except (TypeError, ValueError, AttributeError):
        return None


def _stream_seal_ok(
    seal: dict[str, Any],
    previous: dict[str, Any] | None,
    trusted: dict[str, Any],
    report: Report,
) -> bool:
    seq = seal["seq"]
    where = {"seal": seq, "sealed_at": seal.get("sealed_at")}
    try:
        body = seal_body_of(seal)
        signature = base64.b64decode(seal["signature"])
    except (KeyError, ValueError, TypeError):
        report.add("seal_edited", f"seal {seq} is incomplete or malformed", **where)
        return False
    key = trusted.get(seal["key"])
    if key is None:
        report.add("seal_untrusted_key", f"seal {seq} is signed by unknown key {seal['key']}")
        return False
    if not ledger.signature_ok(key, body, signature) or seal.get("hash") != ledger.seal_hash(
        body, signature
    ):
        report.add("seal_edited", f"seal {seq} does not match its signature", **where)
        return False
    if previous is not None:
        if previous["seq"] != seq - 1:
            report.add(
                "seal_missing",
                f"seals {previous['seq'] + 1} to {seq - 1} did not arrive",
                seal=previous["seq"] + 1,
            )
        elif seal["prev"] != previous.get("hash"):
            report.add("seal_edited", f"seal {seq} does not chain to seal {seq - 1}", **where)
            return False
    return True


def _stream_seal_events(
    seal: dict[str, Any], received: dict[int, dict[str, Any]], report: Report
) -> None:
    seq, count, root = seal["seq"], seal["count"], bytes.fromhex(seal["root"])
    sent = (seal.get("stream") or {}).get("sent")
    leaves: dict[int, bytes] = {}
    for index in sorted(received):
        record = received[index]
        try:
            full = ledger.leaf(record)
        except (TypeError, ValueError, AttributeError):
            full = b""  # a field of the wrong type or shape: it cannot be the event sealed
        where = {
            "seal": seq,
            "event_id": record.get("id"),
            "occurred_at": record.get("occurred_at"),
        }
        if full.hex() != record.get("leaf") or not 0 <= index < count:
            report.add("changed_row", f"event {record.get('id')} was changed", **where)
            continue
        proof = record["seal"].get("proof")
        if proof is not None:
            try:
                path = [bytes.fromhex(p) for p in proof]
            except (TypeError, ValueError):
                path = []
            if ledger.root_from_path(full, index, count, path) != root:
                report.add("changed_row", f"event {record.get('id')} is not in seal {seq}", **where)
                continue
        leaves[index] = full
    if sent != count:
        return  # a filtered stream: each event stands on its proof
    missing = [i for i in range(count) if i not in leaves]
    if missing:
        report.add(
            "deleted_row",
            f"{len(missing)} of seal {seq}'s {count} events did not arrive "
            f"(first at position {missing[0]})",
            seal=seq,
            position=missing[0],
        )
    elif ledger.merkle_root(leaves[i] for i in range(count)) != root:
        report.add("changed_row", f"the events of seal {seq} do not hash to its root", seal=seq)
