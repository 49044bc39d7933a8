"""Schedules: cron in a time zone, run as a named member whose access is decided again at each
firing; a refused firing is recorded as a denied run instead of a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audit.models import AuditEvent
from core.exceptions import PermissionDenied, ValidationFailed
from orgs.services.assignments import team_member_remove
from workspace.models import Run, Schedule
from workspace.services.schedules import next_run, schedule_create, schedules_fire
from workspace.tasks import schedules_fire_due

pytestmark = pytest.mark.django_db


def test_next_run_follows_the_time_zone():
    after = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    # 09:00 in Paris (UTC+1 in winter) is 08:00 UTC.
    assert next_run("0 9 * * *", "Europe/Paris", after) == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert next_run("0 9 * * *", "America/New_York", after) == datetime(
        2026, 11, 29, 14, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("cron", "zone"), [("0 9 * *", "UTC"), ("61 * * * *", "UTC"), ("0 9 * * *", "Mars/Olympus")]
)
def test_bad_cron_or_zone_is_refused(world, cron, zone):
    with pytest.raises(ValidationFailed):
        schedule_create(
            resource=world["agent"],
            cron=cron,
            time_zone=zone,
            run_as=world["consumer"],
            actor=world["admin"].user,
        )
    assert not Schedule.objects.exists()


def test_managing_schedules_needs_the_capability(world):
    with pytest.raises(PermissionDenied, match=r"schedules\.manage"):
        schedule_create(
            resource=world["agent"],
            cron="* * * * *",
            run_as=world["consumer"],
            actor=world["consumer"].user,
        )
    assert AuditEvent.objects.filter(action="access.denied").count() == 1


def test_a_firing_decides_again_and_records_a_denied_run(world):
    schedule = schedule_create(
        resource=world["agent"],
        cron="*/5 * * * *",
        time_zone="Europe/Paris",
        run_as=world["consumer"],
        actor=world["admin"].user,
    )
    assert AuditEvent.objects.filter(action="schedule.created").count() == 1
    later = schedule.next_run_at + timedelta(seconds=1)
    assert schedules_fire(later) == {"fired": 1, "denied": 0}
    run = Run.objects.get()
    assert (
        run.trigger == "schedule"
        and run.status == "running"
        and run.member_id == world["consumer"].pk
    )
    # The run-as member leaves the owning team: the next firing is refused and recorded.
    team_member_remove(team=world["support"], membership=world["consumer"], actor=None)
    schedule.refresh_from_db()
    assert schedules_fire(schedule.next_run_at + timedelta(seconds=1)) == {"fired": 0, "denied": 1}
    denied = Run.objects.get(status="denied")
    assert "no access" in denied.error
    schedule.refresh_from_db()
    assert schedule.last_run == denied and schedule.next_run_at > later


def test_nothing_fires_before_it_is_due_and_beat_runs_the_task(world):
    schedule_create(
        resource=world["agent"],
        cron="0 3 * * *",
        run_as=world["consumer"],
        actor=world["admin"].user,
    )
    assert schedules_fire_due() == {"fired": 0, "denied": 0}
    assert not Run.objects.exists()
