"""Celery: revocations owed to Okta retried every minute (and attempted right after the
transaction that queued them), and every connection refreshed at least once a day so that Okta
does not expire an idle grant."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from credentials.revocations import revoke_due
from credentials.tokens import keepalive


@shared_task(name="credentials.tasks.revocations_attempt", ignore_result=True)
def revocations_attempt(ids: list[int]) -> dict[str, int]:
    return revoke_due(ids=ids)


@shared_task(name="credentials.tasks.revocations_due", ignore_result=True)
def revocations_due() -> dict[str, int]:
    return revoke_due()


@shared_task(name="credentials.tasks.connections_keepalive", ignore_result=True)
def connections_keepalive() -> dict[str, Any]:
    return keepalive()
