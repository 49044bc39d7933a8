"""The JSON shapes an event and a seal take outside this server: an export's lines
(auditlog.export) and an audit stream's records (siem) are the same objects, so one verifier
(`audit_verify --file`) reads both."""

from __future__ import annotations

import base64
from typing import Any

from audit import ledger
from audit.models import AuditSeal

EVENT_COLUMNS = ("id", *ledger.FIELDS, "leaf")


def event_record(values: dict[str, Any]) -> dict[str, Any]:
    """`{"type": "event", id, every hashed field, leaf}` from a row's values."""
    out: dict[str, Any] = {"type": "event"}
    for name in EVENT_COLUMNS:
        value = values[name]
        if name == "occurred_at":
            value = ledger._time(value)
        elif name == "ip":
            value = ledger._ip(value)
        out[name] = value
    return out


def seal_head(seal: AuditSeal) -> dict[str, Any]:
    """The seal's signed fields, signature and hash: enough to check the signature, the chain
    and (with the events) the root; not its manifest."""
    return {
        "type": "seal",
        "org": seal.org_key,
        "seq": seal.seq,
        "lo": seal.bound_lo,
        "hi": seal.bound_hi,
        "count": seal.count,
        "first_id": seal.first_id,
        "last_id": seal.last_id,
        "root": seal.root,
        "manifest_sha256": seal.manifest_sha256,
        "prev": seal.prev,
        "hash": seal.hash,
        "key": seal.key_id,
        "signature": base64.b64encode(bytes(seal.signature)).decode(),
        "sealed_at": ledger._time(seal.sealed_at),
    }


def seal_record(seal: AuditSeal) -> dict[str, Any]:
    """The head and the manifest (base64), for an export verified offline."""
    return {**seal_head(seal), "manifest": base64.b64encode(bytes(seal.manifest)).decode()}


def seal_body_of(line: dict[str, Any]) -> bytes:
    """The signed body a seal record claims (KeyError when a field is missing)."""
    return ledger.seal_body(
        {
            "v": 1,
            "org": line["org"],
            "seq": line["seq"],
            "lo": line["lo"],
            "hi": line["hi"],
            "count": line["count"],
            "first_id": line["first_id"],
            "last_id": line["last_id"],
            "root": line["root"],
            "manifest": line["manifest_sha256"],
            "prev": line["prev"],
            "sealed_at": line["sealed_at"],
            "key": line["key"],
        }
    )
