"""Celery: every organization's trail verified each night, so its audit page always shows a
recent result (and a failure raises the alert without anyone asking)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from auditlog.services import verification_run
from core.actors import SystemActor
from orgs.models import Organization


@shared_task(name="auditlog.tasks.audit_verify_all", ignore_result=True)
def audit_verify_all() -> dict[str, Any]:
    actor = SystemActor("nightly audit verification")
    failed = []
    for org in Organization.objects.order_by("id").iterator():
        if not verification_run(org=org, actor=actor).ok:
            failed.append(org.slug)
    return {"failed": failed}


@shared_task(name="auditlog.tasks.audit_verify_org", ignore_result=True)
def audit_verify_org(org_id: int, user_id: int | None = None) -> None:
    """A verification someone asked for on the audit page (audited as theirs)."""
    from identity.models import User

    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        return
    user = User.objects.filter(pk=user_id).first() if user_id else None
    verification_run(org=org, actor=user or SystemActor("audit page"))
