"""Celery tasks of organizations: the daily re-check of verified domains."""

from __future__ import annotations

from celery import shared_task

from orgs.services.domains import domains_recheck


@shared_task(name="orgs.tasks.domains_recheck")
def domains_recheck_daily() -> dict[str, int]:
    return domains_recheck()
