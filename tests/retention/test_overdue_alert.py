"""When enforcement has not completed for two intervals, the page shows a red alert and one
`retention.overdue` audit event is written per streak; a completed run clears it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.celery import app
from orgs.models import Organization
from retention.engine import enforce
from retention.models import RetentionRun
from retention.monitor import overdue_check
from tests.conftest import audit_count

pytestmark = pytest.mark.django_db


def test_overdue_alert_once_per_streak_and_cleared_by_a_run(admin_client, org):
    assert overdue_check() == []  # a new organization is not overdue
    Organization.objects.filter(pk=org.pk).update(created_at=timezone.now() - timedelta(days=3))
    assert overdue_check() == ["acme"]
    assert overdue_check() == []  # the same streak: no second event
    assert audit_count(action="retention.overdue") == 1
    assert (
        'id="retention-alert"' in admin_client.get("/o/acme/settings/retention/").content.decode()
    )
    enforce(org=org)
    assert (
        'id="retention-alert"'
        not in admin_client.get("/o/acme/settings/retention/").content.decode()
    )
    overdue_check()
    RetentionRun.objects.filter(org=org).update(finished_at=timezone.now() - timedelta(days=3))
    assert overdue_check() == ["acme"]  # a new streak
    assert audit_count(action="retention.overdue") == 2


def test_beat_runs_enforcement_daily_and_the_check_hourly():
    entries = {e["task"]: e["schedule"] for e in app.conf.beat_schedule.values()}
    daily = entries["retention.tasks.retention_enforce"]
    assert daily.hour == {2} and daily.minute == {30}
    assert "retention.tasks.retention_overdue_check" in entries
