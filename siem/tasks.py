"""Celery: beat looks for due audit streams every 10 seconds and queues each one's delivery;
a delivery holds its stream's lease, so a second queued one for the same stream skips."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from siem.delivery import deliver, due


@shared_task(name="siem.tasks.audit_streams_due", ignore_result=True)
def audit_streams_due() -> list[int]:
    ids = due()
    for stream_id in ids:
        audit_stream_deliver.delay(stream_id)
    return ids


@shared_task(name="siem.tasks.audit_stream_deliver", ignore_result=True)
def audit_stream_deliver(stream_id: int) -> dict[str, Any]:
    return deliver(stream_id)
