"""Celery tasks of the workspace: firing due schedules (beat, every minute)."""

from __future__ import annotations

from celery import shared_task

from workspace.services.schedules import schedules_fire


@shared_task(name="workspace.tasks.schedules_fire")
def schedules_fire_due() -> dict[str, int]:
    return schedules_fire()
