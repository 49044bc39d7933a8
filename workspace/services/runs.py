"""Runs, as the agent runtime reports them: opened (only when the decision function allows the
member to run the agent or workflow), fed with events in batches (log lines, tool calls and
their payloads), closed. Opening and closing are audited; events are data, not audit events."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import Conflict, PermissionDenied, ValidationFailed
from core.input import clean_line, parse_instant
from orgs.models import Membership, Organization
from orgs.rbac import INTEGRATIONS
from workspace.choices import (
    FINISHED,
    EventKind,
    PayloadDirection,
    RunStatus,
    RunTrigger,
)
from workspace.decisions import Question, decide
from workspace.models import Agent, Governed, Run, RunEvent, RunPayload, Workflow

MAX_EVENTS = 1000
MAX_PAYLOAD = 256 * 1024
INTEGRATION_SLUGS = {slug for slug, _ in INTEGRATIONS}


@dataclass(frozen=True)
class EventIn:
    kind: str
    at: Any = None
    level: str = ""
    message: str = ""
    integration: str = ""
    action: str = ""
    latency_ms: int | None = None
    outcome: str = ""
    input: str | None = None
    output: str | None = None


def zero_data_retention(run: Run) -> bool:
    """Whether the run's organization, agent or workflow keeps no content (one query)."""
    return (
        Run.objects.filter(pk=run.pk)
        .filter(
            Q(org__zero_data_retention=True)
            | Q(agent__zero_data_retention=True)
            | Q(workflow__zero_data_retention=True)
        )
        .exists()
    )


