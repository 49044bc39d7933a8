"""Celery beat runs the sealer every 30 seconds (audit.sealing)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from audit.sealing import seal_all


@shared_task(name="audit.tasks.audit_seal", ignore_result=True)
def audit_seal() -> dict[str, Any]:
    return seal_all()
