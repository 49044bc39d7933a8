"""The Runs page filters by agent, workflow, team, member, status, trigger and time (paging keeps
the filters), and reports a filter it cannot read; an agent or workflow can be deleted from its
page by whoever may (confirmation, audit with its schedules, runs kept), and by nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from tests.conftest import assert_audited
from workspace.models import Agent, Run, Schedule
from workspace.services.resources import resource_create
from workspace.services.runs import run_open
from workspace.services.schedules import schedule_create

pytestmark = pytest.mark.django_db


def client_for(membership):
    c = Client()
    c.force_login(membership.user)
    return c


def _ids(html: str) -> set[int]:
    return {int(part.split("<")[0]) for part in html.split('">#')[1:]}


@pytest.fixture
def runs(world):
    data_agent = resource_create(
        org=world["org"],
        kind="agent",
        fields={"name": "Warehouse", "integrations": ["slack"], "team": world["data"]},
        actor=None,
    )
    made = {
        "support_consumer": run_open(
            org=world["org"],
            member=world["consumer"],
            resource=world["agent"],
            trigger="web",
            actor=None,
        ),
        "support_builder": run_open(
            org=world["org"],
            member=world["builder"],
            resource=world["agent"],
            trigger="api",
            actor=None,
        ),
        "data_outsider": run_open(
            org=world["org"],
            member=world["outsider"],
            resource=data_agent,
            trigger="slack",
            actor=None,
        ),
    }
    old = made["support_builder"]
    Run.objects.filter(pk=old.pk).update(
        started_at=timezone.now() - timedelta(days=10), status="failed"
    )
    return {k: v.pk for k, v in made.items()} | {"data_agent": data_agent.pk}


def test_each_filter_narrows_the_list(world, runs):
    admin = client_for(world["admin"])

    def listed(query: str) -> set[int]:
        r = admin.get("/o/acme/runs/?" + query)
        assert r.status_code == 200
        return _ids(r.content.decode())

    everything = {v for k, v in runs.items() if k != "data_agent"}
    assert listed("") == everything
    assert listed(f"agent={world['agent'].pk}") == {
        runs["support_consumer"],
        runs["support_builder"],
    }
    assert listed(f"team={world['data'].pk}") == {runs["data_outsider"]}
    assert listed("member=CONSUMER@") == {runs["support_consumer"]}
    assert listed("status=failed") == {runs["support_builder"]}
    assert listed("trigger=slack") == {runs["data_outsider"]}
    today = timezone.now().date()
    assert runs["support_builder"] not in listed(f"since={today - timedelta(days=1)}")
    assert listed(f"until={today - timedelta(days=5)}") == {runs["support_builder"]}
    assert listed(f"until={today}") == everything  # a bare date means the whole day
    assert listed(f"agent={world['agent'].pk}&trigger=web") == {runs["support_consumer"]}


def test_an_unreadable_filter_is_reported_not_guessed(world, runs):
    r = client_for(world["admin"]).get("/o/acme/runs/?status=exploded&since=yesterday&team=x")
    html = r.content.decode()
    assert r.status_code == 200
    assert "status must be one of" in html and "since is an ISO date" in html
    assert "team is an id" in html


def test_filters_never_widen_what_a_member_may_see(world, runs):
    consumer = client_for(world["consumer"])
    assert runs["data_outsider"] not in _ids(
        consumer.get(f"/o/acme/runs/?agent={runs['data_agent']}").content.decode()
    )
    assert _ids(consumer.get(f"/o/acme/runs/?team={world['data'].pk}").content.decode()) == set()


def test_paging_keeps_the_filters(world):
    for _ in range(51):
        run_open(
            org=world["org"],
            member=world["consumer"],
            resource=world["agent"],
            trigger="web",
            actor=None,
        )
    html = client_for(world["admin"]).get("/o/acme/runs/?trigger=web&status=running").content
    assert b'href="?trigger=web&amp;status=running&amp;page=2"' in html


def test_the_agent_page_links_to_its_runs(world, runs):
    html = client_for(world["admin"]).get(f"/o/acme/agents/{world['agent'].pk}/").content
    assert f'href="/o/acme/runs/?agent={world["agent"].pk}"'.encode() in html


def test_an_owner_deletes_with_confirmation_and_the_trail_keeps_everything(world, runs):
    agent = world["agent"]
    schedule = schedule_create(
        resource=agent,
        cron="0 9 * * 1-5",
        time_zone="Europe/Paris",
        run_as=world["consumer"],
        actor=None,
    )
    admin = client_for(world["admin"])
    page = admin.get(f"/o/acme/agents/{agent.pk}/").content.decode()
    assert page.count('id="delete-form"') == 1
    assert "<title>Support triage · governance</title>" in page
    assert "data-confirm=" in page.split('id="delete-form"')[1][:300]
    r = admin.post(f"/o/acme/agents/{agent.pk}/delete/")
    assert r.status_code == 302 and r["Location"] == "/o/acme/agents/"
    assert not Agent.objects.filter(pk=agent.pk).exists()
    assert not Schedule.objects.filter(pk=schedule.pk).exists()
    event = assert_audited("agent.deleted", org=world["org"], target_id=str(agent.pk))
    assert event.data["old"]["name"] == "Support triage"
    assert event.data["schedules_removed"] == 1
    assert_audited("schedule.deleted", org=world["org"], target_id=str(schedule.pk))
    kept = Run.objects.get(pk=runs["support_consumer"])
    assert kept.agent_id is None and kept.resource_name == "Support triage"
    assert admin.get(f"/o/acme/runs/{kept.pk}/").status_code == 200


@pytest.mark.parametrize("who", ["builder", "consumer", "outsider"])
def test_without_delete_rights_no_form_and_a_forged_post_is_refused_and_audited(world, who):
    agent = world["agent"]
    client = client_for(world[who])
    page = client.get(f"/o/acme/agents/{agent.pk}/")
    assert 'id="delete-form"' not in page.content.decode()
    before = AuditEvent.objects.filter(action="agent.deleted").count()
    r = client.post(f"/o/acme/agents/{agent.pk}/delete/")
    assert Agent.objects.filter(pk=agent.pk).exists()
    assert AuditEvent.objects.filter(action="agent.deleted").count() == before
    if who == "outsider":
        assert r.status_code in (302, 404)
    else:
        assert r.status_code == 302
        assert_audited("access.denied", org=world["org"], target_id=str(agent.pk))


def test_a_long_timeline_pages_by_sequence(world, monkeypatch):
    from workspace.services.runs import run_events_append
    from workspace.views import runs as run_pages

    monkeypatch.setattr(run_pages, "TIMELINE_PAGE", 3)
    run = run_open(
        org=world["org"],
        member=world["consumer"],
        resource=world["agent"],
        trigger="web",
        actor=None,
    )
    run_events_append(
        run=run, events=[{"type": "log", "level": "info", "message": f"line {i}"} for i in range(5)]
    )
    consumer = client_for(world["consumer"])
    first = consumer.get(f"/o/acme/runs/{run.pk}/").content.decode()
    assert "line 2" in first and "line 3" not in first and 'href="?after=3"' in first
    rest = consumer.get(f"/o/acme/runs/{run.pk}/?after=3").content.decode()
    assert "line 3" in rest and "line 4" in rest and "line 0" not in rest
    assert 'id="later-events"' not in rest
