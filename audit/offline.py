"""Offline verification, with no database: what left the server and came back, checked
against the seals it carries. `manage.py audit_verify --file` reads either a JSON Lines export
(auditlog.export: it starts with a header) or what an audit stream delivered to a SIEM (siem:
event and seal records in any order, duplicates allowed)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from audit import ledger
from audit.records import seal_body_of
from audit.verification import MAX_PROBLEMS, Report, compare


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
