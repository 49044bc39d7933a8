"""Schedules: an agent or workflow run on a cron expression in a time zone, as a named member.
Changing one needs `schedules.manage` and access to the agent or workflow; at every firing the
run-as member's right to run it is decided again, and a refusal is recorded as a denied run
(audited) instead of a run. Celery beat fires due schedules every minute."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor, SystemActor, describe_actor
from core.exceptions import NotFound, ValidationFailed
from orgs.models import Membership
from workspace.choices import RunTrigger
from workspace.decisions import Question, decide
from workspace.models import Agent, Governed, Schedule
from workspace.services.guard import require
from workspace.services.runs import run_open, run_record_denied


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"{name!r} is not a time zone (use an IANA name such as Europe/Paris).",
            field="time_zone",
        ) from exc


def next_run(cron: str, zone: str, after: datetime) -> datetime:
    """The next firing after `after`, computed in the schedule's time zone, in UTC."""
    if not isinstance(cron, str) or len(cron) > 100 or len(cron.split()) != 5:
        raise ValidationFailed(
            "cron must have five fields: minute hour day-of-month month day-of-week "
            '(e.g. "0 9 * * 1-5").',
            field="cron",
        )
    if not croniter.is_valid(cron):
        raise ValidationFailed(f"{cron!r} is not a valid cron expression.", field="cron")
    local = after.astimezone(_zone(zone))
    return croniter(cron, local).get_next(datetime).astimezone(ZoneInfo("UTC"))


def _resource(obj: Governed) -> tuple[str, int]:
    return ("agent" if isinstance(obj, Agent) else "workflow", obj.pk)


def schedule_create(
    *,
    resource: Governed,
    cron: str,
    time_zone: str = "UTC",
    run_as: Membership,
    actor: Actor | None,
) -> Schedule:
    org = resource.org
    kind, pk = _resource(resource)
    require(org=org, actor=actor, action="schedule.manage")
    require(org=org, actor=actor, action=f"{kind}.view", resource=(kind, pk))
    if run_as.org_id != org.pk:
        raise NotFound("No such member in this organization.", field="run_as")
    with transaction.atomic():
        first = next_run(cron, time_zone, timezone.now())
        schedule = Schedule.objects.create(
            org=org,
            agent=resource if kind == "agent" else None,
            workflow=resource if kind == "workflow" else None,
            cron=cron.strip(),
            time_zone=time_zone,
            run_as=run_as,
            next_run_at=first,
            created_by=describe_actor(actor)[2][:300],
        )
        audit_record(
            action=AuditAction.SCHEDULE_CREATED,
            org=org,
            actor=actor,
            target=schedule,
            data={
                "new": {
                    kind: resource.name,
                    "cron": schedule.cron,
                    "time_zone": time_zone,
                    "run_as": run_as.user.email,
                    "next_run_at": first.isoformat(),
                }
            },
        )
        return schedule


def schedule_update(*, schedule: Schedule, actor: Actor | None, **changes: Any) -> Schedule:
    """Change cron, time_zone, enabled (the next firing is computed again)."""
    require(org=schedule.org, actor=actor, action="schedule.manage")
    unknown = set(changes) - {"cron", "time_zone", "enabled"}
    if unknown:
        raise ValidationFailed(f"Schedules have no field {sorted(unknown)[0]!r}.")
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update(of=("self",)).get(pk=schedule.pk)
        old = {k: getattr(schedule, k) for k in changes}
        for key, value in changes.items():
            if key == "enabled" and not isinstance(value, bool):
                raise ValidationFailed("enabled must be true or false.", field="enabled")
            setattr(schedule, key, value)
        schedule.next_run_at = next_run(schedule.cron, schedule.time_zone, timezone.now())
        schedule.save()
        audit_record(
            action=AuditAction.SCHEDULE_UPDATED,
            org=schedule.org,
            actor=actor,
            target=schedule,
            data={"old": old, "new": {k: getattr(schedule, k) for k in changes}},
        )
        return schedule


def schedule_delete(*, schedule: Schedule, actor: Actor | None) -> None:
    require(org=schedule.org, actor=actor, action="schedule.manage")
    with transaction.atomic():
        audit_record(
            action=AuditAction.SCHEDULE_DELETED,
            org=schedule.org,
            actor=actor,
            target=schedule,
            data={"old": {"cron": schedule.cron, "time_zone": schedule.time_zone}},
        )
        schedule.delete()


def schedules_fire(now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Celery beat, every minute: each due schedule fires once (rows locked with SKIP LOCKED,
    so two workers never fire the same one). The run-as member's right to run the agent or
    workflow is decided now: allowed opens a run (trigger "schedule"), refused records a denied
    run. Then the next firing is computed."""
    now = now or timezone.now()
    actor = SystemActor("schedule")
    counts = {"fired": 0, "denied": 0}
    due = list(
        Schedule.objects.filter(enabled=True, next_run_at__lte=now)
        .order_by("next_run_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        with transaction.atomic():
            schedule = (
                Schedule.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("org", "agent", "workflow", "run_as__user")
                .filter(pk=pk, enabled=True, next_run_at__lte=now)
                .first()
            )
            if schedule is None:
                continue
            resource = schedule.agent or schedule.workflow
            kind, rpk = _resource(resource)
            action = "agent.run" if kind == "agent" else "workflow.execute"
            decision = decide(
                schedule.org, Question(schedule.run_as_id, action, resource=(kind, rpk))
            )
            if decision.allowed:
                run = run_open(
                    org=schedule.org,
                    member=schedule.run_as,
                    resource=resource,
                    trigger=RunTrigger.SCHEDULE,
                    actor=actor,
                )
                counts["fired"] += 1
            else:
                run = run_record_denied(
                    org=schedule.org,
                    member=schedule.run_as,
                    resource=resource,
                    trigger=RunTrigger.SCHEDULE,
                    reasons=decision.reasons,
                    actor=actor,
                )
                counts["denied"] += 1
            schedule.last_fired_at = now
            schedule.last_run = run
            schedule.next_run_at = next_run(schedule.cron, schedule.time_zone, now)
            schedule.save(update_fields=["last_fired_at", "last_run", "next_run_at"])
    return counts
