"""What Celery beat runs, and that every scheduled task name is a registered task (a typo would
schedule nothing, silently)."""

from __future__ import annotations

from celery.schedules import crontab

from governance.celery import app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, f"{name}: {entry['task']} is not a registered task"


def test_domains_are_rechecked_daily():
    entry = app.conf.beat_schedule["domains-recheck"]
    assert entry["task"] == "orgs.tasks.domains_recheck"
    assert entry["schedule"] == crontab(minute=10, hour=4)
