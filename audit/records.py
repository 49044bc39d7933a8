"""The JSON shapes an event and a seal take outside this server: an export's lines
(auditlog.export) and an audit stream's records (siem) are the same objects, so one verifier
(`audit_verify --file`) reads both."""

from __future__ import annotations

import base64
from typing import Any

from audit import ledger
from audit.models import AuditSeal
from audit.sealing import seal_fields

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


# The seal's signed fields as a record names them (the body calls the manifest digest
# `manifest`; the record carries the manifest itself under that name in an export).
SIGNED = (
    "org",
    "seq",
    "lo",
    "hi",
    "count",
    "first_id",
    "last_id",
    "root",
    "prev",
    "sealed_at",
    "key",
)


def seal_head(seal: AuditSeal) -> dict[str, Any]:
    """The seal's signed fields, signature and hash: enough to check the signature, the chain
    and (with the events) the root; not its manifest."""
    fields = seal_fields(seal)
    return {
        "type": "seal",
        **{name: fields[name] for name in SIGNED},
        "manifest_sha256": seal.manifest_sha256,
        "hash": seal.hash,
        "signature": base64.b64encode(bytes(seal.signature)).decode(),
    }


def seal_record(seal: AuditSeal) -> dict[str, Any]:
    """The head and the manifest (base64), for an export verified offline."""
    return {**seal_head(seal), "manifest": base64.b64encode(bytes(seal.manifest)).decode()}


def seal_body_of(line: dict[str, Any]) -> bytes:
    """The signed body a seal record claims (KeyError when a field is missing)."""
    body = {"v": 1, **{name: line[name] for name in SIGNED}, "manifest": line["manifest_sha256"]}
    return ledger.seal_body(body)
