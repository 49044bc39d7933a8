"""Audit streams: every change to a destination is audited in its own transaction. The webhook's
signing secret is made here and shown once; the HEC token is write-only; both are encrypted at
rest (core.crypto). Sending a test record happens outside any transaction (a slow collector
must not hold a lock) and its outcome is audited after."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import ledger
from audit.choices import OUTCOMES, AuditAction, actions_matching
from audit.models import AuditSeal
from audit.services import audit_record
from core import crypto, outbound
from core.actors import Actor
from core.exceptions import Conflict, ValidationFailed
from core.input import clean_block, clean_line, text_problem
from orgs.models import Organization
from siem.choices import Kind, Payload, Start
from siem.exceptions import DeliveryError
from siem.models import AuditStream
from siem.transports import hec_url, sender_for, split_hostport, tls_context

MAX_DESTINATIONS = 20  # per organization
TEST_ACK_TIMEOUT = 5  # seconds: a page's test send must answer well within a request's time
MAX_FILTER_ACTIONS = 100
MAX_CA_CHARS = 65_536
# What the audit trail shows of a destination (never its secret).
SHOWN = ("name", "kind", "endpoint", "payload", "hec_index", "hec_sourcetype", "actions", "outcome")


def _clean_endpoint(kind: str, value: object) -> str:
    endpoint = clean_line(value, field="endpoint", what="endpoint", max_length=500)
    if not endpoint:
        raise ValidationFailed(
            "The endpoint is required: host:port for syslog, an https:// URL otherwise.",
            field="endpoint",
        )
    reach = outbound.siem_reach()
    if kind == Kind.SYSLOG:
        host, port = split_hostport(endpoint)
        outbound.checked_addresses(host, port, what="syslog destination", reach=reach)
        return endpoint
    if kind == Kind.HEC:
        endpoint = hec_url(endpoint)
    outbound.server_fetch_check(endpoint, what=f"{Kind(kind).label} endpoint", reach=reach)
    return endpoint


def _clean_ca(value: object) -> str:
    pem = clean_block(value, field="ca_pem", what="CA certificate", max_length=MAX_CA_CHARS)
    if not pem:
        return ""
    try:
        x509.load_pem_x509_certificates(pem.encode())
        tls_context(pem)
    except (ValueError, OSError) as exc:
        raise ValidationFailed(
            f"The CA certificate is not PEM certificates ({str(exc)[:120]}); paste the "
            "-----BEGIN CERTIFICATE----- block(s).",
            field="ca_pem",
        ) from None
    return pem


def _clean_actions(value: object) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(a, str) for a in value):
        raise ValidationFailed("The action filter is a list of action names.", field="actions")
    if len(value) > MAX_FILTER_ACTIONS:
        raise ValidationFailed(
            f"The action filter has {len(value)} entries; at most {MAX_FILTER_ACTIONS}.",
            field="actions",
        )
    actions: list[str] = []
    for raw in value:
        action = raw.strip()
        if not action:
            continue
        if not actions_matching(action[:64]):
            raise ValidationFailed(
                f"Unknown action {action[:64]!r}: use a name from the catalog "
                "(GET /api/v1/audit-events/catalog/), or a prefix ending in a dot such as "
                "'scim.'.",
                field="actions",
            )
        if action not in actions:
            actions.append(action)
    return actions


def _clean_outcome(value: object) -> str:
    outcome = str(value or "")
    if outcome and outcome not in OUTCOMES:
        raise ValidationFailed(
            f"Unknown outcome {outcome[:32]!r}; use allowed, denied or failed (or nothing).",
            field="outcome",
        )
    return outcome


def _clean_token(value: object) -> str:
    token = str(value or "").strip()
    if len(token) > 500 or any(c.isspace() for c in token) or text_problem(token):
        raise ValidationFailed(
            "The HEC token is one word of at most 500 characters (Splunk shows it under "
            "Settings > Data inputs > HTTP Event Collector).",
            field="token",
        )
    return token


@dataclass
class Spec:
    """A destination's settings as an admin sends them (any door); `None` leaves a setting
    as it is on an update."""

    name: Any = None
    endpoint: Any = None
    payload: Any = None
    token: Any = None
    ca_pem: Any = None
    hec_index: Any = None
    hec_sourcetype: Any = None
    actions: Any = None
    outcome: Any = None


def _apply(destination: AuditStream, spec: Spec) -> list[str]:
    """Validates and sets what the spec names; returns the names of the fields it changed."""
    changed: list[str] = []

    def put(name: str, value: Any) -> None:
        if getattr(destination, name) != value:
            setattr(destination, name, value)
            changed.append(name)

    kind = destination.kind
    if spec.name is not None:
        name = clean_line(spec.name, field="name", what="name", max_length=100)
        if not name:
            raise ValidationFailed("Give the destination a name.", field="name")
        put("name", name)
    if spec.endpoint is not None:
        put("endpoint", _clean_endpoint(kind, spec.endpoint))
    if spec.payload is not None:
        payload = str(spec.payload or Payload.JSON)
        if payload not in Payload.values or (kind != Kind.SYSLOG and payload != Payload.JSON):
            raise ValidationFailed(
                "The payload is json or cef (cef for syslog only).", field="payload"
            )
        put("payload", payload)
    if spec.ca_pem is not None:
        put("ca_pem", _clean_ca(spec.ca_pem))
    if spec.actions is not None:
        put("actions", _clean_actions(spec.actions))
    if spec.outcome is not None:
        put("outcome", _clean_outcome(spec.outcome))
    if kind == Kind.HEC:
        if spec.hec_index is not None:
            put(
                "hec_index",
                clean_line(spec.hec_index, field="hec_index", what="index", max_length=100),
            )
        if spec.hec_sourcetype is not None:
            sourcetype = clean_line(
                spec.hec_sourcetype, field="hec_sourcetype", what="sourcetype", max_length=100
            )
            put("hec_sourcetype", sourcetype or "governance:audit")
        if spec.token not in (None, ""):
            token = _clean_token(spec.token)
            current = crypto.decrypt(destination.secret) if destination.secret else ""
            if token != current:
                destination.secret = crypto.encrypt(token)
                changed.append("token")
    return changed


def shown(destination: AuditStream) -> dict[str, Any]:
    return {name: getattr(destination, name) for name in SHOWN}


@transaction.atomic
def destination_create(
    *, org: Organization, actor: Actor | None, kind: str, start: str = Start.NOW, spec: Spec
) -> tuple[AuditStream, str]:
    """A new destination; returns it and, for a webhook, its signing secret (shown once)."""
    if kind not in Kind.values:
        raise ValidationFailed("The kind is syslog, webhook or hec.", field="kind")
    if start not in Start.values:
        raise ValidationFailed("Start is now or beginning.", field="start")
    Organization.objects.select_for_update().filter(pk=org.pk).first()  # one create at a time
    if AuditStream.objects.filter(org=org).count() >= MAX_DESTINATIONS:
        raise Conflict(f"An organization has at most {MAX_DESTINATIONS} audit streams.")
    destination = AuditStream(org=org, kind=kind, hec_channel=str(uuid.uuid4()))
    if spec.endpoint is None:
        spec.endpoint = ""
    if spec.name is None:
        spec.name = ""
    _apply(destination, spec)
    secret = ""
    if kind == Kind.WEBHOOK:
        secret = "whsec_" + secrets.token_urlsafe(32)
        destination.secret = crypto.encrypt(secret)
    elif kind == Kind.HEC and not destination.secret:
        raise ValidationFailed("The HEC token is required.", field="token")
    if start == Start.NOW:
        last = AuditSeal.objects.filter(org_key=org.pk).order_by("-seq").values("seq").first()
        destination.cursor_seq = last["seq"] if last else 0
    _save_unique(destination)
    audit_record(
        action=AuditAction.AUDIT_STREAM_CREATED,
        org=org,
        actor=actor,
        target=destination,
        data={"new": shown(destination), "start": start, "from_seal": destination.cursor_seq},
    )
    return destination, secret


def _save_unique(destination: AuditStream) -> None:
    destination.updated_at = timezone.now()
    try:
        with transaction.atomic():
            destination.save()
    except IntegrityError:
        raise Conflict(
            f"This organization already has an audit stream named {destination.name!r}.",
            field="name",
        ) from None


def _locked(destination: AuditStream) -> AuditStream:
    return AuditStream.objects.select_for_update().select_related("org").get(pk=destination.pk)


@transaction.atomic
def destination_update(*, destination: AuditStream, actor: Actor | None, spec: Spec) -> AuditStream:
    destination = _locked(destination)
    before = shown(destination)
    changed = _apply(destination, spec)
    if not changed:
        return destination
    _save_unique(destination)
    after = shown(destination)
    data: dict[str, Any] = {
        "old": {k: before[k] for k in changed if k in before},
        "new": {k: after[k] for k in changed if k in after},
    }
    if "token" in changed:
        data["token_changed"] = True
    audit_record(
        action=AuditAction.AUDIT_STREAM_UPDATED,
        org=destination.org,
        actor=actor,
        target=destination,
        data=data,
    )
    return destination


def destination_pause(*, destination: AuditStream, actor: Actor | None) -> AuditStream:
    """Delivery stops (a running one at its next batch); the cursor waits where it is."""
    return _set_paused(destination, True, actor)


def destination_resume(*, destination: AuditStream, actor: Actor | None) -> AuditStream:
    """Delivery continues from the cursor, at once (any backoff is forgotten)."""
    return _set_paused(destination, False, actor)


@transaction.atomic
def _set_paused(destination: AuditStream, paused: bool, actor: Actor | None) -> AuditStream:
    destination = _locked(destination)
    if destination.paused == paused:
        return destination
    destination.paused = paused
    destination.lease_owner, destination.lease_until = "", None
    destination.failures = 0
    destination.next_attempt_at = destination.updated_at = timezone.now()
    destination.save(
        update_fields=[
            "paused",
            "lease_owner",
            "lease_until",
            "failures",
            "next_attempt_at",
            "updated_at",
        ]
    )
    audit_record(
        action=AuditAction.AUDIT_STREAM_PAUSED if paused else AuditAction.AUDIT_STREAM_RESUMED,
        org=destination.org,
        actor=actor,
        target=destination,
        data={"cursor": {"seal": destination.cursor_seq, "offset": destination.cursor_offset}},
    )
    return destination


@transaction.atomic
def destination_delete(*, destination: AuditStream, actor: Actor | None) -> None:
    destination = _locked(destination)
    audit_record(
        action=AuditAction.AUDIT_STREAM_DELETED,
        org=destination.org,
        actor=actor,
        target=destination,
        data={"old": shown(destination), "delivered": destination.delivered},
    )
    destination.delete()


@transaction.atomic
def destination_rotate_secret(
    *, destination: AuditStream, actor: Actor | None
) -> tuple[AuditStream, str]:
    """A new webhook signing secret (shown once); the old one stops signing at once."""
    destination = _locked(destination)
    if destination.kind != Kind.WEBHOOK:
        raise ValidationFailed("Only a webhook has a signing secret to rotate.", field="kind")
    secret = "whsec_" + secrets.token_urlsafe(32)
    destination.secret = crypto.encrypt(secret)
    destination.updated_at = timezone.now()
    destination.save(update_fields=["secret", "updated_at"])
    audit_record(
        action=AuditAction.AUDIT_STREAM_SECRET_ROTATED,
        org=destination.org,
        actor=actor,
        target=destination,
        data={},
    )
    return destination, secret


def destination_test(*, destination: AuditStream, actor: Actor | None) -> tuple[bool, str]:
    """Sends one test record now (not an audit event: a SIEM rule can drop `"type": "test"`)
    and audits the outcome. Returns (delivered, what happened)."""
    record = {
        "type": "test",
        "organization": destination.org.slug,
        "destination": destination.name,
        "sent_at": ledger._time(timezone.now()),
        "message": "Test record from governance: the audit stream reaches this destination.",
    }
    try:
        sender_for(destination, ack_timeout=TEST_ACK_TIMEOUT)([record])
        ok, message = True, f"The test record was delivered to {destination.endpoint}."
    except DeliveryError as exc:
        ok, message = False, exc.message
    with transaction.atomic():
        audit_record(
            action=AuditAction.AUDIT_STREAM_TESTED if ok else AuditAction.AUDIT_STREAM_TEST_FAILED,
            org=destination.org,
            actor=actor,
            target=destination,
            data={"endpoint": destination.endpoint, **({} if ok else {"error": message[:500]})},
        )
    return ok, message
