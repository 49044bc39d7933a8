"""The alert: an organization whose enforcement has not completed for two intervals (two days)
gets a red banner on its Data retention page and one `retention.overdue` audit event per
streak."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import SystemActor
from orgs.models import Organization
from retention.choices import RunState
from retention.models import RetentionPolicy, RetentionRun

INTERVAL = timedelta(days=1)


def last_completed(org: Organization) -> RetentionRun | None:
    return (
        RetentionRun.objects.filter(org=org, state=RunState.DONE).order_by("-finished_at").first()
    )


def is_overdue(org: Organization) -> bool:
    last = last_completed(org)
    since = last.finished_at if last else org.created_at
    return since is not None and timezone.now() - since > 2 * INTERVAL


def overdue_check() -> list[str]:
    flagged = []
    for org in Organization.objects.order_by("id"):
        with transaction.atomic():
            RetentionPolicy.objects.get_or_create(org=org)
            policy = RetentionPolicy.objects.select_for_update().get(org=org)
            if not is_overdue(org):
                if policy.overdue_since is not None:
                    policy.overdue_since = None
                    policy.save(update_fields=["overdue_since"])
                continue
            if policy.overdue_since is None:
                policy.overdue_since = timezone.now()
                policy.save(update_fields=["overdue_since"])
                last = last_completed(org)
                audit_record(
                    action=AuditAction.RETENTION_OVERDUE,
                    org=org,
                    actor=SystemActor("retention monitor"),
                    data={"last_completed": last.finished_at.isoformat() if last else None},
                )
                flagged.append(org.slug)
    return flagged