def _payload(
    run: Run, direction: str, content: Any, event: RunEvent | None = None, *, keep: bool = True
) -> RunPayload:
    """A payload row; with zero data retention (`keep` False) its content is never stored,
    only its size and SHA-256."""
    text = content if isinstance(content, str) else _json(content)
    if len(text.encode()) > MAX_PAYLOAD:
        raise ValidationFailed(
            f"A payload is {len(text.encode())} bytes; at most {MAX_PAYLOAD} are kept per payload."
        )
    data = text.encode()
    return RunPayload(
        run=run,
        event=event,
        direction=direction,
        content=text if keep else "",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def run_open(
    *,
    org: Organization,
    member: Membership,
    resource: Governed,
    trigger: str,
    input: Any = None,
    started_at: datetime | None = None,
    actor: Actor | None,
) -> Run:
    """Open a run when the member may run the agent (or execute the workflow) now; otherwise
    the attempt is audited as denied and PermissionDenied carries the reasons. `started_at`:
    when the runtime started it, if earlier than now (a backfill, the demo's history)."""
    if trigger not in RunTrigger.values:
        raise ValidationFailed(f"trigger must be one of {', '.join(RunTrigger.values)}.")
    kind = "agent" if isinstance(resource, Agent) else "workflow"
    action = "agent.run" if kind == "agent" else "workflow.execute"
    decision = decide(org, Question(member.pk, action, resource=(kind, resource.pk)))
    if not decision.allowed:
        with transaction.atomic():
            audit_record(
                action=AuditAction.ACCESS_DENIED,
                org=org,
                actor=actor,
                target=resource,
                data={"action": action, "member": member.user.email, "reasons": decision.reasons},
            )
        raise PermissionDenied(
            f"{action} refused: " + "; ".join(decision.reasons) + ".", reasons=decision.reasons
        )
    with transaction.atomic():
        run = Run.objects.create(
            org=org,
            agent=resource if kind == "agent" else None,
            workflow=resource if kind == "workflow" else None,
            resource_name=resource.name,
            team_id=resource.team_id,
            member=member,
            trigger=trigger,
            started_at=min(started_at, timezone.now()) if started_at else timezone.now(),
        )
        if input is not None:
            _payload(run, PayloadDirection.INPUT, input, keep=not zero_data_retention(run)).save()
        audit_record(
            action=AuditAction.RUN_STARTED,
            org=org,
            actor=actor,
            target=run,
            data={"new": {kind: resource.name, "member": member.user.email, "trigger": trigger}},
        )
        return run


def run_record_denied(
    *,
    org: Organization,
    member: Membership | None,
    resource: Governed,
    trigger: str,
    reasons: list[str],
    actor: Actor | None,
) -> Run:
    """A run that did not happen (a schedule's member may no longer run it), kept as such."""
    kind = "agent" if isinstance(resource, Agent) else "workflow"
    with transaction.atomic():
        now = timezone.now()
        run = Run.objects.create(
            org=org,
            agent=resource if kind == "agent" else None,
            workflow=resource if kind == "workflow" else None,
            resource_name=resource.name,
            team_id=resource.team_id,
            member=member,
            trigger=trigger,
            status=RunStatus.DENIED,
            started_at=now,
            ended_at=now,
            error="; ".join(reasons),
        )
        audit_record(
            action=AuditAction.ACCESS_DENIED,
            org=org,
            actor=actor,
            target=run,
            data={"action": f"{kind}.run", "reasons": reasons, "trigger": trigger},
        )
        return run


def _event(raw: Any, index: int) -> EventIn:
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{where} must be an object.")
    kind = raw.get("type")
    if kind not in EventKind.values:
        raise ValidationFailed(f"{where}.type must be log or tool_call.")
    at = None
    if raw.get("at") is not None:
        at = parse_instant(raw.get("at"))
        if at is None:
            raise ValidationFailed(f"{where}.at is not a date-time.")
    latency = raw.get("latency_ms")
    if latency is not None and (
        isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency < 2**31
    ):
        raise ValidationFailed(f"{where}.latency_ms must be a whole number of milliseconds.")
    integration = raw.get("integration") or ""
    if kind == EventKind.TOOL_CALL and integration not in INTEGRATION_SLUGS:
        raise ValidationFailed(f"{where}.integration must name a known integration.")
    text = {}
    for key, limit in (("level", 16), ("message", 2000), ("action", 100), ("outcome", 32)):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{where}.{key} must be a string.")
        text[key] = clean_line(value or "", field=key, what=f"{where}.{key}", max_length=limit)
    return EventIn(
        kind=kind,
        at=at,
        integration=integration,
        latency_ms=latency,
        input=raw.get("input"),
        output=raw.get("output"),
        **text,
    )


def run_events_append(*, run: Run, events: list[Any]) -> int:
    """Append up to MAX_EVENTS events in one transaction (bulk inserts); returns how many."""
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        raise ValidationFailed(f"events must be a list of 1 to {MAX_EVENTS} events.")
    parsed = [_event(e, i) for i, e in enumerate(events)]
    with transaction.atomic():
        locked = Run.objects.select_for_update(of=("self",)).get(pk=run.pk)
        if locked.status != RunStatus.RUNNING:
            raise Conflict(f"Run {run.pk} is {locked.status}; events go to a running run.")
        first = locked.events_count + 1
        rows = [
            RunEvent(
                run=locked,
                seq=first + i,
                at=e.at or timezone.now(),
                kind=e.kind,
                level=e.level,
                message=e.message,
                integration=e.integration,
                action=e.action,
                latency_ms=e.latency_ms,
                outcome=e.outcome,
            )
            for i, e in enumerate(parsed)
        ]
        created = RunEvent.objects.bulk_create(rows)
        payloads = []
        keep = not zero_data_retention(locked)
        for row, e in zip(created, parsed, strict=True):
            for direction, content in (
                (PayloadDirection.INPUT, e.input),
                (PayloadDirection.OUTPUT, e.output),
            ):
                if content is not None:
                    payloads.append(_payload(locked, direction, content, event=row, keep=keep))
        if payloads:
            RunPayload.objects.bulk_create(payloads)
        Run.objects.filter(pk=run.pk).update(events_count=F("events_count") + len(rows))
        return len(rows)


def run_close(
    *,
    run: Run,
    status: str,
    error: str = "",
    output: Any = None,
    ended_at: datetime | None = None,
    actor: Actor | None,
) -> Run:
    if status not in FINISHED:
        raise ValidationFailed(f"status must be one of {', '.join(FINISHED)}.")
    with transaction.atomic():
        run = Run.objects.select_for_update(of=("self",)).select_related("org").get(pk=run.pk)
        if run.status != RunStatus.RUNNING:
            raise Conflict(f"Run {run.pk} is already {run.status}.")
        run.status = status
        run.ended_at = max(min(ended_at or timezone.now(), timezone.now()), run.started_at)
        run.error = clean_line(error, field="error", what="error", max_length=2000)
        run.save(update_fields=["status", "ended_at", "error"])
        if output is not None:
            _payload(run, PayloadDirection.OUTPUT, output, keep=not zero_data_retention(run)).save()
        audit_record(
            action=AuditAction.RUN_FINISHED,
            org=run.org,
            actor=actor,
            target=run,
            data={
                "old": {"status": RunStatus.RUNNING},
                "new": {"status": status},
                "events": run.events_count,
                "seconds": round((run.ended_at - run.started_at).total_seconds(), 3),
            },
        )
        return run


def resource_of(org: Organization, kind: str, pk: int) -> Governed | None:
    model = Agent if kind == "agent" else Workflow
    return model.objects.filter(org=org, pk=pk).first()
