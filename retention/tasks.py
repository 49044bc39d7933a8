"""Celery beat: enforcement once a day (GOVERNANCE_RETENTION_AT, UTC), and an hourly check that
raises the alert when an organization's enforcement has not completed for two days."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from orgs.models import Organization
from retention.engine import enforce
from retention.monitor import overdue_check


@shared_task(name="retention.tasks.retention_enforce", ignore_result=True)
def retention_enforce() -> dict[str, Any]:
    return enforce()


@shared_task(name="retention.tasks.retention_enforce_org", ignore_result=True)
def retention_enforce_org(org_id: int) -> dict[str, Any]:
    """Run now, from the page, for one organization."""
    org = Organization.objects.filter(pk=org_id).first()
    return enforce(org=org) if org is not None else {}


@shared_task(name="retention.tasks.retention_overdue_check", ignore_result=True)
def retention_overdue_check() -> list[str]:
    return overdue_check()
