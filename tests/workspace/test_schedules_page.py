"""The Schedules page: with schedules.manage, add, pause and delete (through the services,
audited); without it, only the schedules that run as you, and no form; bad input is refused."""

from __future__ import annotations

import pytest
from django.test import Client

from workspace.models import Schedule

pytestmark = pytest.mark.django_db


def client_for(membership):
    c = Client()
    c.force_login(membership.user)
    return c


def test_an_admin_schedules_pauses_and_deletes(world):
    admin = client_for(world["admin"])
    r = admin.post(
        "/o/acme/schedules/new/",
        {
            "resource": f"agent:{world['agent'].pk}",
            "cron": "0 9 * * 1-5",
            "time_zone": "Europe/Paris",
            "run_as": "consumer@acme.example",
        },
        follow=True,
    )
    assert "Scheduled: next run" in r.content.decode()
    schedule = Schedule.objects.get()
    assert schedule.run_as == world["consumer"] and schedule.time_zone == "Europe/Paris"
    admin.post(f"/o/acme/schedules/{schedule.pk}/toggle/")
    schedule.refresh_from_db()
    assert not schedule.enabled
    admin.post(f"/o/acme/schedules/{schedule.pk}/delete/")
    assert not Schedule.objects.exists()


def test_without_the_capability_you_see_your_own_and_cannot_add(world):
    client_for(world["admin"]).post(
        "/o/acme/schedules/new/",
        {
            "resource": f"agent:{world['agent'].pk}",
            "cron": "0 9 * * *",
            "run_as": "consumer@acme.example",
        },
    )
    consumer = client_for(world["consumer"])
    page = consumer.get("/o/acme/schedules/").content.decode()
    assert "consumer@acme.example" in page and "New schedule" not in page
    r = consumer.post(
        "/o/acme/schedules/new/",
        {
            "resource": f"agent:{world['agent'].pk}",
            "cron": "* * * * *",
            "run_as": "consumer@acme.example",
        },
        follow=True,
    )
    assert "schedule.manage refused" in r.content.decode()
    assert Schedule.objects.count() == 1
    assert (
        "consumer@acme.example"
        not in client_for(world["outsider"]).get("/o/acme/schedules/").content.decode()
    )


def test_a_bad_cron_is_refused(world):
    r = client_for(world["admin"]).post(
        "/o/acme/schedules/new/",
        {
            "resource": f"agent:{world['agent'].pk}",
            "cron": "every day",
            "run_as": "consumer@acme.example",
        },
        follow=True,
    )
    assert "cron must have five fields" in r.content.decode()
    assert not Schedule.objects.exists()
