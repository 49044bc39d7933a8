"""Run data of every age, made through the runtime's own services, then dated back (what a
year of use leaves behind)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.workspace.conftest import world  # noqa: F401 (members, teams, an agent)
from workspace.models import RunPayload
from workspace.services.runs import run_close, run_events_append, run_open


def aged_run(member: Any, resource: Any, days: float, *, org: Any = None) -> Any:
    """A finished run started `days` ago: two log lines, a tool call with input and output,
    and the run's own input and output."""
    started = timezone.now() - timedelta(days=days)
    run = run_open(
        org=org or resource.org,
        member=member,
        resource=resource,
        trigger="api",
        input={"ask": f"run of {days} days ago"},
        started_at=started,
        actor=None,
    )
    at = started.isoformat()
    run_events_append(
        run=run,
        events=[
            {"type": "log", "at": at, "level": "info", "message": "started"},
            {
                "type": "tool_call",
                "at": at,
                "integration": "slack",
                "action": "post",
                "input": {"text": "secret customer data"},
                "output": {"ok": True},
            },
            {"type": "log", "at": at, "level": "info", "message": "done"},
        ],
    )
    run_close(run=run, status="succeeded", output={"answer": 42}, ended_at=started, actor=None)
    RunPayload.objects.filter(run=run).update(created_at=started)
    return run


def run_elsewhere(org: Any, days: float) -> Any:
    """A run like aged_run's in another organization (its own admin and agent)."""
    from orgs.models import Membership
    from orgs.services.members import membership_add
    from workspace.models import Agent
    from workspace.services.resources import resource_create

    member = (
        Membership.objects.filter(org=org).first()
        or membership_add(
            org=org, email=f"admin@{org.slug}.example", role="admin", full_name="", actor=None
        ).membership
    )
    agent = Agent.objects.filter(org=org).first() or resource_create(
        org=org, kind="agent", fields={"name": "Their agent"}, actor=None
    )
    return aged_run(member, agent, days)


@pytest.fixture
def aged(world):  # noqa: F811
    return lambda days, member=None, resource=None: aged_run(
        member or world["consumer"], resource or world["agent"], days
    )


@pytest.fixture(scope="session", autouse=True)
def month_partitions(django_db_setup, django_db_blocker):
    """On PostgreSQL, monthly partitions of runs and run events for the last three years (what
    the migration and the daily task leave on a server in use), so every retention test here
    also goes through the whole-month drops (retention.partitions); older rows land in the
    default partition and go row by row."""
    from core.partitions import ensure_months

    with django_db_blocker.unblock():
        now = timezone.now()
        for table in ("workspace_run", "workspace_runevent"):
            ensure_months(table, now - timedelta(days=3 * 366), now)
